//! What a partial world must load before it folds a record: [`World::needs`].
//!
//! The batch protocol ([`crate::batch`]) asks this of every record, in prefetch rounds and just
//! before applying it, and loads what comes back. Most keys follow from the record alone; some
//! from entries loaded for it (a connection's client, a room's members, a device's watchers), so
//! the answer is asked again until it is empty.

use crate::key::Key;
use crate::world::World;
use schemas::{Action, Record};

impl World {
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
                want.extend(self.device_watchers(e));
                want.extend(self.presence_audience(e.client_id(), turns_online(e)));
                // A store that writes members apart takes a subscription without its room.
                let subscription = match e {
                    schemas::Lifecycle::Subscribed(s) | schemas::Lifecycle::Unsubscribed(s) => {
                        Some(s).filter(|_| !self.parts_apart)
                    }
                    _ => None,
                };
                if let Some(s) = subscription {
                    let rooms = s
                        .topics
                        .iter()
                        .filter_map(|t| self.config.chat_topic.room_of(t));
                    want.extend(rooms.map(|r| Key::Room(r.to_owned())));
                }
                if let schemas::Lifecycle::Subscribed(s) | schemas::Lifecycle::Unsubscribed(s) = e {
                    let rooms = s
                        .topics
                        .iter()
                        .filter_map(|t| self.config.chat_topic.room_of(t));
                    for room in rooms {
                        want.extend(self.membership_history_key(room, e.timestamp()));
                        want.extend(self.unnamed_senders(room, e.timestamp()));
                        if self.config.is_presence_room(room) {
                            want.extend(self.presence_room_members(room));
                            want.push(Key::Room(room.to_owned()));
                        }
                    }
                }
            }
            // A refused record changes nothing; its reply names the connection's client.
            Record::WebSocket(ws) if crate::authorize::refusal(ws).is_some() => {
                want.push(Key::Connection(ws.connection_id.clone()));
            }
            Record::WebSocket(ws) => {
                want.push(Key::Connection(ws.connection_id.clone()));
                // Syncing the connection writes its summary into the lobby: whole, or as a part
                // that needs no lobby loaded.
                if !self.parts_apart {
                    want.push(Key::Lobby);
                }
                // Every client `apply` may write: the one a `$connect` names, and the one the
                // connection already has (they differ only if records disagree; max wins).
                if ws.event_type == schemas::WsEventType::Connect {
                    if let Some(client) = ws.resolved_client_id() {
                        want.push(Key::Client(client.to_owned()));
                    }
                }
                let client = self.client_of(&ws.connection_id);
                // What a record that opens or closes a connection may tell its client's presence
                // rooms (the client a `$connect` names is the one it has once it is folded).
                let turns = match ws.event_type {
                    schemas::WsEventType::Connect => Some(true),
                    schemas::WsEventType::Disconnect => Some(false),
                    _ => None,
                };
                let named = ws
                    .resolved_client_id()
                    .filter(|_| ws.event_type == schemas::WsEventType::Connect);
                if let (Some(online), Some(c)) = (turns, named.or(client.as_deref())) {
                    want.extend(self.presence_audience(c, online));
                }
                want.extend(client.map(Key::Client));
                want.extend(self.rooms_of(&ws.connection_id));
                match ws.action() {
                    Action::SendMessage {
                        chat_id: Some(room),
                        ..
                    } => {
                        // A store shared by batches folded at once takes the message before its
                        // room's members are read (see `ahead`).
                        if self.is_published(ws.request_time_epoch, record) {
                            if let Some(state) = self.rooms.get(room.as_str()) {
                                let members = state.members_around(ws.request_time_epoch);
                                want.extend(members.map(|(m, _)| Key::Client(m.to_owned())));
                            }
                            want.push(Key::Room(room.clone()));
                        }
                        // A store that keeps histories whole writes the message into it.
                        if !self.parts_apart {
                            want.extend(self.history_key(&room, 0));
                        }
                    }
                    // A message without a room goes to every connection of the lobby.
                    Action::SendMessage { chat_id: None, .. } => want.push(Key::Lobby),
                    // Each device's client entry keeps until when it may be watched.
                    Action::SetNotifyList { devices } => {
                        want.extend(devices.iter().cloned().map(Key::Client));
                        want.extend(devices.into_iter().map(Key::Device));
                    }
                    // A reply holds a page of the history.
                    Action::History { chat_id, since, .. } => {
                        want.extend(self.history_key(&chat_id, since.saturating_add(1)));
                        want.extend(self.unnamed_senders(&chat_id, since.saturating_add(1)));
                    }
                    // A reply holds the room's members' presence, or the devices'.
                    Action::Presence(schemas::PresenceOf::Room(room)) => {
                        if let Some(state) = self.rooms.get(room.as_str()) {
                            let members = state.members_around(ws.request_time_epoch);
                            want.extend(members.map(|(m, _)| Key::Client(m.to_owned())));
                        }
                        want.push(Key::Room(room));
                    }
                    Action::Presence(schemas::PresenceOf::Devices(devices)) => {
                        want.extend(devices.into_iter().map(Key::Client))
                    }
                    Action::Join { chat_id } | Action::Leave { chat_id } => {
                        want.extend(self.membership_history_key(&chat_id, ws.request_time_epoch));
                        want.extend(self.unnamed_senders(&chat_id, ws.request_time_epoch));
                        want.extend(self.presence_room_members(&chat_id));
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
                want.push(Key::Connection(g.connection_id.clone()));
                if !self.parts_apart {
                    want.push(Key::Lobby);
                }
                if let Some(client) = self.client_of(&g.connection_id) {
                    want.extend(self.presence_audience(&client, false));
                    want.push(Key::Client(client));
                }
                want.extend(self.rooms_of(&g.connection_id));
            }
            // A tick moves the fold's now (the watermark, where a store keeps one), and makes
            // the shard's announcements due by then (`grace`).
            Record::Tick(t) => want.extend(self.tick_needs(&t.shard_id, t.timestamp)),
        }
        want.retain(|k| !self.has(k));
        want.sort();
        want.dedup();
        want
    }

    /// The history a membership write at `t` of `room` compares (see `history`): the messages
    /// after `t`, or, from a store that keeps histories whole, all of them. None when rooms
    /// keep no history.
    fn history_key(&self, room: &str, t: u64) -> Option<Key> {
        (self.config.history_max > 0).then(|| Key::History {
            room: room.to_owned(),
            since: if self.parts_apart { t } else { 0 },
        })
    }

    /// The connections of the recent messages of `room` since `t` that name no sender: folded
    /// before their connection's `$connect` (out of order) and stored so, they are told apart by
    /// their connection's client ([`World::sender_of`]). A stream in order has none.
    fn unnamed_senders(&self, room: &str, t: u64) -> impl Iterator<Item = Key> + '_ {
        let recent = match self.histories.get(room) {
            Some(history) => history.recent_since(&self.config, t),
            None => &[],
        };
        recent
            .iter()
            .filter(|m| m.from.is_none())
            .map(|m| Key::Connection(m.connection_id.clone()))
    }

    /// The history a membership write at `t` of `room` compares while it is folded: none in a
    /// world that reads it after the batch's commit instead (`ahead`), which finds every
    /// message the fold would and those stored meanwhile.
    fn membership_history_key(&self, room: &str, t: u64) -> Option<Key> {
        self.history_key(room, t)
            .filter(|_| !self.rechecks_memberships())
    }

    /// Whether the history [`World::membership_history_key`] names is loaded (or none is
    /// needed), without allocating its key.
    fn history_loaded(&self, room: &str, t: u64) -> bool {
        let since = if self.parts_apart { t } else { 0 };
        self.config.history_max == 0
            || self.complete
            || self.rechecks_memberships()
            || self
                .history_since
                .get(room)
                .is_some_and(|loaded| *loaded <= since)
    }

    /// Whether everything a lifecycle event reads is loaded: the watermark, its client, and the
    /// rooms and histories of its chat topics.
    fn lifecycle_loaded(&self, e: &schemas::Lifecycle) -> bool {
        let rooms_loaded = match e {
            schemas::Lifecycle::Subscribed(s) | schemas::Lifecycle::Unsubscribed(s) => {
                s.topics.iter().all(|t| {
                    self.config.chat_topic.room_of(t).is_none_or(|r| {
                        (self.parts_apart || self.rooms.contains_key(r))
                            && self.history_loaded(r, e.timestamp())
                            && self.unnamed_senders(r, e.timestamp()).all(|k| self.has(&k))
                    })
                })
            }
            _ => true,
        };
        let loaded = rooms_loaded && self.watermark.is_some();
        match self.clients.get(e.client_id()) {
            None => false,
            // Most clients: no connection watches them, they are in no presence room, and
            // nothing more is read.
            Some(c) if c.watched_until < e.timestamp() && c.announced.is_none() => loaded,
            Some(_) => {
                loaded
                    && self.device_watchers(e).next().is_none()
                    && self
                        .presence_audience(e.client_id(), turns_online(e))
                        .is_empty()
            }
        }
    }

    /// What a lifecycle event of a watched device reads to tell its watchers of a change: the
    /// device's watchers and their connections. Nothing for a client no connection listed
    /// lately (most of them), nor before its entry is loaded.
    fn device_watchers(&self, e: &schemas::Lifecycle) -> impl Iterator<Item = Key> + '_ {
        let id = e.client_id();
        let watched = self
            .clients
            .get(id)
            .is_some_and(|c| c.watched_until >= e.timestamp());
        let device = watched.then(|| (Key::Device(id.to_owned()), self.devices.get(id)));
        device.into_iter().flat_map(move |(key, state)| {
            let conns = state
                .into_iter()
                .flat_map(|d| d.watchers.keys())
                .map(|c| Key::Connection(c.clone()));
            std::iter::once(key)
                .chain(conns)
                .filter(move |k| !self.has(k))
        })
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
}

/// Which way a lifecycle event may turn its client's presence: a connection or a subscription
/// online; a disconnection or an unsubscription offline, and a refused connection too (it
/// changes no session, but its time may end a grace or a connection's two hours).
fn turns_online(e: &schemas::Lifecycle) -> bool {
    matches!(
        e,
        schemas::Lifecycle::Connected(_) | schemas::Lifecycle::Subscribed(_)
    )
}

impl World {
    /// A presence room's members' client entries, whose sockets hear its presence events: once
    /// the room is loaded, and only up to `PRESENCE_ROOM_MAX` members (past it, none is sent).
    pub(crate) fn presence_room_members(&self, room: &str) -> Vec<Key> {
        if !self.config.is_presence_room(room) {
            return Vec::new();
        }
        let Some(state) = self.rooms.get(room) else {
            return Vec::new();
        };
        let joined: Vec<Key> = state
            .members()
            .filter(|(_, w)| w.value.is_joined())
            .map(|(m, _)| Key::Client(m.to_owned()))
            .collect();
        if joined.len() > crate::config::PRESENCE_ROOM_MAX {
            return Vec::new();
        }
        joined
    }

    /// Whether a presence event in `room` reaches every member it is for: the room and its
    /// members' entries are loaded (always, in a complete world).
    pub(crate) fn reaches_presence_room(&self, room: &str) -> bool {
        self.complete
            || (self.has(&Key::Room(room.to_owned()))
                && self.presence_room_members(room).iter().all(|k| self.has(k)))
    }
}
