//! [`World`]: the projections, cut into keyed entries. Its methods are written beside what they
//! do: folding records (`fold`), what a record needs loaded (`needs`), noting what changed
//! (`dirty`), compacting and handing out changed entries (`compact`), joining two worlds
//! (`merge`); here are the entries, loading them and reading them.
//!
//! A world is either *complete* ([`World::in_memory`]: it holds everything there is, as in replay
//! and tests) or *partial* ([`World::new`]: backed by a store). A partial world asks for the
//! entries a record needs ([`World::needs`]), the caller loads them ([`World::load`]), and after
//! folding a batch hands back the changed ones ([`World::take_dirty`]) to write. The batch
//! protocol ([`crate::batch`]) drives this in every process.

use crate::ahead::Ahead;
use crate::dirty::{mark, Dirty};
use crate::grace::PendingState;
use crate::history::History;
use crate::id::{Id, Map, Set};
use crate::key::{Entry, EntryRef, Key};
use crate::lattice::Merge;
use crate::parts::Parts;
use crate::presence;
use crate::view::ClientProjection;
use crate::{ClientState, Config, ConnectionState, DeviceState, LobbyState, RoomState};

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
    /// Rooms' message histories (see `history`).
    pub(crate) histories: Map<History>,
    /// In a partial world, for each room whose history is loaded, the time it is loaded since:
    /// it holds every stored message sent after that.
    pub(crate) history_since: Map<u64>,
    /// Deliveries made to members whose leave was folded after the message (see `history`).
    pub(crate) late_leaves: u64,
    pub(crate) watermark: Option<u64>,
    /// What changed since the last [`World::take_dirty`] (see `dirty`).
    pub(crate) dirty: Dirty,
    /// The parts the last [`World::take_dirty`] listed, with their values.
    pub(crate) parts: Parts,
    /// Whether the store writes rooms and the lobby a part at a time ([`World::parts_apart`]).
    pub(crate) parts_apart: bool,
    /// Whether the store keeps no `watermark` entry ([`World::clock_from_entries`]).
    pub(crate) clock_from_entries: bool,
    /// Clients whose `Left` memberships compaction must keep: see [`World::keep_history_of`].
    pub(crate) kept: Set,
    /// What the batch in progress stored ahead and checks again after its commit (see `ahead`).
    pub(crate) ahead: Ahead,
    /// The `offline` announcements put off for the presence grace, by shard (`grace`).
    pub(crate) pending: Map<PendingState>,
    /// Which pending list this world writes and its ticks read (`grace`).
    pub(crate) pending_list: crate::grace::PendingList,
    /// Whether a client here is in a presence room's audience ([`ClientState::announced`]):
    /// until one is, no record needs its client's presence compared (`announce`).
    pub(crate) announcing: bool,
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
            histories: Map::default(),
            history_since: Map::default(),
            late_leaves: 0,
            watermark: None,
            dirty: Dirty::default(),
            parts: Parts::default(),
            parts_apart: false,
            clock_from_entries: false,
            kept: Set::default(),
            ahead: Ahead::default(),
            announcing: false,
            pending: Map::default(),
            pending_list: crate::grace::PendingList::None,
        }
    }

    /// This partial world's store writes rooms, the lobby and devices a part at a time
    /// ([`Key::Member`], [`Key::Subscriber`], [`Key::InLobby`], [`Key::Watcher`]) rather than
    /// whole, so an MQTT subscription's membership is written without loading its room, and a
    /// connection's summary without loading the lobby: a DynamoDB table, where loading either
    /// is a `Query` of its own. Otherwise the world lists changed rooms, devices and the lobby
    /// whole ([`Key::Room`], [`Key::Device`], [`Key::Lobby`]), loaded before they change.
    pub fn parts_apart(mut self) -> Self {
        self.parts_apart = true;
        self
    }

    /// This partial world's store keeps no `watermark` entry, which every batch would write:
    /// the fold's now is the newest time of the records this world folds and of the clients and
    /// connections it loads (their newest AWS-stamped records: `ClientState::stamped_at`), so a
    /// batch's now is at most the stream's and at least that of every entry it touches. A world
    /// that loads a whole table derives the stream's newest event time, which is what a complete
    /// fold of the stream has. Compaction at an earlier now keeps more, and a connection is live
    /// at an earlier now if it is live at a later one, so what the views say at the stream's now
    /// is the same.
    pub fn clock_from_entries(mut self) -> Self {
        self.clock_from_entries = true;
        self.watermark = Some(0);
        self
    }

    /// A complete world: it holds everything there is, so it never needs loading.
    pub fn in_memory(config: Config) -> Self {
        World {
            complete: true,
            pending_list: crate::grace::PendingList::One,
            lobby: Some(LobbyState::default()),
            watermark: Some(0),
            ..World::new(config)
        }
    }

    /// The fold's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The newest event time folded (or, with [`World::clock_from_entries`], loaded): the
    /// fold's notion of now (time comes only from events).
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
                Key::Room(id) | Key::Member { room: id, .. } | Key::Subscriber { room: id, .. } => {
                    self.rooms.contains_key(id.as_str()) && !self.is_stale(id)
                }
                Key::Device(id) | Key::Watcher { device: id, .. } => {
                    self.devices.contains_key(id.as_str())
                }
                Key::Lobby | Key::InLobby(_) => self.lobby.is_some(),
                Key::History { room, since } => self
                    .history_since
                    .get(room.as_str())
                    .is_some_and(|loaded| loaded <= since),
                // A message alone is never loaded: its history is.
                Key::Message { room, .. } => self.history_since.contains_key(room.as_str()),
                Key::Watermark => self.watermark.is_some(),
                Key::Pending(shard) => self.pending.contains_key(shard.as_str()),
            }
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
                // What its presence rooms heard was decided at a now no later batch goes back
                // before, lest it take back what they heard.
                let heard = v.announced.as_ref().map(|a| a.ts);
                let newest = v.stamped_at.max(heard.unwrap_or(0));
                self.announcing |= heard.is_some();
                self.saw(newest);
            }
            (Key::Connection(id), e) => {
                let v = self.conns.entry(id.into()).or_default();
                if let Some(Entry::Connection(s)) = e {
                    v.join(&s);
                }
                let newest = v.stamped_at;
                self.saw(newest);
            }
            (Key::Room(id), e) => {
                self.read_members(&id);
                let v = self.rooms.entry_ref(id.as_str()).or_default();
                if let Some(Entry::Room(s)) = e {
                    v.join(&s);
                }
                // Subscriptions folded before the room was loaded wrote only their parts.
                let pending = self.dirty.parts.of_room(&id).chain(self.parts.of_room(&id));
                for (client, register) in pending {
                    v.add(client, register);
                }
            }
            // A member alone: the batch protocol never asks for one (rooms load whole), so this
            // is a driver joining in what it knows of a room's member; it makes the room loaded.
            (Key::Member { room, client } | Key::Subscriber { room, client }, e) => {
                let v = self.rooms.entry(room.into()).or_default();
                if let Some(Entry::Member(m)) = e {
                    v.add(&client, &m);
                }
            }
            (Key::Device(id), e) => {
                let v = self.devices.entry_ref(id.as_str()).or_default();
                if let Some(Entry::Device(s)) = e {
                    v.join(&s);
                }
                let pending = self
                    .dirty
                    .parts
                    .of_device(&id)
                    .chain(self.parts.of_device(&id));
                for (connection, at) in pending {
                    let listed = v.watchers.entry(connection.to_owned()).or_default();
                    *listed = (*listed).max(at);
                }
            }
            (Key::Watcher { device, connection }, e) => {
                let v = self.devices.entry(device.into()).or_default();
                if let Some(Entry::ListedAt(at)) = e {
                    let listed = v.watchers.entry(connection).or_default();
                    *listed = (*listed).max(at);
                }
            }
            (Key::Lobby, e) => {
                let v = self.lobby.get_or_insert_with(LobbyState::default);
                if let Some(Entry::Lobby(s)) = e {
                    v.join(&s);
                }
                // Connections folded before the lobby was loaded wrote only their parts.
                let pending = self.dirty.parts.of_lobby().chain(self.parts.of_lobby());
                for (id, summary) in pending {
                    v.connections
                        .entry(id.to_owned())
                        .or_default()
                        .join(summary);
                }
            }
            (Key::InLobby(id), e) => {
                let v = self.lobby.get_or_insert_with(LobbyState::default);
                if let Some(Entry::Summary(s)) = e {
                    v.connections.entry(id).or_default().join(&s);
                }
            }
            (Key::History { room, since }, e) => {
                let v = self.histories.entry_ref(room.as_str()).or_default();
                if let Some(Entry::History(h)) = e {
                    v.join(&h);
                }
                let loaded = self.history_since.entry_ref(room.as_str()).or_insert(since);
                *loaded = (*loaded).min(since);
            }
            // A message alone: a driver joining in what it knows of a room's history.
            (Key::Message { room, .. }, e) => {
                let v = self.histories.entry_ref(room.as_str()).or_default();
                if let Some(Entry::Message(m)) = e {
                    v.add(&m);
                }
            }
            (Key::Pending(shard), e) => self.load_pending(&shard, e),
            (Key::Watermark, e) => {
                let stored = match e {
                    Some(Entry::Watermark(w)) => w,
                    _ => 0,
                };
                self.watermark = Some(self.watermark.unwrap_or(0).max(stored));
            }
        }
    }

    /// Moves a world whose clock comes from its entries to `t`, the newest event of an entry
    /// it loaded.
    fn saw(&mut self, t: u64) {
        if self.clock_from_entries {
            self.watermark = Some(self.watermark().max(t));
        }
    }

    /// Every loaded key.
    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        let clients = self.clients.keys().map(|k| Key::Client(k.to_string()));
        let conns = self.conns.keys().map(|k| Key::Connection(k.to_string()));
        let rooms = self.rooms.keys().map(|k| Key::Room(k.to_string()));
        let devices = self.devices.keys().map(|k| Key::Device(k.to_string()));
        let histories = self.histories.keys().map(|k| Key::History {
            room: k.to_string(),
            since: 0,
        });
        let lobby = self.lobby.as_ref().map(|_| Key::Lobby);
        let watermark = self
            .watermark
            .filter(|_| !self.clock_from_entries)
            .map(|_| Key::Watermark);
        let pending = self.pending.keys().map(|s| Key::Pending(s.to_string()));
        clients
            .chain(conns)
            .chain(rooms)
            .chain(histories)
            .chain(devices)
            .chain(lobby)
            .chain(watermark)
            .chain(pending)
    }

    /// The entry for `key`, borrowed, if loaded: to encode it without copying it.
    pub fn entry_ref(&self, key: &Key) -> Option<EntryRef<'_>> {
        Some(match key {
            Key::Client(id) => EntryRef::Client(self.clients.get(id.as_str())?),
            Key::Connection(id) => EntryRef::Connection(self.conns.get(id.as_str())?),
            Key::Room(id) => EntryRef::Room(self.rooms.get(id.as_str())?),
            Key::Member { .. }
            | Key::Subscriber { .. }
            | Key::InLobby(_)
            | Key::Watcher { .. }
            | Key::Message { .. } => self.parts.get(key)?,
            Key::History { room, .. } => EntryRef::History(self.histories.get(room.as_str())?),
            Key::Device(id) => EntryRef::Device(self.devices.get(id.as_str())?),
            Key::Lobby => EntryRef::Lobby(self.lobby.as_ref()?),
            Key::Watermark => EntryRef::Watermark(self.watermark?),
            Key::Pending(shard) => EntryRef::Pending(self.pending.get(shard.as_str())?),
        })
    }

    /// A copy of the entry for `key`, if loaded.
    pub fn entry(&self, key: &Key) -> Option<Entry> {
        self.entry_ref(key).map(EntryRef::to_entry)
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
    pub fn presence_decision(&self, id: &str) -> Option<presence::PresenceDecision<'_>> {
        let state = self.clients.get(id)?;
        Some(presence::decide(
            &state.sessions,
            self.config.reset_horizon_ms,
        ))
    }
}
