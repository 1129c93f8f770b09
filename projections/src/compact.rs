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
//! `presence::compact`); a made-up stream that reuses a session id a day after its disconnect
//! would see the disconnect forgotten. The property test `projections/tests/forgetting.rs` folds
//! realistic timelines over many retentions, with every record up to a retention late, and
//! checks that no view and no delivery changes.

use crate::key::Key;
use crate::lattice::{Lww, Membership};
use crate::membership::Earlier;
use crate::vecmap::VecMap;
use crate::world::World;

impl World {
    /// The keys of the entries changed since the last call, compacted, in key order: what the
    /// batch protocol writes ([`crate::batch`]). A caller reads the entries themselves from the
    /// world ([`World::entry_ref`], [`World::entry`]), on as many threads as it likes.
    ///
    /// The room of a changed member, or the lobby of a changed connection, is compacted whole
    /// (if loaded) once: a store that keeps them whole writes the compacted entry
    /// ([`Key::whole`]). The part's own value, captured when it changed, is written whatever
    /// compaction forgets.
    pub fn take_dirty(&mut self) -> Vec<Key> {
        let mut keys = self.take_changed();
        let mut compacted: Option<Key> = None;
        keys.retain(|key| {
            if key.is_part() {
                let whole = key.whole();
                if compacted.as_ref() != Some(&whole) {
                    entry(self, &whole);
                    compacted = Some(whole);
                }
            }
            entry(self, key).is_some()
        });
        keys
    }

    /// Compacts every entry (see `compact`); the derived views do not change. Returns how many
    /// pieces of state (sessions, memberships, connections, watchers) the world keeps, which is
    /// what the next compaction will walk.
    pub fn compact_all(&mut self) -> usize {
        if self.complete {
            self.forget_dead_connections();
        }
        let keys: Vec<Key> = self.keys().collect();
        keys.iter().filter_map(|key| entry(self, key)).sum()
    }

    /// Forgets connections that ended (API Gateway closes every connection within its two-hour
    /// maximum) a retention before the watermark: a stream of WebSocket clients opens
    /// connections without end, and a world that kept every one would grow with the stream. Only
    /// a complete world may: in a partial one, a missing entry means "not loaded", and the store
    /// keeps it.
    ///
    /// No view can change, because no record of such a connection can still arrive: each is
    /// stamped within the connection's two hours, and none arrives more than a retention late.
    /// The client and the lobby dropped the connection's summary when it died (`compact`), and
    /// its rooms were copied into the client when they were written.
    fn forget_dead_connections(&mut self) {
        let max_age = self.config.connection_max_age_ms;
        let forget_before = self.config.forget_before(self.watermark());
        self.conns.retain(|_, c| {
            let born = c.summary.connected_at.0.unwrap_or(c.last_ts);
            born.saturating_add(max_age) >= forget_before
        });
    }
}

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
            crate::presence::compact(&mut c.sessions, horizon, retention);
            // An expired connection is dead in every copy of this entry, so no writer's older
            // copy can bring it back live; a late record about it brings back a closed summary
            // from its own `conn#` entry. A merely closed one stays until it expires.
            c.connections.retain(|_, s| !s.is_expired(now, max_age));
            let cut =
                (!kept.contains(id.as_str())).then(|| world.config.forget_before(c.updated_at));
            let memberships = memberships(&mut c.rooms, &mut c.earlier, cut);
            Some(c.sessions.len() + c.connections.len() + memberships)
        }
        Key::Connection(id) => {
            let c = world.conns.get_mut(id.as_str())?;
            if c.summary.is_dead(now, max_age) {
                c.watching = None;
            }
            let client = c.summary.client_id.as_deref();
            let cut = client
                .is_none_or(|client| !kept.contains(client))
                .then(|| world.config.forget_before(c.last_ts));
            Some(1 + memberships(&mut c.rooms, &mut c.earlier, cut))
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
        // A member is one register, with nothing to forget: a left one a retention old is
        // forgotten with its room, and a store that keeps members apart expires it. A message
        // is forgotten with its history, or expired by its store.
        Key::Member { .. }
        | Key::Subscriber { .. }
        | Key::InLobby(_)
        | Key::Watcher { .. }
        | Key::Message { .. } => world.entry_ref(key).map(|_| 1),
        Key::History { room, .. } => {
            let config = &world.config;
            Some(world.histories.get_mut(room.as_str())?.bound(config))
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
        Key::Pending(shard) => world.pending.get(shard.as_str()).map(|p| p.dues.len()),
    }
}

/// Forgets, with a `cut` (a retention before the entry's newest event), the `Left` registers
/// written before it, and the earlier writes no longer needed (`membership::forget`). Returns
/// how many registers and earlier writes remain.
///
/// A `Left` register only matters to overrule an older `Joined` write, and under the lateness
/// assumption none can arrive any more: not from the stream, and not from a connection's own copy
/// either, since syncing a connection skips registers this old (`fold::rooms::resync_membership`).
/// Without this, a client's every room ever left would stay on the client and on the room for good.
fn memberships(
    rooms: &mut VecMap<Lww<Membership>>,
    earlier: &mut VecMap<Earlier>,
    cut: Option<u64>,
) -> usize {
    if let Some(cut) = cut {
        rooms.retain(|_, m| m.value.is_joined() || m.ts >= cut);
        crate::membership::forget(rooms, earlier, cut);
    }
    rooms.len() + earlier.values().map(Earlier::len).sum::<usize>()
}
