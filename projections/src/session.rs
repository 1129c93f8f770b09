//! [`SessionRecord`]: what is known of one IoT session, one per `sessionIdentifier`. A client's
//! records are its [`Sessions`](crate::Sessions); the presence rule over them is [`crate::presence`].

use crate::inline_str::InlineStr;
use crate::lattice::{Lww, Membership, Merge, Min};
use crate::vecmap::VecMap;
use schemas::DisconnectReason;
use serde::{Deserialize, Serialize};

/// What is known of one MQTT session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// `versionNumber` from the session's connect or disconnect (they share it).
    pub version: Option<u64>,
    /// When the session connected, if its `connected` event was seen.
    pub connected_at: Min,
    /// How the session ended, if its `disconnected` event was seen.
    pub disconnect: Option<Lww<DisconnectInfo>>,
    /// Per-topic subscription state: last writer wins by timestamp, unsubscribe wins ties.
    pub(crate) topics: VecMap<Lww<Membership>, InlineStr>,
    /// The latest timestamp of any of the session's events.
    pub last_ts: u64,
    /// Whether a `subscribed` event of the session was seen: with a connect, what makes a session
    /// open (an `unsubscribed` alone does not).
    pub subscribed: bool,
}

/// A session's end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DisconnectInfo {
    /// AWS's reason, unknown values kept.
    pub reason: Option<DisconnectReason>,
    /// Whether the client asked to disconnect.
    pub client_initiated: Option<bool>,
}

impl Merge for SessionRecord {
    fn join(&mut self, other: &Self) {
        self.version = self.version.max(other.version);
        self.connected_at.join(&other.connected_at);
        self.disconnect.join(&other.disconnect);
        self.topics.join(&other.topics);
        self.last_ts = self.last_ts.max(other.last_ts);
        self.subscribed |= other.subscribed;
    }
}

impl SessionRecord {
    /// Whether the session, were it current, makes the client connected.
    pub fn is_open(&self) -> bool {
        self.disconnect.is_none() && (self.connected_at.0.is_some() || self.subscribed)
    }

    /// The topics subscribed to now, in order.
    pub fn active_topics(&self) -> impl Iterator<Item = &str> {
        self.topics
            .iter()
            .filter(|(_, s)| s.value.is_joined())
            .map(|(t, _)| t)
    }

    /// The rule's ranking key: version (none lowest), then `last_ts`, then the id.
    pub(crate) fn rank<'a>(&self, id: &'a str) -> (Option<u64>, u64, &'a str) {
        (self.version, self.last_ts, id)
    }
}
