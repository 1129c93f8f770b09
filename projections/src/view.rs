//! The client projection: what a reader of `client#{id}` sees.

use crate::presence::current_session;
use crate::{ClientState, Config, ConnectionState};
use serde::Serialize;
use std::collections::BTreeSet;

/// One client's derived state. Field names are a contract: scripts read `clientId`,
/// `connected`, `online`, `sessionId` and `topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientProjection {
    /// The client id.
    pub client_id: String,
    /// IoT-connected: the current session is open.
    pub connected: bool,
    /// IoT-connected or at least one live WebSocket connection.
    pub online: bool,
    /// The current session, while connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The current session's subscribed topics, while connected (empty otherwise).
    pub topics: Vec<String>,
    /// The current session's `versionNumber`, while connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_number: Option<u64>,
    /// While connected, when the current session connected; otherwise when it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// Why the current session ended, while not connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_disconnect_reason: Option<String>,
    /// Live WebSocket connections.
    pub connections: Vec<String>,
    /// Rooms the client is a member of.
    pub rooms: Vec<String>,
    /// Devices its live connections watch.
    pub watching: Vec<String>,
    /// The latest event time about this client.
    pub updated_at: u64,
    /// When the client was last seen: `now` while online; otherwise the newest time one of its
    /// IoT sessions or WebSocket connections had an event (none if never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
}

impl ClientProjection {
    /// Derives the view of `state` at `now`; `conn` looks up connection entries for watch lists.
    pub fn derive<'a>(
        client_id: &str,
        state: &ClientState,
        config: &Config,
        now: u64,
        conn: impl Fn(&str) -> Option<&'a ConnectionState>,
    ) -> Self {
        let current = current_session(&state.sessions, config.reset_horizon_ms);
        let open = current.filter(|(_, s)| s.is_open());
        let connections: Vec<String> = state
            .live_connections(now, config.connection_max_age_ms)
            .map(str::to_owned)
            .collect();
        let watching: BTreeSet<&str> = connections
            .iter()
            .filter_map(|c| conn(c))
            .filter_map(|c| c.watching.as_ref())
            .flat_map(|w| w.value.iter().map(String::as_str))
            .collect();
        let ended = current
            .and_then(|(_, s)| s.disconnect.as_ref())
            .filter(|_| open.is_none());
        let online = open.is_some() || !connections.is_empty();
        ClientProjection {
            client_id: client_id.to_owned(),
            connected: open.is_some(),
            online,
            session_id: open.map(|(id, _)| id.to_owned()),
            topics: open
                .map(|(_, s)| s.active_topics().map(str::to_owned).collect())
                .unwrap_or_default(),
            version_number: open.and_then(|(_, s)| s.version),
            since: match open {
                Some((_, s)) => s
                    .connected_at
                    .0
                    .or_else(|| s.topics.values().map(|t| t.ts).min()),
                None => ended.map(|d| d.ts),
            },
            last_disconnect_reason: ended
                .and_then(|d| d.value.reason.as_ref())
                .map(|r| r.as_str().to_owned()),
            connections,
            rooms: state.joined_rooms().map(str::to_owned).collect(),
            watching: watching.into_iter().map(str::to_owned).collect(),
            updated_at: state.updated_at,
            last_seen: match online {
                true => Some(now.max(state.last_seen)),
                false => (state.last_seen > 0).then_some(state.last_seen),
            },
        }
    }
}
