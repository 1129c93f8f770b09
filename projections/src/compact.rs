//! Compaction: bounding state without changing any view derivable from it, now or after any
//! further events. Each rule drops only what is dead for good.
//!
//! Two rules rest on an assumption about lateness rather than on the lattice alone: no record
//! about a client (or a room) arrives more than the tombstone retention (a day by default:
//! Kinesis keeps records for a day) behind that client's (or room's) newest event. Under it, a
//! closed session and a `Left` membership a day older than that can be forgotten, since no
//! write they would have to overrule can still come. The cut is each entity's own, not the
//! whole stream's, so one client's far-ahead clock, or an old archive folded after a new one,
//! forgets nothing of the others. For sessions it also takes AWS's own behaviour: a session's
//! events come before its disconnect, so only closed sessions are forgotten (see
//! `session::compact`); a made-up stream that reuses a session id a day after its disconnect
//! would see the disconnect forgotten. The property test `projections/tests/forgetting.rs` folds
//! realistic timelines over many retentions, with every record up to a retention late, and
//! checks that no view and no delivery changes.

use crate::key::Key;
use crate::lattice::{Lww, Membership};
use crate::vecmap::VecMap;
use crate::world::World;

/// Compacts the entry for `key` in place, and returns how many pieces of state (sessions,
/// memberships, connections, watchers) it keeps, which is what compacting it again will walk;
/// `None` if it is not loaded.
pub(crate) fn entry(world: &mut World, key: &Key) -> Option<usize> {
    let now = world.watermark();
    // Only the numbers: cloning the whole config would copy the topic pattern for every entry.
    let (horizon, retention, max_age) = (
        world.config.reset_horizon_ms,
        world.config.tombstone_retention_ms,
        world.config.connection_max_age_ms,
    );
    let kept = &world.kept;
    match key {
        Key::Client(id) => {
            let c = world.clients.get_mut(id.as_str())?;
            crate::session::compact(&mut c.sessions, horizon, retention);
            // An expired connection is dead in every copy of this entry, so no writer's older
            // copy can bring it back live; a late record about it brings back a closed summary
            // from its own `conn#` entry. A merely closed one stays until it expires.
            c.connections.retain(|_, s| !s.is_expired(now, max_age));
            if !kept.contains(id.as_str()) {
                forget_left(&mut c.rooms, world.config.forget_before(c.updated_at));
            }
            Some(c.sessions.len() + c.connections.len() + c.rooms.len())
        }
        Key::Connection(id) => {
            let c = world.conns.get_mut(id.as_str())?;
            if c.summary.is_dead(now, max_age) {
                c.watching = None;
            }
            let client = c.summary.client_id.as_deref();
            if client.is_none_or(|client| !kept.contains(client)) {
                forget_left(&mut c.rooms, world.config.forget_before(c.last_ts));
            }
            Some(1 + c.rooms.len())
        }
        Key::Room(id) => {
            let room = world.rooms.get_mut(id.as_str())?;
            let forget_before = world.config.forget_before(room.updated_at);
            let members = &mut room.members;
            members.retain(|client, m| {
                m.value.is_joined() || m.ts >= forget_before || kept.contains(client.as_str())
            });
            // A room outlives most of its members: give back the table's emptied room.
            if members.capacity() > 2 * members.len() + 16 {
                members.shrink_to_fit();
            }
            Some(members.len())
        }
        Key::Device(id) => {
            let conns = &world.conns;
            let d = world.devices.get_mut(id.as_str())?;
            // Only drop what a loaded connection proves stale for good: closed or expired, or a
            // newer list without the device. The loaded copy may be older than this entry (its
            // writer's commit still landing), so its not watching the device proves nothing.
            // A complete world holds every connection it has not forgotten as dead.
            let complete = world.complete;
            d.watchers
                .retain(|conn, listed_at| match conns.get(conn.as_str()) {
                    Some(c) => {
                        !c.summary.is_dead(now, max_age) && !c.stopped_watching(id, *listed_at)
                    }
                    None => !complete,
                });
            Some(d.watchers.len())
        }
        Key::Lobby => {
            let lobby = world.lobby.as_mut()?;
            // As for a client's connections: every shard's writer joins this entry.
            lobby.connections.retain(|_, s| !s.is_expired(now, max_age));
            Some(lobby.connections.len())
        }
        Key::Watermark => world.watermark.map(|_| 0),
    }
}

/// Forgets `Left` memberships written before `forget_before`. A `Left` register only matters to
/// overrule an older `Joined` write, and under the lateness assumption none can arrive any more:
/// not from the stream, and not from a connection's own copy either, since syncing a connection
/// skips registers this old (`fold::resync_membership`). Without this, a client's every room ever
/// left would stay on the client and on the room for good.
fn forget_left(rooms: &mut VecMap<Lww<Membership>>, forget_before: u64) {
    rooms.retain(|_, m| m.value.is_joined() || m.ts >= forget_before);
}
