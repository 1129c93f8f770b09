//! What a partial world changed since it last handed out its changes ([`World::take_dirty`]):
//! the bookkeeping the fold does as it changes entries, and the list of keys it becomes.

use crate::client::{ConnSummary, Listed};
use crate::history::Message;
use crate::id::{Id, Lookup, Set};
use crate::key::Key;
use crate::lattice::{Lww, Membership};
use crate::parts::{Parts, Via};
use crate::world::World;
use crate::ClientState;

/// Which entries changed since the last [`World::take_dirty`]. Clients, changed by every
/// lifecycle event, are listed once each by a flag in their entry (`ClientState::listed`);
/// the other kinds in per-kind sets of ids, checked by `&str`, allocating only the first time a
/// key changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dirty {
    /// Clients, each once: an entry listed here has its `listed` flag set.
    clients: Vec<Id>,
    conns: Set,
    /// Room members, connections of the lobby and watchers, with their values, in a world
    /// whose store writes them apart ([`World::parts_apart`]).
    pub(crate) parts: Parts,
    /// Rooms, devices and the lobby changed, in a world whose store keeps them whole: listing
    /// each whole once costs less than capturing every part, which such a store would only
    /// join back into its whole.
    rooms: Set,
    histories: Set,
    devices: Set,
    lobby: bool,
    watermark: bool,
    pending: Set,
}

impl Dirty {
    /// See [`World::mark_in_lobby`]: here, so that a caller holding the lobby can call it.
    pub(crate) fn in_lobby(
        &mut self,
        complete: bool,
        parts_apart: bool,
        connection_id: &str,
        summary: &ConnSummary,
    ) {
        if complete {
            return;
        }
        if parts_apart {
            self.parts.in_lobby(connection_id, summary);
        } else {
            self.lobby = true;
        }
    }
}

/// Adds `id` to `set`, allocating only if it is not there yet.
pub(crate) fn mark(set: &mut Set, id: &str) {
    set.get_or_insert_with(id, |s: &str| Id::from(s));
}

impl World {
    pub(crate) fn client_mut(&mut self, client_id: &str, ts: u64) -> &mut ClientState {
        let client = self.clients.entry_ref(&Lookup(client_id)).or_default();
        if !self.complete && !client.listed.0 {
            client.listed.0 = true;
            self.dirty.clients.push(client_id.into());
        }
        client.updated_at = client.updated_at.max(ts);
        client.seen = true;
        client
    }

    /// [`World::client_mut`] for a record AWS stamped at `ts` (a lifecycle event).
    pub(crate) fn client_stamped(&mut self, client_id: &str, ts: u64) -> &mut ClientState {
        let client = self.client_mut(client_id, ts);
        client.stamped_at = client.stamped_at.max(ts);
        client
    }

    /// [`World::client_stamped`] for an event of one of the client's sessions, which says the
    /// client was there at `ts`.
    pub(crate) fn client_seen(&mut self, client_id: &str, ts: u64) -> &mut ClientState {
        let client = self.client_stamped(client_id, ts);
        client.last_seen = client.last_seen.max(ts);
        client
    }

    /// Records on `device`'s client entry that a connection watching it may be live until
    /// `until` (`ClientState::watched_until`).
    pub(crate) fn mark_watched(&mut self, device: &str, until: u64) {
        if self
            .clients
            .get(device)
            .is_some_and(|c| c.watched_until >= until)
        {
            return;
        }
        self.client_listed(device).watched_until = until;
    }

    /// `client_id`'s entry, listed as changed, for a change that is no event about the client:
    /// it moves neither `seen` nor `updated_at`.
    pub(crate) fn client_listed(&mut self, client_id: &str) -> &mut ClientState {
        let client = self.clients.entry_ref(&Lookup(client_id)).or_default();
        if !self.complete && !client.listed.0 {
            client.listed.0 = true;
            self.dirty.clients.push(client_id.into());
        }
        client
    }

    pub(crate) fn mark_conn(&mut self, id: &str) {
        if !self.complete {
            mark(&mut self.dirty.conns, id);
        }
    }

    /// Lists a room member to write, with its register now; in a world whose store keeps rooms
    /// whole, the room.
    pub(crate) fn mark_member(
        &mut self,
        room: &str,
        client: &str,
        via: Via,
        register: &Lww<Membership>,
    ) {
        if self.complete {
            return;
        }
        if self.parts_apart {
            self.dirty.parts.member(room, client, via, register);
        } else {
            mark(&mut self.dirty.rooms, room);
        }
    }

    /// Lists a connection of the lobby to write, with its summary now; in a world whose store
    /// keeps the lobby whole, the lobby.
    pub(crate) fn mark_in_lobby(&mut self, connection_id: &str, summary: &ConnSummary) {
        self.dirty
            .in_lobby(self.complete, self.parts_apart, connection_id, summary);
    }

    /// Lists a device's watcher to write, with when it last listed the device; in a world whose
    /// store keeps devices whole, the device.
    pub(crate) fn mark_watcher(&mut self, device: &str, connection: &str, listed_at: u64) {
        if self.complete {
            return;
        }
        if self.parts_apart {
            self.dirty.parts.watcher(device, connection, listed_at);
        } else {
            mark(&mut self.dirty.devices, device);
        }
    }

    /// Lists a message added to a room's history; in a world whose store keeps histories
    /// whole, the history.
    pub(crate) fn mark_message(&mut self, room: &str, message: &Message) {
        if self.complete {
            return;
        }
        if self.parts_apart {
            self.dirty.parts.message(room, message);
        } else {
            mark(&mut self.dirty.histories, room);
        }
    }

    /// The keys of the entries changed since the last call, in key order, forgetting them:
    /// [`World::take_dirty`] compacts what this lists.
    pub(crate) fn take_changed(&mut self) -> Vec<Key> {
        let dirty = std::mem::take(&mut self.dirty);
        for id in &dirty.clients {
            if let Some(client) = self.clients.get_mut(id.as_str()) {
                client.listed = Listed::default();
            }
        }
        // Each kind's ids in order, kinds in `Key`'s order: the keys come out sorted without
        // sorting them whole.
        let sorted = |mut ids: Vec<Id>| {
            ids.sort_unstable();
            ids.into_iter().map(String::from)
        };
        let mut keys: Vec<Key> = dirty.parts.keys();
        keys.extend(sorted(dirty.clients).map(Key::Client));
        keys.extend(sorted(dirty.conns.into_iter().collect()).map(Key::Connection));
        keys.extend(sorted(dirty.rooms.into_iter().collect()).map(Key::Room));
        keys.extend(
            sorted(dirty.histories.into_iter().collect())
                .map(|room| Key::History { room, since: 0 }),
        );
        keys.extend(sorted(dirty.devices.into_iter().collect()).map(Key::Device));
        if dirty.lobby {
            keys.push(Key::Lobby);
        }
        self.parts = dirty.parts;
        if dirty.watermark {
            keys.push(Key::Watermark);
        }
        keys.extend(sorted(dirty.pending.into_iter().collect()).map(Key::Pending));
        debug_assert!(keys.is_sorted());
        keys
    }

    /// Lists a shard's pending list as changed.
    pub(crate) fn mark_pending(&mut self, shard: &str) {
        if !self.complete {
            mark(&mut self.dirty.pending, shard);
        }
    }

    /// Lists the watermark as changed, when the store keeps one.
    pub(crate) fn mark_watermark(&mut self) {
        self.dirty.watermark = !self.clock_from_entries;
    }
}
