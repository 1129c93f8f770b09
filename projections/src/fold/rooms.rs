//! Membership writes: each goes to both its client and its room, and a connection's memberships
//! are copied into its client and rooms again when the connection is synced.

use crate::id::Lookup;
use crate::lattice::{Lww, Membership};
use crate::parts::Via;
use crate::world::World;

/// Merges a membership write for (room, client) into both the room and the client.
pub(crate) fn membership(
    world: &mut World,
    room: &str,
    client_id: &str,
    write: &Lww<Membership>,
    ts: u64,
) {
    world
        .client_mut(client_id, ts)
        .record_membership(room, write);
    room_member(world, room, client_id, write, Via::Join);
}

/// A connection's membership copied into its client and room again (`World::sync_connection`).
/// Each side skips a write older than it can still forget: that write reached it when it was
/// made, or when the connection's `$connect` named the client (no later than the write), and
/// copying it again could bring back a `Joined` that a `Left` since forgotten had overruled.
/// `client_cut` is the client's, taken before this sync moved its newest event.
pub(crate) fn resync_membership(
    world: &mut World,
    room: &str,
    client_id: &str,
    write: &Lww<Membership>,
    client_cut: u64,
    ts: u64,
) {
    if write.ts >= client_cut {
        world
            .client_mut(client_id, ts)
            .record_membership(room, write);
    }
    let room_cut = world
        .rooms
        .get(room)
        .map_or(0, |r| world.config.forget_before(r.updated_at));
    if write.ts >= room_cut {
        room_member(world, room, client_id, write, Via::Join);
    }
}

/// The room's side of a membership write: the member is written only if this changed it.
fn room_member(world: &mut World, room: &str, client_id: &str, write: &Lww<Membership>, via: Via) {
    let state = world.rooms.entry_ref(&Lookup(room)).or_default();
    if state.add(client_id, write) {
        if let Some(register) = state.member(client_id).cloned() {
            world.mark_member(room, client_id, via, &register);
        }
    }
}
