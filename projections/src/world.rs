//! [`World`]: the projections, cut into keyed entries, and the fold over them.
//!
//! A world is either *complete* ([`World::in_memory`]: it holds everything there is, as in replay
//! and tests) or *partial* ([`World::new`]: backed by a store). A partial world asks for the
//! entries a record needs ([`World::needs`]), the caller loads them ([`World::load`]), and after
//! folding a batch hands back the changed ones ([`World::take_dirty`]) to write. The batch
//! protocol ([`crate::batch`]) drives this in every process.

use crate::client::{ConnSummary, Listed};
use crate::key::{Entry, EntryRef, Key};
use crate::lattice::Merge;
use crate::session;
use crate::view::ClientProjection;
use crate::{ClientState, Config, ConnectionState, DeviceState, LobbyState, RoomState};
use rustc_hash::FxBuildHasher;
use schemas::{Action, Record};

/// A map keyed by id, with a fast hasher; `entry_ref` allocates the key only on insert.
///
/// Keys are [`Id`]s: an id of up to 24 bytes (client, connection and room ids usually are) sits
/// in the bucket itself, so finding it compares bytes already in cache instead of following a
/// pointer to the heap. The fold is bound by such cache misses: a lifecycle event looks up its
/// client, its rooms and their members.
pub type Map<V> = hashbrown::HashMap<Id, V, FxBuildHasher>;
/// A set of ids, with the same hasher and inline keys as [`Map`].
pub type Set = hashbrown::HashSet<Id, FxBuildHasher>;

/// An id as a map key: a string stored inline when short.
pub type Id = compact_str::CompactString;

/// The projections of every client, connection, room and device a stream has mentioned.
#[derive(Debug, Clone)]
pub struct World {
    pub(crate) config: Config,
    pub(crate) complete: bool,
    pub(crate) clients: Map<ClientState>,
    pub(crate) conns: Map<ConnectionState>,
    pub(crate) rooms: Map<RoomState>,
    pub(crate) devices: Map<DeviceState>,
    pub(crate) lobby: Option<LobbyState>,
    pub(crate) watermark: Option<u64>,
    dirty: Dirty,
    /// Clients whose `Left` memberships compaction must keep: see [`World::keep_history_of`].
    pub(crate) kept: Set,
}

/// Which entries changed since the last [`World::take_dirty`]. Clients, changed by every
/// lifecycle event, are listed once each by a flag in their entry (`ClientState::listed`);
/// the other kinds in per-kind sets of ids, checked by `&str`, allocating only the first time a
/// key changes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dirty {
    /// Clients, each once: an entry listed here has its `listed` flag set.
    clients: Vec<Id>,
    conns: Set,
    rooms: Set,
    devices: Set,
    lobby: bool,
    watermark: bool,
}

/// Joins every entry of `theirs` into `mine`, moving those `mine` lacks.
fn join_into<V: Merge>(mine: &mut Map<V>, theirs: Map<V>) {
    for (id, entry) in theirs {
        match mine.entry(id) {
            hashbrown::hash_map::Entry::Occupied(mut slot) => slot.get_mut().join(&entry),
            hashbrown::hash_map::Entry::Vacant(slot) => {
                slot.insert(entry);
            }
        }
    }
}

/// An id to look up in a [`Map`] or [`Set`]: it hashes as the stored [`Id`] does, and compares
/// with [`short_eq`](crate::inline_str::short_eq) instead of the `memcmp` call of `str`
/// equality: the fold's hottest lookups (a client, a room, a room's member) compare ids of a
/// dozen bytes, once or twice each.
#[derive(Clone, Copy)]
pub(crate) struct Lookup<'a>(pub(crate) &'a str);

impl std::hash::Hash for Lookup<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `Id` hashes: as its `str`.
        self.0.hash(state);
    }
}

impl hashbrown::Equivalent<Id> for Lookup<'_> {
    fn equivalent(&self, key: &Id) -> bool {
        crate::inline_str::short_eq(self.0.as_bytes(), key.as_bytes())
    }
}

impl From<&Lookup<'_>> for Id {
    fn from(id: &Lookup<'_>) -> Id {
        Id::from(id.0)
    }
}

fn mark(set: &mut Set, id: &str) {
    set.get_or_insert_with(id, |s: &str| Id::from(s));
}

impl World {
    /// A partial world, backed by a store: see [`World::needs`].
    pub fn new(config: Config) -> Self {
        World {
            config,
            complete: false,
            clients: Map::default(),
            conns: Map::default(),
            rooms: Map::default(),
            devices: Map::default(),
            lobby: None,
            watermark: None,
            dirty: Dirty::default(),
            kept: Set::default(),
        }
    }

    /// A complete world: it holds everything there is, so it never needs loading.
    pub fn in_memory(config: Config) -> Self {
        World {
            complete: true,
            lobby: Some(LobbyState::default()),
            watermark: Some(0),
            ..World::new(config)
        }
    }

    /// The fold's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The newest event time folded: the fold's notion of now (time comes only from events).
    pub fn watermark(&self) -> u64 {
        self.watermark.unwrap_or(0)
    }

    /// Tells compaction to keep every `Left` membership of `client_id`, however old.
    ///
    /// For a world that folds only part of a stream, as each of replay's two threads does: a
    /// `Left` register here may have to overrule an older `Joined` one that the other part
    /// holds, and only the joined world can tell. Whoever splits the stream keeps each client's
    /// memberships in one part where it can, and calls this for the clients it cannot.
    pub fn keep_history_of(&mut self, client_id: &str) {
        mark(&mut self.kept, client_id);
    }

    /// Undoes every [`World::keep_history_of`]: this world holds every part of the stream again.
    pub fn release_history(&mut self) {
        self.kept = Set::default();
    }

    /// Whether the entry for `key` is loaded (always true in a complete world).
    pub fn has(&self, key: &Key) -> bool {
        self.complete
            || match key {
                Key::Client(id) => self.clients.contains_key(id.as_str()),
                Key::Connection(id) => self.conns.contains_key(id.as_str()),
                Key::Room(id) => self.rooms.contains_key(id.as_str()),
                Key::Device(id) => self.devices.contains_key(id.as_str()),
                Key::Lobby => self.lobby.is_some(),
                Key::Watermark => self.watermark.is_some(),
            }
    }

    /// The keys, not yet loaded, that folding `record` reads. Some depend on loaded entries
    /// (a connection's client, a room's members, a device's watchers), so call again after
    /// loading until it returns nothing. A complete world never needs anything.
    pub fn needs(&self, record: &Record) -> Vec<Key> {
        if self.complete {
            return Vec::new();
        }
        // Lifecycle events are most of the stream, and a batch asks about each twice (bulk
        // prefetch, then just before applying): answer "nothing" without allocating when we can.
        if let Record::Lifecycle(e) = record {
            if self.lifecycle_loaded(e) {
                return Vec::new();
            }
        }
        let mut want = vec![Key::Watermark];
        match record {
            Record::Lifecycle(e) => {
                want.push(Key::Client(e.client_id().to_owned()));
                if let schemas::Lifecycle::Subscribed(s) | schemas::Lifecycle::Unsubscribed(s) = e {
                    let rooms = s
                        .topics
                        .iter()
                        .filter_map(|t| self.config.chat_topic.room_of(t));
                    want.extend(rooms.map(|r| Key::Room(r.to_owned())));
                }
            }
            Record::WebSocket(ws) => {
                want.extend([Key::Connection(ws.connection_id.clone()), Key::Lobby]);
                // Every client `apply` may write: the one a `$connect` names, and the one the
                // connection already has (they differ only if records disagree; max wins).
                if ws.event_type == schemas::WsEventType::Connect {
                    if let Some(client) = ws.resolved_client_id() {
                        want.push(Key::Client(client.to_owned()));
                    }
                }
                if let Some(client) = self.client_of(&ws.connection_id) {
                    want.push(Key::Client(client));
                }
                want.extend(self.rooms_of(&ws.connection_id));
                match ws.action() {
                    Action::SendMessage {
                        chat_id: Some(room),
                        ..
                    } => {
                        if let Some(state) = self.rooms.get(room.as_str()) {
                            want.extend(state.joined().map(|m| Key::Client(m.to_owned())));
                        }
                        want.push(Key::Room(room));
                    }
                    Action::SetNotifyList { devices } => {
                        want.extend(devices.into_iter().map(Key::Device))
                    }
                    Action::Join { chat_id } | Action::Leave { chat_id } => {
                        want.push(Key::Room(chat_id))
                    }
                    _ => {}
                }
            }
            Record::Telemetry(t) => {
                if let Some(state) = self.devices.get(t.device_id.as_str()) {
                    want.extend(state.watchers.keys().map(|c| Key::Connection(c.clone())));
                }
                want.push(Key::Device(t.device_id.clone()));
            }
            Record::ConnectionGone(g) => {
                want.extend([Key::Connection(g.connection_id.clone()), Key::Lobby]);
                if let Some(client) = self.client_of(&g.connection_id) {
                    want.push(Key::Client(client));
                }
                want.extend(self.rooms_of(&g.connection_id));
            }
        }
        want.retain(|k| !self.has(k));
        want.sort();
        want.dedup();
        want
    }

    /// Whether everything a lifecycle event reads is loaded: the watermark, its client, and the
    /// rooms of its chat topics.
    fn lifecycle_loaded(&self, e: &schemas::Lifecycle) -> bool {
        let rooms_loaded = match e {
            schemas::Lifecycle::Subscribed(s) | schemas::Lifecycle::Unsubscribed(s) => {
                s.topics.iter().all(|t| {
                    self.config
                        .chat_topic
                        .room_of(t)
                        .is_none_or(|r| self.rooms.contains_key(r))
                })
            }
            _ => true,
        };
        rooms_loaded && self.watermark.is_some() && self.clients.contains_key(e.client_id())
    }

    /// Syncing a connection writes its rooms' memberships, so those rooms must be loaded.
    fn rooms_of(&self, connection_id: &str) -> Vec<Key> {
        let rooms = self.conns.get(connection_id).map(|c| c.rooms.keys());
        rooms
            .into_iter()
            .flatten()
            .map(|r| Key::Room(r.to_owned()))
            .collect()
    }

    fn client_of(&self, connection_id: &str) -> Option<String> {
        self.conns
            .get(connection_id)
            .and_then(|c| c.summary.client_id.clone())
    }

    /// Gives the world a stored entry for `key`, or `None` when the store has none. An entry
    /// already loaded is merged with, which is harmless: merging is idempotent.
    pub fn load(&mut self, key: Key, entry: Option<Entry>) {
        match (key, entry) {
            (Key::Client(id), e) => {
                let v = self.clients.entry(id.into()).or_default();
                if let Some(Entry::Client(s)) = e {
                    v.join(&s);
                }
            }
            (Key::Connection(id), e) => {
                let v = self.conns.entry(id.into()).or_default();
                if let Some(Entry::Connection(s)) = e {
                    v.join(&s);
                }
            }
            (Key::Room(id), e) => {
                let v = self.rooms.entry(id.into()).or_default();
                if let Some(Entry::Room(s)) = e {
                    v.join(&s);
                }
            }
            (Key::Device(id), e) => {
                let v = self.devices.entry(id.into()).or_default();
                if let Some(Entry::Device(s)) = e {
                    v.join(&s);
                }
            }
            (Key::Lobby, e) => {
                let v = self.lobby.get_or_insert_with(LobbyState::default);
                if let Some(Entry::Lobby(s)) = e {
                    v.join(&s);
                }
            }
            (Key::Watermark, e) => {
                let stored = match e {
                    Some(Entry::Watermark(w)) => w,
                    _ => 0,
                };
                self.watermark = Some(self.watermark.unwrap_or(0).max(stored));
            }
        }
    }

    /// Folds one record, in arrival order, and returns the deliveries it causes, decided against
    /// the state at this point. Total: it cannot fail and cannot panic.
    pub fn apply(&mut self, record: &Record) -> Vec<crate::Delivery> {
        // Only records stamped by AWS's clocks move the fold's notion of now: a device's
        // telemetry timestamp or a feedback record must not be able to age out every WebSocket
        // connection at once.
        let ts = match record {
            Record::Lifecycle(_) | Record::WebSocket(_) => record.event_time(),
            Record::Telemetry(_) | Record::ConnectionGone(_) => 0,
        };
        if ts > self.watermark() || self.watermark.is_none() {
            self.watermark = Some(ts.max(self.watermark()));
            self.dirty.watermark = true;
        }
        match record {
            Record::Lifecycle(e) => {
                crate::fold::lifecycle(self, e);
                Vec::new()
            }
            Record::WebSocket(ws) => crate::fold::websocket(self, ws, record),
            Record::Telemetry(t) => crate::route::telemetry(self, t, record.event_id()),
            Record::ConnectionGone(g) => {
                let conn = self.conns.entry_ref(g.connection_id.as_str()).or_default();
                conn.summary.closed_at.add(g.timestamp);
                conn.last_ts = conn.last_ts.max(g.timestamp);
                self.mark_conn(&g.connection_id);
                self.sync_connection(&g.connection_id);
                Vec::new()
            }
        }
    }

    /// Copies what a connection knows into its client's entry (summary, rooms, latest time) and
    /// into the lobby, so both can tell whether it is live without loading it. Copying the whole
    /// connection state, not just the latest event, keeps the result independent of the order
    /// in which the connection's records arrived.
    pub(crate) fn sync_connection(&mut self, connection_id: &str) {
        let Some(conn) = self.conns.get(connection_id) else {
            return;
        };
        let summary: ConnSummary = conn.summary.clone();
        let (rooms, last_ts) = (conn.rooms.clone(), conn.last_ts);
        if let Some(client_id) = &summary.client_id {
            let client_cut = self
                .clients
                .get(client_id.as_str())
                .map_or(0, |c| self.config.forget_before(c.updated_at));
            let client = self.client_mut(client_id, last_ts);
            let slot = client
                .connections
                .entry(connection_id.to_owned())
                .or_default();
            slot.join(&summary);
            for (room, write) in rooms.iter() {
                crate::fold::resync_membership(self, room, client_id, write, client_cut, last_ts);
            }
        }
        if let Some(lobby) = self.lobby.as_mut() {
            let slot = lobby
                .connections
                .entry(connection_id.to_owned())
                .or_default();
            if *slot != summary {
                slot.join(&summary);
                self.dirty.lobby = true;
            }
        }
    }

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

    pub(crate) fn mark_conn(&mut self, id: &str) {
        if !self.complete {
            mark(&mut self.dirty.conns, id);
        }
    }

    pub(crate) fn mark_room(&mut self, id: &str) {
        if !self.complete {
            mark(&mut self.dirty.rooms, id);
        }
    }

    pub(crate) fn mark_device(&mut self, id: &str) {
        if !self.complete {
            mark(&mut self.dirty.devices, id);
        }
    }

    /// The keys of the entries changed since the last call, compacted, in key order: what the
    /// batch protocol writes ([`crate::batch`]). A caller reads the entries themselves from the
    /// world ([`World::entry_ref`], [`World::entry`]), on as many threads as it likes.
    pub fn take_dirty(&mut self) -> Vec<Key> {
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
        let mut keys: Vec<Key> = Vec::new();
        keys.extend(sorted(dirty.clients).map(Key::Client));
        keys.extend(sorted(dirty.conns.into_iter().collect()).map(Key::Connection));
        keys.extend(sorted(dirty.rooms.into_iter().collect()).map(Key::Room));
        keys.extend(sorted(dirty.devices.into_iter().collect()).map(Key::Device));
        if dirty.lobby {
            keys.push(Key::Lobby);
        }
        if dirty.watermark {
            keys.push(Key::Watermark);
        }
        keys.retain(|key| crate::compact::entry(self, key).is_some());
        debug_assert!(keys.is_sorted());
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
        keys.iter()
            .filter_map(|key| crate::compact::entry(self, key))
            .sum()
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

    /// Every loaded key.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        let clients = self.clients.keys().map(|k| Key::Client(k.to_string()));
        let conns = self.conns.keys().map(|k| Key::Connection(k.to_string()));
        let rooms = self.rooms.keys().map(|k| Key::Room(k.to_string()));
        let devices = self.devices.keys().map(|k| Key::Device(k.to_string()));
        let lobby = self.lobby.as_ref().map(|_| Key::Lobby);
        let watermark = self.watermark.map(|_| Key::Watermark);
        clients
            .chain(conns)
            .chain(rooms)
            .chain(devices)
            .chain(lobby)
            .chain(watermark)
    }

    /// The entry for `key`, borrowed, if loaded: to encode it without copying it.
    pub fn entry_ref(&self, key: &Key) -> Option<EntryRef<'_>> {
        Some(match key {
            Key::Client(id) => EntryRef::Client(self.clients.get(id.as_str())?),
            Key::Connection(id) => EntryRef::Connection(self.conns.get(id.as_str())?),
            Key::Room(id) => EntryRef::Room(self.rooms.get(id.as_str())?),
            Key::Device(id) => EntryRef::Device(self.devices.get(id.as_str())?),
            Key::Lobby => EntryRef::Lobby(self.lobby.as_ref()?),
            Key::Watermark => EntryRef::Watermark(self.watermark?),
        })
    }

    /// A copy of the entry for `key`, if loaded.
    pub fn entry(&self, key: &Key) -> Option<Entry> {
        self.entry_ref(key).map(EntryRef::to_entry)
    }

    /// Joins another world into this one, taking it: commutative, associative and idempotent.
    /// Entries only the other holds move over instead of being copied: a fold split by client
    /// (replay's parallel fold) has most entries on one side only.
    ///
    /// Each side may know half of a connection (one its client, the other its rooms), so after
    /// joining the entries the connections both worlds hold are synced into their clients again,
    /// as folding both sides' records into one world would have done. A connection one side
    /// alone knows is already synced into the entries joined here: a world syncs each of its own
    /// connections into its client and rooms with every record.
    pub fn absorb(&mut self, mut other: World) {
        let shared: Vec<Id> = other
            .conns
            .keys()
            .filter(|id| self.conns.contains_key(id.as_str()))
            .cloned()
            .collect();
        // Entries moving over are not changes of this world.
        for client in other.clients.values_mut() {
            client.listed = Listed::default();
        }
        join_into(&mut self.clients, other.clients);
        join_into(&mut self.conns, other.conns);
        join_into(&mut self.rooms, other.rooms);
        join_into(&mut self.devices, other.devices);
        match (self.lobby.as_mut(), other.lobby) {
            (Some(mine), Some(theirs)) => mine.join(&theirs),
            (None, theirs) => self.lobby = theirs,
            (Some(_), None) => {}
        }
        if let Some(w) = other.watermark {
            self.load(Key::Watermark, Some(Entry::Watermark(w)));
        }
        for id in shared {
            self.sync_connection(&id);
        }
    }

    /// The view of one client at the watermark.
    pub fn client(&self, id: &str) -> Option<ClientProjection> {
        let state = self.clients.get(id).filter(|c| !c.is_empty())?;
        Some(ClientProjection::derive(
            id,
            state,
            &self.config,
            self.watermark(),
            |c| self.conns.get(c),
        ))
    }

    /// The views of every loaded client, by client id.
    pub fn clients(&self) -> Vec<ClientProjection> {
        self.client_ids()
            .into_iter()
            .filter_map(|id| self.client(id))
            .collect()
    }

    /// The ids of every loaded client, in order: [`World::clients`] in pieces, for a caller
    /// that derives views on several threads.
    pub fn client_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.clients.keys().map(Id::as_str).collect();
        ids.sort_unstable();
        ids
    }

    /// The raw state of one client, if loaded.
    pub fn client_state(&self, id: &str) -> Option<&ClientState> {
        self.clients.get(id)
    }

    /// The raw state of one connection, if loaded.
    pub fn connection_state(&self, id: &str) -> Option<&ConnectionState> {
        self.conns.get(id)
    }

    /// The raw state of one room, if loaded.
    pub fn room_state(&self, id: &str) -> Option<&RoomState> {
        self.rooms.get(id)
    }

    /// The presence rule's reasoning for one client (for `replay explain`).
    pub fn presence_decision(&self, id: &str) -> Option<session::PresenceDecision<'_>> {
        let state = self.clients.get(id)?;
        Some(session::decide(
            &state.sessions,
            self.config.reset_horizon_ms,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn a_lookup_finds_what_its_id_does() {
        let hasher = FxBuildHasher;
        let mut map: Map<u8> = Map::default();
        let long = "x".repeat(40);
        let ids = ["", "a", "device-000123", "bob", long.as_str(), "séance-😀"];
        for (n, id) in ids.iter().enumerate() {
            // Hashed alike, or a lookup would probe the wrong buckets.
            assert_eq!(hasher.hash_one(Lookup(id)), hasher.hash_one(Id::from(*id)));
            *map.entry_ref(&Lookup(id)).or_default() = n as u8;
        }
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(map.get(&Lookup(id)), Some(&(n as u8)), "{id}");
            assert_eq!(map.get(*id), Some(&(n as u8)), "{id}");
        }
        assert_eq!(map.len(), ids.len());
        assert!(map.get(&Lookup("device-000124")).is_none());
    }
}
