//! The per-connection entry (`conn#{id}`) and the lobby (every connection, for broadcasts).

use crate::client::ConnSummary;
use crate::id::{Lookup, Map};
use crate::lattice::{Lww, Membership, Merge};
use crate::membership::Earlier;
use crate::vecmap::VecMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the fold knows about one WebSocket connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionState {
    /// Client, connect time and closing.
    pub summary: ConnSummary,
    /// The devices this connection watches: `set_notify_list` replaces the whole list.
    pub watching: Option<Lww<Vec<String>>>,
    /// `$context.identity.sourceIp`, for the usage reply's connection info.
    pub source_ip: Option<String>,
    /// Rooms joined or left on this connection. Kept here as well as on the client, so that a
    /// `join` folded before the connection's client is known still counts once it is.
    pub(crate) rooms: VecMap<Lww<Membership>>,
    /// The latest event time of anything about this connection.
    pub last_ts: u64,
    /// The newest time AWS stamped on a route record of this connection: `last_ts` without
    /// `connection_gone` feedback (see `ClientState::stamped_at`). Entries written before it
    /// existed decode with 0.
    #[serde(default)]
    pub stamped_at: u64,
    /// Each room's membership writes on this connection other than its register in `rooms`,
    /// copied into the client with the register (`ClientState::member_at`). Entries written
    /// before it existed decode without any.
    #[serde(default)]
    pub(crate) earlier: VecMap<Earlier>,
    /// What the connection sent, counted against its rates (`limits`): bookkeeping that
    /// depends on the order records are folded in. Entries written before it existed decode
    /// with empty buckets.
    #[serde(default)]
    pub rate: crate::limits::RateState,
}

impl Merge for ConnectionState {
    fn join(&mut self, other: &Self) {
        self.summary.join(&other.summary);
        self.watching.join(&other.watching);
        if other.source_ip > self.source_ip {
            self.source_ip.clone_from(&other.source_ip);
        }
        crate::membership::join(
            &mut self.rooms,
            &mut self.earlier,
            &other.rooms,
            &other.earlier,
        );
        self.last_ts = self.last_ts.max(other.last_ts);
        self.stamped_at = self.stamped_at.max(other.stamped_at);
        self.rate.join(&other.rate);
    }
}

impl ConnectionState {
    /// Whether this connection watches `device`.
    pub fn watches(&self, device: &str) -> bool {
        self.watching
            .as_ref()
            .is_some_and(|w| w.value.binary_search_by(|d| d.as_str().cmp(device)).is_ok())
    }

    /// Whether this connection's list of devices was replaced, after `listed_at`, by one
    /// without `device`: then a watcher recorded at `listed_at` is stale in every copy of the
    /// device's entry. A copy of the connection read before that list was written (another
    /// writer's commit still landing) has an older list, or none, and proves nothing.
    pub fn stopped_watching(&self, device: &str, listed_at: u64) -> bool {
        self.watching
            .as_ref()
            .is_some_and(|w| w.ts > listed_at && !self.watches(device))
    }
}

/// Every known connection (`lobby`), for `sendmessage` without a room. Expired connections are
/// dropped when compacting (see `compact`: a merely closed one stays until then, so that no
/// writer's older copy can bring it back live); a late record about one brings back its closed
/// summary from its own `conn#` entry, so dropping never revives anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LobbyState {
    /// Connections by id.
    pub connections: BTreeMap<String, ConnSummary>,
}

impl Merge for LobbyState {
    fn join(&mut self, other: &Self) {
        self.connections.join(&other.connections);
    }
}

/// A chat room (`room#{id}`): its members, last writer wins per member, leaving wins ties.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomState {
    /// Membership by client id.
    pub(crate) members: Map<Lww<Membership>>,
    /// The newest membership write: how compaction tells a member's leave is old enough to
    /// forget. (Absent from items written before it existed: read as 0, forgetting nothing.)
    #[serde(default)]
    pub updated_at: u64,
}

impl Merge for RoomState {
    fn join(&mut self, other: &Self) {
        self.members.join(&other.members);
        self.updated_at = self.updated_at.max(other.updated_at);
    }
}

impl RoomState {
    /// The latest membership write of `client`, if any.
    pub fn member(&self, client: &str) -> Option<&Lww<Membership>> {
        self.members.get(client)
    }

    /// Every member's latest write, left ones too (until compaction forgets them), unordered.
    pub fn members(&self) -> impl Iterator<Item = (&str, &Lww<Membership>)> {
        self.members.iter().map(|(c, m)| (c.as_str(), m))
    }

    /// Joins a membership write of `client` into the room; true if that changed it.
    pub fn add(&mut self, client: &str, write: &Lww<Membership>) -> bool {
        self.updated_at = self.updated_at.max(write.ts);
        // One lookup, whether or not the client is a member yet.
        match self.members.entry_ref(&Lookup(client)) {
            hashbrown::hash_map::EntryRef::Occupied(mut m) => {
                // `Lww::join`, telling whether it took the write.
                let newer = (write.ts, write.value) > (m.get().ts, m.get().value);
                if newer {
                    *m.get_mut() = write.clone();
                }
                newer
            }
            hashbrown::hash_map::EntryRef::Vacant(slot) => {
                slot.insert(write.clone());
                true
            }
        }
    }

    /// Who may have been a member at `t`, in order: the members whose latest write is a join
    /// (made before `t` or not: an earlier join may precede it), and those who left after `t`.
    /// [`ClientState::member_at`](crate::ClientState::member_at) tells which were.
    pub fn members_around(&self, t: u64) -> impl Iterator<Item = (&str, &Lww<Membership>)> {
        let mut members: Vec<(&str, &Lww<Membership>)> = self
            .members
            .iter()
            .filter(|(_, m)| m.value.is_joined() || m.ts > t)
            .map(|(c, m)| (c.as_str(), m))
            .collect();
        members.sort_unstable_by_key(|(c, _)| *c);
        members.into_iter()
    }

    /// The members now, in client id order. (Members are hashed for the hot path, which writes
    /// one membership at a time; readers sort the few they need.)
    pub fn joined(&self) -> impl Iterator<Item = &str> {
        let mut joined: Vec<&str> = self
            .members
            .iter()
            .filter(|(_, m)| m.value.is_joined())
            .map(|(c, _)| c.as_str())
            .collect();
        joined.sort_unstable();
        joined.into_iter()
    }
}

/// A device's watchers (`device#{id}`): an index of connections that asked for it. The
/// connection's own list is the truth; the index is a superset checked against it, so a
/// `set_notify_list` arriving late can never make a connection watch what it no longer asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Connection id to the latest time it listed the device.
    pub watchers: BTreeMap<String, u64>,
}

impl Merge for DeviceState {
    fn join(&mut self, other: &Self) {
        self.watchers.join(&other.watchers);
    }
}
