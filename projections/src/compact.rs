//! Compaction: bounding state without changing any view derivable from it, now or after any
//! further events. Each rule drops only what is dead for good.

use crate::key::{Entry, Key};
use crate::world::World;

/// Compacts the entry for `key` in place and returns a copy, or `None` if it is not loaded.
pub(crate) fn entry(world: &mut World, key: &Key) -> Option<Entry> {
    let now = world.watermark();
    // Only the numbers: cloning the whole config would copy the topic pattern for every entry.
    let (horizon, retention, max_age) = (
        world.config.reset_horizon_ms,
        world.config.tombstone_retention_ms,
        world.config.connection_max_age_ms,
    );
    match key {
        Key::Client(id) => {
            let c = world.clients.get_mut(id.as_str())?;
            crate::session::compact(&mut c.sessions, horizon, retention);
            // A dead connection stays dead; its own `conn#` entry remembers it, so a late record
            // about it brings back a closed summary, never a live one.
            c.connections.retain(|_, s| !s.is_dead(now, max_age));
            Some(Entry::Client(c.clone()))
        }
        Key::Connection(id) => {
            let c = world.conns.get_mut(id.as_str())?;
            if c.summary.is_dead(now, max_age) {
                c.watching = None;
            }
            Some(Entry::Connection(c.clone()))
        }
        Key::Room(id) => Some(Entry::Room(world.rooms.get(id.as_str())?.clone())),
        Key::Device(id) => {
            let conns = &world.conns;
            let d = world.devices.get_mut(id.as_str())?;
            // Only drop what a loaded connection proves stale; the connection is the truth.
            d.watchers.retain(|conn, _| match conns.get(conn.as_str()) {
                Some(c) => !c.summary.is_dead(now, max_age) && c.watches(id),
                None => true,
            });
            Some(Entry::Device(d.clone()))
        }
        Key::Lobby => {
            let lobby = world.lobby.as_mut()?;
            lobby.connections.retain(|_, s| !s.is_dead(now, max_age));
            Some(Entry::Lobby(lobby.clone()))
        }
        Key::Watermark => Some(Entry::Watermark(world.watermark?)),
    }
}
