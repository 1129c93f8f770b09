//! Keys and entries: how the world is cut into items a store can load and write one at a time.
//! The names are the DynamoDB `pk`s of docs/architecture.md, Table layout.

use crate::grace::PendingState;
use crate::history::{History, Message};
use crate::lattice::{Lww, Membership, Merge};
use crate::{ClientState, ConnSummary, ConnectionState, DeviceState, LobbyState, RoomState};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The key of one entry of the world.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Key {
    // Parts of rooms and of the lobby order first, so that writes handed out in key order write
    // them before the clients and connections whose change decided them (see `Step::Commit`).
    /// One member of a room as WebSocket `join` and `leave` write it (`room#{chatId}`,
    /// `member#{clientId}`): written, never loaded on its own. Its entry is the member's
    /// last-writer-wins register, so a store joins it into what it holds (DynamoDB: a put on
    /// condition that the stored register is older) and it never conflicts. Any shard may write
    /// it: each of a client's connections may join.
    Member {
        /// The room.
        room: String,
        /// The member.
        client: String,
    },
    /// One member of a room as its MQTT subscriptions to the room's chat topic write it
    /// (`room#{chatId}`, `subscriber#{clientId}`): as [`Key::Member`], but only the shard of the
    /// client's lifecycle events (keyed by client id) writes it, so a store may write it without
    /// a condition. A room's register for a client is the join of both.
    Subscriber {
        /// The room.
        room: String,
        /// The subscriber.
        client: String,
    },
    /// One connection's summary in the lobby (`lobby#{bucket}`, `conn#{connectionId}`):
    /// written, never loaded on its own (a driver loads the lobby whole). Only the connection's
    /// own shard writes it, and the summary only grows, so a store may write it without a
    /// condition.
    InLobby(String),
    /// One watcher of a device (`device#{deviceId}`, `watcher#{connectionId}`): written, never
    /// loaded on its own (a driver loads the device whole). Its entry is when the connection
    /// last listed the device, which only grows, and only the connection's own shard writes it,
    /// so a store may write it without a condition.
    Watcher {
        /// The device.
        device: String,
        /// The watching connection.
        connection: String,
    },
    /// One message of a room's history (`room#{chatId}`, `timeline#{sentAt}#{eventId}`):
    /// written once, by the shard of the message's sender, never loaded on its own (a driver
    /// loads a room's history since a time: [`Key::History`]). A store expires it after the
    /// history's length ([`Config::history_ms`](crate::Config::history_ms)).
    Message {
        /// The room.
        room: String,
        /// When it was sent (ms).
        sent_at: u64,
        /// The `sendmessage` record's id.
        event_id: schemas::EventId,
    },
    /// `client#{clientId}`.
    Client(String),
    /// `conn#{connectionId}`.
    Connection(String),
    /// `room#{chatId}`: every member of the room. A driver loads it whole (a DynamoDB `Query` of
    /// the room's partition); a batch writes its members one at a time ([`Key::Member`]), or,
    /// to a store that keeps rooms whole (not [`World::parts_apart`](crate::World::parts_apart)),
    /// the room.
    Room(String),
    /// `history#{chatId}`: a room's message history, the messages sent at or after `since` (ms;
    /// 0 for all of it). A store that keeps histories whole loads and writes all of it whatever
    /// `since` says; a DynamoDB table loads the newest
    /// [`Config::history_max`](crate::Config::history_max) messages since `since` of the room's
    /// partition (a `Query`), and a batch writes it a message at a time ([`Key::Message`]).
    History {
        /// The room.
        room: String,
        /// Only the messages sent at or after this are asked for.
        since: u64,
    },
    /// `device#{deviceId}`: the connections that listed the device. A driver loads it whole (a
    /// DynamoDB `Query` of its partition); a batch writes it a watcher at a time
    /// ([`Key::Watcher`]), or whole, as a room.
    Device(String),
    /// `lobby`: every connection, for broadcasts. A driver loads it whole (DynamoDB: a `Query`
    /// of each of its partitions); a batch writes it one connection at a time ([`Key::InLobby`]),
    /// or whole, as a room.
    Lobby,
    /// `watermark`: the newest event time folded, the fold's notion of now.
    Watermark,
    /// `pending#{shardId}`: the `offline` announcements the shard's batches put off for the
    /// presence grace, which the shard's ticks find (`grace`). Only that shard's batches write
    /// it, one after another.
    Pending(String),
}

/// One entry of the world, as stores keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Entry {
    /// For [`Key::Client`].
    Client(ClientState),
    /// For [`Key::Connection`].
    Connection(ConnectionState),
    /// For [`Key::Room`].
    Room(RoomState),
    /// For [`Key::Member`] and [`Key::Subscriber`]: the room's register for the client.
    Member(Lww<Membership>),
    /// For [`Key::InLobby`]: the connection's summary.
    Summary(ConnSummary),
    /// For [`Key::Watcher`]: when the connection last listed the device (ms).
    ListedAt(u64),
    /// For [`Key::Message`].
    Message(Message),
    /// For [`Key::History`].
    History(History),
    /// For [`Key::Device`].
    Device(DeviceState),
    /// For [`Key::Lobby`].
    Lobby(LobbyState),
    /// For [`Key::Watermark`].
    Watermark(u64),
    /// For [`Key::Pending`].
    Pending(PendingState),
}

/// An [`Entry`] borrowed from a world, to encode it without copying it: it serializes exactly
/// as the `Entry` it borrows from (same enum name, variants and fields), so bytes written from
/// either read back as an `Entry`.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename = "Entry")]
pub enum EntryRef<'a> {
    /// See [`Entry::Client`].
    Client(&'a ClientState),
    /// See [`Entry::Connection`].
    Connection(&'a ConnectionState),
    /// See [`Entry::Room`].
    Room(&'a RoomState),
    /// See [`Entry::Member`].
    Member(&'a Lww<Membership>),
    /// See [`Entry::Summary`].
    Summary(&'a ConnSummary),
    /// See [`Entry::ListedAt`].
    ListedAt(u64),
    /// See [`Entry::Message`].
    Message(&'a Message),
    /// See [`Entry::History`].
    History(&'a History),
    /// See [`Entry::Device`].
    Device(&'a DeviceState),
    /// See [`Entry::Lobby`].
    Lobby(&'a LobbyState),
    /// See [`Entry::Watermark`].
    Watermark(u64),
    /// See [`Entry::Pending`].
    Pending(&'a PendingState),
}

impl EntryRef<'_> {
    /// A copy of the entry.
    pub fn to_entry(self) -> Entry {
        match self {
            EntryRef::Client(s) => Entry::Client(s.clone()),
            EntryRef::Connection(s) => Entry::Connection(s.clone()),
            EntryRef::Room(s) => Entry::Room(s.clone()),
            EntryRef::Member(m) => Entry::Member(m.clone()),
            EntryRef::Summary(s) => Entry::Summary(s.clone()),
            EntryRef::ListedAt(t) => Entry::ListedAt(t),
            EntryRef::Message(m) => Entry::Message(m.clone()),
            EntryRef::History(h) => Entry::History(h.clone()),
            EntryRef::Device(s) => Entry::Device(s.clone()),
            EntryRef::Lobby(s) => Entry::Lobby(s.clone()),
            EntryRef::Watermark(w) => Entry::Watermark(w),
            EntryRef::Pending(p) => Entry::Pending(p.clone()),
        }
    }
}

impl Entry {
    /// The entry, borrowed.
    pub fn as_ref(&self) -> EntryRef<'_> {
        match self {
            Entry::Client(s) => EntryRef::Client(s),
            Entry::Connection(s) => EntryRef::Connection(s),
            Entry::Room(s) => EntryRef::Room(s),
            Entry::Member(m) => EntryRef::Member(m),
            Entry::Summary(s) => EntryRef::Summary(s),
            Entry::ListedAt(t) => EntryRef::ListedAt(*t),
            Entry::Message(m) => EntryRef::Message(m),
            Entry::History(h) => EntryRef::History(h),
            Entry::Device(s) => EntryRef::Device(s),
            Entry::Lobby(s) => EntryRef::Lobby(s),
            Entry::Watermark(w) => EntryRef::Watermark(*w),
            Entry::Pending(p) => EntryRef::Pending(p),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Client(id) => write!(f, "client#{id}"),
            Key::Connection(id) => write!(f, "conn#{id}"),
            Key::Room(id) => write!(f, "room#{id}"),
            // A pk and an sk: no string form parses back to a member, nor needs to (no store keys
            // a member by one string).
            Key::Member { room, client } => write!(f, "room#{room} member#{client}"),
            Key::Subscriber { room, client } => write!(f, "room#{room} subscriber#{client}"),
            Key::InLobby(id) => write!(f, "lobby conn#{id}"),
            Key::Watcher { device, connection } => {
                write!(f, "device#{device} watcher#{connection}")
            }
            // Zero-padded, so that a message's sort key orders by time.
            Key::Message {
                room,
                sent_at,
                event_id,
            } => write!(f, "room#{room} timeline#{sent_at:013}#{event_id}"),
            Key::History { room, since: 0 } => write!(f, "history#{room}"),
            Key::History { room, since } => write!(f, "history#{room} since {since}"),
            Key::Device(id) => write!(f, "device#{id}"),
            Key::Lobby => f.write_str("lobby"),
            Key::Watermark => f.write_str("watermark"),
            Key::Pending(shard) => write!(f, "pending#{shard}"),
        }
    }
}

impl Key {
    /// The key of the whole entry this one is part of: a member's room; any other key itself.
    /// A store that keeps rooms whole writes a member's room instead.
    pub fn whole(&self) -> Key {
        match self {
            Key::Member { room, .. } | Key::Subscriber { room, .. } => Key::Room(room.clone()),
            Key::InLobby(_) => Key::Lobby,
            Key::Watcher { device, .. } => Key::Device(device.clone()),
            Key::Message { room, .. } => Key::History {
                room: room.clone(),
                since: 0,
            },
            key => key.clone(),
        }
    }

    /// The key a store that keeps entries whole stores this one under: a room's history since
    /// any time is the whole history ([`Key::History`] since 0); any other key itself. Such a
    /// store answers a history since a time with all of it, which holds the messages asked for.
    pub fn stored(&self) -> std::borrow::Cow<'_, Key> {
        match self {
            Key::History { room, since } if *since > 0 => std::borrow::Cow::Owned(Key::History {
                room: room.clone(),
                since: 0,
            }),
            key => std::borrow::Cow::Borrowed(key),
        }
    }

    /// Whether this is a part of a whole entry: a room's member or subscriber, a connection of
    /// the lobby, a device's watcher, or a message of a room's history.
    pub fn is_part(&self) -> bool {
        matches!(
            self,
            Key::Member { .. }
                | Key::Subscriber { .. }
                | Key::InLobby(_)
                | Key::Watcher { .. }
                | Key::Message { .. }
        )
    }

    /// Joins `part`, the entry of this part key, into `whole`, the entry of [`Key::whole`]
    /// (`None`: none yet): how a store that keeps rooms, the lobby and devices whole takes a
    /// part. `None`
    /// when this is no part key or `part` is not its entry.
    pub fn join_part(&self, whole: Option<Entry>, part: &Entry) -> Option<Entry> {
        match (self, part) {
            (Key::Member { client, .. } | Key::Subscriber { client, .. }, Entry::Member(m)) => {
                let mut room = match whole {
                    Some(Entry::Room(room)) => room,
                    _ => RoomState::default(),
                };
                room.add(client, m);
                Some(Entry::Room(room))
            }
            (Key::InLobby(id), Entry::Summary(summary)) => {
                let mut lobby = match whole {
                    Some(Entry::Lobby(lobby)) => lobby,
                    _ => LobbyState::default(),
                };
                lobby
                    .connections
                    .entry(id.clone())
                    .or_default()
                    .join(summary);
                Some(Entry::Lobby(lobby))
            }
            (Key::Watcher { connection, .. }, Entry::ListedAt(at)) => {
                let mut device = match whole {
                    Some(Entry::Device(device)) => device,
                    _ => DeviceState::default(),
                };
                let listed = device.watchers.entry(connection.clone()).or_default();
                *listed = (*listed).max(*at);
                Some(Entry::Device(device))
            }
            (Key::Message { .. }, Entry::Message(m)) => {
                let mut history = match whole {
                    Some(Entry::History(history)) => history,
                    _ => History::default(),
                };
                history.add(m);
                Some(Entry::History(history))
            }
            _ => None,
        }
    }

    /// The room and client of a member or subscriber key.
    pub fn member(&self) -> Option<(&str, &str)> {
        match self {
            Key::Member { room, client } | Key::Subscriber { room, client } => Some((room, client)),
            _ => None,
        }
    }
}

/// A string that is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a projection key: {0:?} (expected client#, conn#, room#, history#, device#, lobby or watermark)"
)]
pub struct KeyError(pub String);

impl FromStr for Key {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, id) = match s.split_once('#') {
            Some((kind, id)) if !id.is_empty() => (kind, id.to_owned()),
            _ => {
                return match s {
                    "lobby" => Ok(Key::Lobby),
                    "watermark" => Ok(Key::Watermark),
                    _ => Err(KeyError(s.to_owned())),
                }
            }
        };
        match kind {
            "client" => Ok(Key::Client(id)),
            "conn" => Ok(Key::Connection(id)),
            "room" => Ok(Key::Room(id)),
            "device" => Ok(Key::Device(id)),
            "history" => Ok(Key::History { room: id, since: 0 }),
            "pending" => Ok(Key::Pending(id)),
            _ => Err(KeyError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests;
