//! The per-client entry (`client#{id}`): IoT sessions, the client's WebSocket connections and its
//! room memberships.

use crate::lattice::{Lww, Membership, Merge, Min};
use crate::membership::Earlier;
use crate::sessions::Sessions;
use crate::vecmap::VecMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the fold knows about one client id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientState {
    /// IoT sessions by `sessionIdentifier`.
    pub sessions: Sessions,
    /// The client's WebSocket connections by connection id.
    pub connections: BTreeMap<String, ConnSummary>,
    /// Durable room memberships: join/leave, or a chat-topic subscription.
    pub(crate) rooms: VecMap<Lww<Membership>>,
    /// The latest refused connection attempt (`connect_failed`): shown, never changes presence.
    pub last_connect_failure: Option<Lww<String>>,
    /// The latest event time of anything about this client.
    pub updated_at: u64,
    /// Whether any event was about this client. An entry created only to load a key the store
    /// lacked is not seen; once seen, a client stays listed even when compaction empties it.
    pub seen: bool,
    /// The newest time AWS stamped on a record about this client: a lifecycle event, or a route
    /// record of one of its connections. Unlike `updated_at` it leaves out `connection_gone`
    /// feedback, which the fold's now does not follow either (`World::clock_from_entries`).
    /// Entries written before it existed decode with 0.
    #[serde(default)]
    pub stamped_at: u64,
    /// Each room's membership writes other than its register in `rooms`: with it, whether the
    /// client was a member when a message was sent (`ClientState::member_at`). Entries written
    /// before it existed decode without any.
    #[serde(default)]
    pub(crate) earlier: VecMap<Earlier>,
    /// The newest time the client was seen: an IoT lifecycle event of one of its sessions (not a
    /// refused connection), or a route record of one of its WebSocket connections. A maximum of
    /// what each record says, so no arrival order changes it. Entries written before it existed
    /// decode with 0.
    #[serde(default)]
    pub last_seen: u64,
    /// Until when a connection that listed this client as a device (`set_notify_list`) may be
    /// live: its lifecycle events before then may have watchers to tell of a change of its
    /// connectivity (`presence_events`). A listing is no event about the device: it moves
    /// neither `seen` nor `updated_at`. Entries written before it existed decode with 0.
    #[serde(default)]
    pub watched_until: u64,
    /// What the other members of the client's presence rooms last heard of its presence
    /// (`online`), with the fold's now when they heard it (`room_presence::announce`). Unlike
    /// the rest of the entry it is bookkeeping of deliveries, not state a record implies: it
    /// depends on where batches were cut and on their nows, so the laws of the fold (any order,
    /// any cut) leave it out. `None` while the client is in no presence room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced: Option<Lww<bool>>,
    /// Whether a partial world listed the entry as changed since it last handed out its changes
    /// (`World::take_dirty`). Bookkeeping, not state: see [`Listed`].
    #[serde(skip)]
    pub(crate) listed: Listed,
}

/// A flag kept in an entry for its world's bookkeeping, which is not part of the entry's value:
/// any two flags are equal, and it is neither serialized nor merged.
///
/// The world lists each changed client once. Asking a set of changed ids on every event cost a
/// cache miss per event (the set is as large as the clients, and every event is about a client
/// last touched long ago); the entry's own flag sits in memory the event reads anyway.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Listed(pub(crate) bool);

impl PartialEq for Listed {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Listed {}

impl Merge for ClientState {
    fn join(&mut self, other: &Self) {
        self.sessions.join(&other.sessions);
        self.connections.join(&other.connections);
        crate::membership::join(
            &mut self.rooms,
            &mut self.earlier,
            &other.rooms,
            &other.earlier,
        );
        self.last_connect_failure.join(&other.last_connect_failure);
        self.updated_at = self.updated_at.max(other.updated_at);
        self.seen |= other.seen;
        self.stamped_at = self.stamped_at.max(other.stamped_at);
        self.last_seen = self.last_seen.max(other.last_seen);
        self.watched_until = self.watched_until.max(other.watched_until);
        self.announced.join(&other.announced);
    }
}

impl ClientState {
    /// The client's latest membership write for `room`, if any.
    pub fn membership(&self, room: &str) -> Option<&Lww<Membership>> {
        self.rooms.get(room)
    }

    /// Every membership write the client keeps (left rooms too, until compaction forgets them),
    /// in room order.
    pub fn memberships(&self) -> impl Iterator<Item = (&str, &Lww<Membership>)> {
        self.rooms.iter()
    }

    /// Whether no event was ever about this client (an entry loaded for a key the store lacked).
    pub fn is_empty(&self) -> bool {
        !self.seen
    }

    /// The client's live WebSocket connections at `now`, in id order.
    pub fn live_connections(&self, now: u64, max_age_ms: u64) -> impl Iterator<Item = &str> {
        self.connections
            .iter()
            .filter(move |(_, c)| c.is_live(now, max_age_ms))
            .map(|(id, _)| id.as_str())
    }

    /// The rooms the client is a member of, in order.
    pub fn joined_rooms(&self) -> impl Iterator<Item = &str> {
        self.rooms
            .iter()
            .filter(|(_, m)| m.value.is_joined())
            .map(|(r, _)| r)
    }
}

/// What a client (or the lobby) needs to know of a WebSocket connection to tell if it is live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnSummary {
    /// The connection's client, when known.
    pub client_id: Option<String>,
    /// API Gateway's `connectedAt`.
    pub connected_at: Min,
    /// When it was found closed: `$disconnect`, or a 410 Gone on delivery.
    pub closed_at: Min,
}

impl Merge for ConnSummary {
    fn join(&mut self, other: &Self) {
        // A connection has one client; `max` only makes the merge total should records disagree.
        if other.client_id > self.client_id {
            self.client_id.clone_from(&other.client_id);
        }
        self.connected_at.join(&other.connected_at);
        self.closed_at.join(&other.closed_at);
    }
}

impl ConnSummary {
    /// Live iff connected, not closed, and younger than the maximum connection age at `now`.
    /// The age bound is what ends connections whose `$disconnect` was lost.
    pub fn is_live(&self, now: u64, max_age_ms: u64) -> bool {
        match (self.connected_at.0, self.closed_at.0) {
            (Some(at), None) => now < at.saturating_add(max_age_ms),
            _ => false,
        }
    }

    /// Dead now means dead forever: closing is permanent and age only grows.
    pub fn is_dead(&self, now: u64, max_age_ms: u64) -> bool {
        self.closed_at.0.is_some() || self.is_expired(now, max_age_ms)
    }

    /// Past the maximum connection age at `now` in every copy of this summary, whatever else
    /// the copy knows. A connection is opened before it is closed, so when only its close is
    /// known, the close bounds its opening from above.
    ///
    /// Only such a summary may be dropped from an entry that several writers join: a dropped
    /// summary that was merely closed would come back live from a writer's older copy of the
    /// entry, while an expired one is dead in every copy.
    pub fn is_expired(&self, now: u64, max_age_ms: u64) -> bool {
        self.connected_at
            .0
            .or(self.closed_at.0)
            .is_some_and(|at| now >= at.saturating_add(max_age_ms))
    }
}
