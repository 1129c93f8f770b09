//! A local WebSocket gateway that behaves like an API Gateway WebSocket API: a connection id per
//! connection, the client id from the `clientId` query parameter (no id: 401, as ingest
//! answers), routing by `$request.body.action`, and for every `$connect`, message and
//! `$disconnect` the same [`WebSocketRecord`] (schema version 2) the ingest Lambda writes.
//!
//! `$disconnect` is written when the socket closes, whoever closes it; a connection is closed
//! after [`MAX_AGE`], API Gateway's maximum connection duration. The `@connections` API over
//! these sockets is in [`super::http`].

use super::fold::{Input, Stream};
use super::now_ms;
use futures_util::{SinkExt, StreamExt};
use schemas::websocket::WEBSOCKET_SCHEMA_VERSION;
use schemas::{Record, WebSocketRecord, WsEventType};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{http, Message};

/// API Gateway's maximum connection duration.
pub const MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);
/// API Gateway's WebSocket frame and message quota.
pub const MAX_MESSAGE: usize = 128 * 1024;
/// The custom routes: any other `action` goes to `$default`.
pub const ROUTES: [&str; 5] = ["sendmessage", "set_notify_list", "join", "leave", "history"];

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
        let seed = id_bytes(n);
        let mut id = base64::engine::general_purpose::URL_SAFE.encode(&seed[..8]);
        id.truncate(11);
        id.push('=');
        id
    }
}

/// 8 bytes that differ per connection and per run.
fn id_bytes(n: u64) -> [u8; 16] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mix = nanos ^ (u128::from(n) << 64) ^ u128::from(std::process::id());
    // A cheap avalanche (splitmix64 on both halves) is plenty for ids that need only be unique.
    let split = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    #[allow(clippy::cast_possible_truncation)]
    let (hi, lo) = (split((mix >> 64) as u64 ^ n), split(mix as u64));
    let mut out = [0; 16];
    out[..8].copy_from_slice(&(hi ^ lo).to_le_bytes());
    out[8..].copy_from_slice(&lo.to_le_bytes());
    out
}

/// Accepts WebSocket connections until `shutdown` flips; each connection's task holds a clone of
/// `done`, so the caller knows when they have all written their `$disconnect`.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    stream: Stream,
    mut shutdown: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((socket, peer)) = accepted else { continue };
                let _ = socket.set_nodelay(true);
                let ctx = Ctx { gateway: gateway.clone(), stream: stream.clone(), port, _done: done.clone() };
                tokio::spawn(connection(socket, peer, ctx));
            }
        }
    }
}

struct Ctx {
    gateway: Arc<Gateway>,
    stream: Stream,
    port: u16,
    _done: mpsc::Sender<()>,
}

/// What the upgrade request said.
#[derive(Default)]
struct Upgrade {
    query: BTreeMap<String, String>,
    user_agent: Option<String>,
}

async fn connection(socket: TcpStream, peer: SocketAddr, ctx: Ctx) {
    let upgrade = Arc::new(Mutex::new(Upgrade::default()));
    let seen = upgrade.clone();
    // The signature is tungstenite's `Callback`; its error type is not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let query = parse_query(req.uri().query().unwrap_or_default());
        if query.get("clientId").is_none_or(|id| id.is_empty()) {
            let body = serde_json::json!({
                "error": "no client id: connect with ?clientId=...",
                "field": "clientId"
            });
            let mut refused = ErrorResponse::new(Some(body.to_string()));
            *refused.status_mut() = http::StatusCode::UNAUTHORIZED;
            return Err(refused);
        }
        if let Ok(mut u) = seen.lock() {
            u.user_agent = req
                .headers()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            u.query = query;
        }
        Ok(resp)
    };
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_MESSAGE);
    config.max_frame_size = Some(MAX_MESSAGE);
    let Ok(mut ws) =
        tokio_tungstenite::accept_hdr_async_with_config(socket, callback, Some(config)).await
    else {
        return;
    };
    let Upgrade { query, user_agent } = std::mem::take(
        &mut *upgrade
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let connection_id = ctx.gateway.connection_id();
    let connected_at = now_ms();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let last_active = Arc::new(AtomicU64::new(connected_at));
    ctx.gateway.lock().insert(
        connection_id.clone(),
        Connection {
            tx,
            connected_at,
            last_active_at: last_active.clone(),
            source_ip: peer.ip().to_string(),
            user_agent: user_agent.clone(),
        },
    );
    let base = WebSocketRecord {
        schema_version: WEBSOCKET_SCHEMA_VERSION,
        event_type: WsEventType::Connect,
        route_key: "$connect".into(),
        connection_id: connection_id.clone(),
        connected_at,
        request_time_epoch: connected_at,
        request_id: None,
        message_id: None,
        domain_name: Some(format!("127.0.0.1:{}", ctx.port)),
        stage: Some("local".into()),
        api_id: Some("local".into()),
        source_ip: Some(peer.ip().to_string()),
        user_agent,
        client_id: query.get("clientId").cloned(),
        authorizer: BTreeMap::new(),
        query_string_parameters: BTreeMap::new(),
        body: None,
        disconnect_status_code: None,
        disconnect_reason: None,
    };
    let mut requests = 0u64;
    let mut request_id = || {
        requests += 1;
        Some(format!("{connection_id}{requests:x}"))
    };
    let connect = WebSocketRecord {
        request_id: request_id(),
        query_string_parameters: query,
        ..base.clone()
    };
    let _ = ctx
        .stream
        .send(Input::Record(Record::WebSocket(Box::new(connect))));

    let expires = tokio::time::sleep(ctx.gateway.max_age);
    tokio::pin!(expires);
    let (code, reason) = loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    message(&ctx, &base, text.as_str().to_owned(), &last_active, request_id());
                }
                Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                    Ok(text) => message(&ctx, &base, text, &last_active, request_id()),
                    Err(_) => break (1003, "binary messages are not supported: send JSON text"),
                },
                Some(Ok(Message::Close(frame))) => {
                    break (frame.map_or(1005, |f| u16::from(f.code)), "Client closed the connection");
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break (1006, "Connection lost"),
            },
            outbound = rx.recv() => match outbound {
                Some(Outbound::Data(data)) => {
                    let frame = match String::from_utf8(data) {
                        Ok(text) => Message::text(text),
                        Err(e) => Message::binary(e.into_bytes()),
                    };
                    if ws.send(frame).await.is_err() {
                        break (1006, "Connection lost");
                    }
                }
                Some(Outbound::Close) | None => {
                    let _ = ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
                    break (1000, "Connection closed by the server");
                }
            },
            () = &mut expires => {
                let _ = ws.close(Some(CloseFrame { code: CloseCode::Away, reason: "Going away".into() })).await;
                break (1001, "Going away: the maximum connection duration");
            }
        }
    };
    ctx.gateway.lock().remove(&connection_id);
    let disconnect = WebSocketRecord {
        event_type: WsEventType::Disconnect,
        route_key: "$disconnect".into(),
        request_time_epoch: now_ms(),
        request_id: request_id(),
        disconnect_status_code: Some(i64::from(code)),
        disconnect_reason: Some(reason.into()),
        ..base
    };
    let _ = ctx
        .stream
        .send(Input::Record(Record::WebSocket(Box::new(disconnect))));
}

fn message(
    ctx: &Ctx,
    base: &WebSocketRecord,
    body: String,
    last_active: &AtomicU64,
    request_id: Option<String>,
) {
    let now = now_ms();
    last_active.store(now, Ordering::Relaxed);
    let record = WebSocketRecord {
        event_type: WsEventType::Message,
        route_key: route_key(&body),
        request_time_epoch: now,
        message_id: request_id.clone(),
        request_id,
        body: Some(body),
        ..base.clone()
    };
    let _ = ctx
        .stream
        .send(Input::Record(Record::WebSocket(Box::new(record))));
}

/// `$request.body.action`, when it names a route; `$default` otherwise.
pub fn route_key(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Action {
        action: Option<serde_json::Value>,
    }
    match serde_json::from_str::<Action>(body) {
        Ok(Action {
            action: Some(serde_json::Value::String(a)),
        }) if ROUTES.contains(&a.as_str()) => a,
        _ => "$default".into(),
    }
}

/// A URL query string, percent-decoded.
pub fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Decodes `%XX` escapes, and `+` as a space when `plus_is_space` (queries, not paths).
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_action() {
        assert_eq!(route_key(r#"{"action":"sendmessage"}"#), "sendmessage");
        assert_eq!(route_key(r#"{"action":"dance"}"#), "$default");
        assert_eq!(route_key("hello"), "$default");
        assert_eq!(route_key(r#"{"action":3}"#), "$default");
    }

    #[test]
    fn decodes_queries() {
        let q = parse_query("clientId=al%20ice&x=a+b&flag");
        assert_eq!(q["clientId"], "al ice");
        assert_eq!(q["x"], "a b");
        assert_eq!(q["flag"], "");
    }

    #[test]
    fn connection_ids_look_like_api_gateway_s() {
        let g = Gateway::default();
        let (a, b) = (g.connection_id(), g.connection_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 12);
        assert!(a.ends_with('='));
    }
}
