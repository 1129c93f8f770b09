//! A local WebSocket gateway that behaves like an API Gateway WebSocket API: a connection id per
//! connection, the client id from the `clientId` query parameter (no id: 401, as ingest
//! answers), routing by `$request.body.action`, and for every `$connect`, message and
//! `$disconnect` the same `WebSocketRecord` (schema version 2) the ingest Lambda writes.
//!
//! `$disconnect` is written when the socket closes, whoever closes it; a connection is closed
//! after [`MAX_AGE`], API Gateway's maximum connection duration. The `@connections` API over
//! these sockets is in [`super::http`].
//!
//! This module holds the open connections ([`Gateway`]); [`server`] accepts them and turns what
//! they send into records.

pub mod server;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

/// API Gateway's maximum connection duration.
pub const MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);
/// API Gateway's WebSocket frame and message quota.
pub const MAX_MESSAGE: usize = 128 * 1024;
/// The custom routes: any other `action` goes to `$default`.
pub const ROUTES: [&str; 6] = [
    "sendmessage",
    "set_notify_list",
    "join",
    "leave",
    "history",
    "presence",
];

/// What the gateway tells a connection's task.
#[derive(Debug)]
pub enum Outbound {
    /// Send a text (or, not UTF-8, binary) frame.
    Data(Vec<u8>),
    /// Close the connection (`@connections` DELETE, shutdown).
    Close,
}

/// One open connection, as `GET @connections/{id}` describes it.
#[derive(Debug)]
pub struct Connection {
    tx: mpsc::UnboundedSender<Outbound>,
    /// When it connected, ms epoch.
    pub connected_at: u64,
    /// Its last message, ms epoch.
    pub last_active_at: Arc<AtomicU64>,
    /// The peer's address.
    pub source_ip: String,
    /// The `User-Agent` of the upgrade request.
    pub user_agent: Option<String>,
}

/// The open connections, by connection id.
#[derive(Debug)]
pub struct Gateway {
    connections: Mutex<HashMap<String, Connection>>,
    next: AtomicU64,
    max_age: Duration,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway::new(MAX_AGE)
    }
}

impl Gateway {
    /// A gateway closing connections after `max_age` ([`MAX_AGE`] unless testing).
    pub fn new(max_age: Duration) -> Self {
        Gateway {
            connections: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            max_age,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Connection>> {
        // A panic while holding this lock cannot leave the map half-updated (single inserts and
        // removes), so a poisoned lock is still usable.
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends data to a connection; `false` if it is gone (API Gateway's 410).
    pub fn send(&self, connection_id: &str, data: Vec<u8>) -> bool {
        self.lock()
            .get(connection_id)
            .is_some_and(|c| c.tx.send(Outbound::Data(data)).is_ok())
    }

    /// Closes a connection; `false` if it is gone.
    pub fn close(&self, connection_id: &str) -> bool {
        self.lock()
            .get(connection_id)
            .is_some_and(|c| c.tx.send(Outbound::Close).is_ok())
    }

    /// Closes every connection (shutdown).
    pub fn close_all(&self) {
        for c in self.lock().values() {
            let _ = c.tx.send(Outbound::Close);
        }
    }

    /// `GET @connections/{id}`: connectedAt, lastActiveAt (ms epoch), source ip, user agent.
    pub fn describe(&self, connection_id: &str) -> Option<(u64, u64, String, Option<String>)> {
        self.lock().get(connection_id).map(|c| {
            (
                c.connected_at,
                c.last_active_at.load(Ordering::Relaxed),
                c.source_ip.clone(),
                c.user_agent.clone(),
            )
        })
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// No open connection.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new connection id, shaped like API Gateway's (12 base64 characters ending in `=`), in
    /// the URL-safe alphabet so it goes in a path as it is.
    fn connection_id(&self) -> String {
        use base64::Engine;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let seed = crate::unique::unique_bits(n).to_le_bytes();
        let mut id = base64::engine::general_purpose::URL_SAFE.encode(&seed[..8]);
        id.truncate(11);
        id.push('=');
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_look_like_api_gateway_s() {
        let g = Gateway::default();
        let (a, b) = (g.connection_id(), g.connection_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.ends_with('='));
    }
}
