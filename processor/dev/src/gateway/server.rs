//! The gateway's socket server: admits WebSocket upgrades as API Gateway with the stack's
//! authorizer does (the same [`auth::Gate`]; 401 with the reason otherwise), and writes a
//! [`WebSocketRecord`] for every `$connect`, message (routed by `$request.body.action`) and
//! `$disconnect`.

use super::{Connection, Gateway, Outbound, MAX_MESSAGE, ROUTES};
use crate::fold::{Input, Stream};
use crate::now_ms;
use crate::url::parse_query;
use auth::{
    Admitted, ConnectRequest, Gate, Refused, BEARER_PROTOCOL, CLIENT_ID_PARAM, TOKEN_PARAM,
};
use futures_util::{SinkExt, StreamExt};
use schemas::websocket::WEBSOCKET_SCHEMA_VERSION;
use schemas::{Record, WebSocketRecord, WsEventType};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{http, Error, Message};

/// Accepts WebSocket connections until `shutdown` flips; each connection's task holds a clone of
/// `done`, so the caller knows when they have all written their `$disconnect`.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    gate: Arc<Gate>,
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
                let ctx = Ctx { gateway: gateway.clone(), gate: gate.clone(), stream: stream.clone(), port, _done: done.clone() };
                tokio::spawn(connection(socket, peer, ctx));
            }
        }
    }
}

struct Ctx {
    gateway: Arc<Gateway>,
    gate: Arc<Gate>,
    stream: Stream,
    port: u16,
    _done: mpsc::Sender<()>,
}

/// What the upgrade request said, and who it was admitted as.
#[derive(Default)]
struct Upgrade {
    query: BTreeMap<String, String>,
    user_agent: Option<String>,
    admitted: Option<Admitted>,
}

async fn connection(socket: TcpStream, peer: SocketAddr, ctx: Ctx) {
    let upgrade = Arc::new(Mutex::new(Upgrade::default()));
    let seen = upgrade.clone();
    let gate = ctx.gate.clone();
    // The signature is tungstenite's `Callback`; its error type is not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = move |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
        let query = parse_query(req.uri().query().unwrap_or_default());
        let protocols = req
            .headers()
            .get(http::header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok());
        let request = ConnectRequest {
            token_param: query.get(TOKEN_PARAM).map(String::as_str),
            protocols,
            client_id_param: query.get(CLIENT_ID_PARAM).map(String::as_str),
        };
        let admitted = match gate.admit(&request, now_ms() / 1000) {
            Ok(admitted) => admitted,
            Err(refused) => {
                tracing::info!("websocket refused (401): {refused}");
                return Err(unauthorized(&refused));
            }
        };
        // A browser fails the connection unless the answer selects a subprotocol it offered.
        if request.offers_bearer() {
            resp.headers_mut().insert(
                http::header::SEC_WEBSOCKET_PROTOCOL,
                http::HeaderValue::from_static(BEARER_PROTOCOL),
            );
        }
        if let Ok(mut u) = seen.lock() {
            u.user_agent = req
                .headers()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            u.query = query;
            u.admitted = Some(admitted);
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
    let Upgrade {
        mut query,
        user_agent,
        admitted,
    } = std::mem::take(
        &mut *upgrade
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let Some(admitted) = admitted else { return };
    // The token is a credential: it stays out of the records, as API Gateway's authorizer
    // context does not carry it either.
    query.remove(TOKEN_PARAM);
    // What API Gateway gives every route of the connection as `$context.authorizer`: the
    // principal and the token's claims (nothing for an anonymous connection).
    let authorizer = if admitted.context.is_empty() {
        BTreeMap::new()
    } else {
        let mut map = admitted.context;
        map.insert("principalId".into(), admitted.principal.clone());
        map
    };
    let connection_id = ctx.gateway.connection_id();
    let connected_at = now_ms();
    tracing::info!(
        "websocket connect {connection_id} ({}) from {peer}",
        admitted.principal
    );
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
        client_id: Some(admitted.principal),
        authorizer,
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
                    // The library has queued the answering close frame: send it.
                    let _ = ws.flush().await;
                    break (frame.map_or(1005, |f| u16::from(f.code)), "Client closed the connection");
                }
                Some(Ok(_)) => {}
                Some(Err(Error::Capacity(e))) => {
                    tracing::info!("websocket {connection_id}: {e}: closed with 1009");
                    let reason = "Message too big: the limit is 128 KB";
                    let frame = CloseFrame { code: CloseCode::Size, reason: reason.into() };
                    let _ = ws.close(Some(frame)).await;
                    break (1009, reason);
                }
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
    tracing::info!("websocket disconnect {connection_id}: {code} {reason}");
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

/// The 401 a refused upgrade gets, with the reason as ingest words its errors.
fn unauthorized(refused: &Refused) -> ErrorResponse {
    let field = match refused {
        Refused::NoClientId => CLIENT_ID_PARAM,
        Refused::NoToken | Refused::Token(_) => TOKEN_PARAM,
    };
    let body = serde_json::json!({ "error": refused.to_string(), "field": field });
    let mut response = ErrorResponse::new(Some(body.to_string()));
    *response.status_mut() = http::StatusCode::UNAUTHORIZED;
    response
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
}
