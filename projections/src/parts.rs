//! Parts: what a world writes of a room, of the lobby, of a device or of a room's history, one
//! member, connection, watcher or message at a time ([`Key::Member`], [`Key::Subscriber`],
//! [`Key::InLobby`], [`Key::Watcher`], [`Key::Message`]).
//!
//! A room, the lobby or a device is loaded whole and written a part at a time, so that no write
//! grows with it and writers of different parts never conflict. Each part's value is captured when it
//! changes: compacting the room, the lobby or the client after cannot lose a write, and a part
//! can be written without its whole being loaded (a subscription's membership, a connection's
//! summary: [`World::parts_apart`](crate::World::parts_apart)).

use crate::client::ConnSummary;
use crate::history::Message;
use crate::id::{Id, Map};
use crate::key::{EntryRef, Key};
use crate::lattice::{Lww, Membership};
use rustc_hash::FxBuildHasher;
use schemas::EventId;

/// How a room membership was written, which says who may write it ([`Key::Member`],
/// [`Key::Subscriber`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Via {
    /// A WebSocket `join` or `leave`.
    Join,
    /// An MQTT subscription to the room's chat topic, or its end.
    Subscription,
}

/// Parts to write, each with its value.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parts {
    /// Room members: (room, client, how written) to the room's register for the client.
    members: hashbrown::HashMap<(Id, Id, Via), Lww<Membership>, FxBuildHasher>,
    /// Connections in the lobby, to their summaries.
    lobby: Map<ConnSummary>,
    /// Watchers: (device, connection) to when the connection last listed the device.
    watchers: hashbrown::HashMap<(Id, Id), u64, FxBuildHasher>,
    /// Messages of rooms' histories: (room, sent at, event id) to the message.
    messages: hashbrown::HashMap<(Id, u64, EventId), Message, FxBuildHasher>,
}

impl Parts {
    /// Lists a room member, with its register now.
    pub(crate) fn member(
        &mut self,
        room: &str,
        client: &str,
        via: Via,
        register: &Lww<Membership>,
    ) {
        // Ids up to 24 bytes are inline: making the key allocates nothing for most.
        self.members
            .insert((room.into(), client.into(), via), register.clone());
    }

    /// Lists a connection of the lobby, with its summary now.
    pub(crate) fn in_lobby(&mut self, connection_id: &str, summary: &ConnSummary) {
        self.lobby.insert(connection_id.into(), summary.clone());
    }

    /// Lists a device's watcher, with when it last listed the device.
    pub(crate) fn watcher(&mut self, device: &str, connection: &str, listed_at: u64) {
        self.watchers
            .insert((device.into(), connection.into()), listed_at);
    }

    /// Lists a message of a room's history.
    pub(crate) fn message(&mut self, room: &str, message: &Message) {
        self.messages.insert(
            (room.into(), message.sent_at, message.event_id),
            message.clone(),
        );
    }

    /// The keys, in `Key`'s order: members, subscribers, connections of the lobby, watchers,
    /// messages.
    pub(crate) fn keys(&self) -> Vec<Key> {
        let mut members: Vec<(Via, &Id, &Id)> = self
            .members
            .keys()
            .map(|(room, client, via)| (*via, room, client))
            .collect();
        members.sort_unstable();
        let mut lobby: Vec<&Id> = self.lobby.keys().collect();
        lobby.sort_unstable();
        let members = members.into_iter().map(|(via, room, client)| {
            let (room, client) = (room.to_string(), client.to_string());
            match via {
                Via::Join => Key::Member { room, client },
                Via::Subscription => Key::Subscriber { room, client },
            }
        });
        let mut watchers: Vec<&(Id, Id)> = self.watchers.keys().collect();
        watchers.sort_unstable();
        let watchers = watchers
            .into_iter()
            .map(|(device, connection)| Key::Watcher {
                device: device.to_string(),
                connection: connection.to_string(),
            });
        let mut messages: Vec<&(Id, u64, EventId)> = self.messages.keys().collect();
        messages.sort_unstable();
        let messages = messages
            .into_iter()
            .map(|(room, sent_at, event_id)| Key::Message {
                room: room.to_string(),
                sent_at: *sent_at,
                event_id: *event_id,
            });
        members
            .chain(lobby.into_iter().map(|id| Key::InLobby(id.to_string())))
            .chain(watchers)
            .chain(messages)
            .collect()
    }

    /// The value of the part `key`, if listed.
    pub(crate) fn get(&self, key: &Key) -> Option<EntryRef<'_>> {
        let member = |room: &str, client: &str, via| {
            self.members
                .get(&(Id::from(room), Id::from(client), via))
                .map(EntryRef::Member)
        };
        match key {
            Key::Member { room, client } => member(room, client, Via::Join),
            Key::Subscriber { room, client } => member(room, client, Via::Subscription),
            Key::InLobby(id) => self.lobby.get(id.as_str()).map(EntryRef::Summary),
            Key::Watcher { device, connection } => self
                .watchers
                .get(&(Id::from(device.as_str()), Id::from(connection.as_str())))
                .map(|at| EntryRef::ListedAt(*at)),
            Key::Message {
                room,
                sent_at,
                event_id,
            } => self
                .messages
                .get(&(Id::from(room.as_str()), *sent_at, *event_id))
                .map(EntryRef::Message),
            _ => None,
        }
    }

    /// The members listed of `room`, with their registers.
    pub(crate) fn of_room<'a>(
        &'a self,
        room: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Lww<Membership>)> + 'a {
        self.members
            .iter()
            .filter(move |((r, ..), _)| r == room)
            .map(|((_, client, _), register)| (client.as_str(), register))
    }

    /// The watchers listed of `device`, with when they listed it.
    pub(crate) fn of_device<'a>(
        &'a self,
        device: &'a str,
    ) -> impl Iterator<Item = (&'a str, u64)> + 'a {
        self.watchers
            .iter()
            .filter(move |((d, _), _)| d == device)
            .map(|((_, connection), at)| (connection.as_str(), *at))
    }

    /// The connections listed of the lobby, with their summaries.
    pub(crate) fn of_lobby(&self) -> impl Iterator<Item = (&str, &ConnSummary)> {
        self.lobby.iter().map(|(id, s)| (id.as_str(), s))
    }
}
