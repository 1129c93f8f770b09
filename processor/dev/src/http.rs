//! The HTTP port: API Gateway's `@connections` management API over the local gateway's sockets,
//! and the projections.
//!
//! - `POST /@connections/{id}` sends the body to the socket; `GET` describes the connection
//!   (`connectedAt`, `lastActiveAt`, `identity`, as API Gateway writes them); `DELETE` closes it. A gone id is 410
//!   `GoneException`. A stage prefix (`/local/@connections/{id}`) is accepted, so an AWS SDK
//!   client whose endpoint names a stage works too.
//! - `GET /clients/{clientId}` is one client's projection, `GET /clients` all of them: the
//!   shape `processor local --projections-out` writes.
//!
//! A deliberately small HTTP/1.1 responder (keep-alive, `Content-Length` bodies, no chunked
//! requests): this is a loopback development server, not a web server.

use super::fold::{Input, Stream};
use super::gateway::Gateway;
use super::url::percent_decode;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// The largest request head or body accepted.
const MAX_REQUEST: usize = 256 * 1024;

/// A response: status and JSON (or empty) body.
struct Response {
    status: u16,
    body: Option<String>,
}

impl Response {
    fn json(status: u16, body: &serde_json::Value) -> Self {
        Response {
            status,
            body: Some(body.to_string()),
        }
    }
    fn error(status: u16, kind: &str, message: &str) -> Self {
        Response::json(
            status,
            &serde_json::json!({"message": message, "__type": kind}),
        )
    }
}

/// Serves requests until `shutdown` flips.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    stream: Stream,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let _ = socket.set_nodelay(true);
                tokio::spawn(connection(socket, gateway.clone(), stream.clone()));
            }
        }
    }
}

async fn connection(mut socket: TcpStream, gateway: Arc<Gateway>, stream: Stream) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let Some((method, path, body, close)) = read_request(&mut socket, &mut buf).await else {
            return;
        };
        let response = handle(&method, &path, body, &gateway, &stream).await;
        let body = response.body.unwrap_or_default();
        let head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{}\r\n",
            response.status,
            reason(response.status),
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if socket.write_all(head.as_bytes()).await.is_err()
            || socket.write_all(body.as_bytes()).await.is_err()
            || close
        {
            return;
        }
    }
}

/// Reads one request: method, path, body, and whether the client asked to close.
async fn read_request(
    socket: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Option<(String, String, Vec<u8>, bool)> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target, version) = (first.next()?, first.next()?, first.next().unwrap_or(""));
    let mut length = 0usize;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().ok()?,
            "connection" if value.eq_ignore_ascii_case("close") => close = true,
            _ => {}
        }
    }
    if length > MAX_REQUEST {
        return None;
    }
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    let path = target.split('?').next().unwrap_or(target);
    // Still escaped: a path segment is decoded on its own, so that `a%2Fb` is the id `a/b`.
    Some((method.to_owned(), path.to_owned(), body, close))
}

async fn handle(
    method: &str,
    path: &str,
    body: Vec<u8>,
    gateway: &Gateway,
    stream: &Stream,
) -> Response {
    if let Some((_, id)) = path.split_once("/@connections/") {
        return connections(method, &percent_decode(id, false), body, gateway);
    }
    let client = match path.trim_end_matches('/') {
        "/clients" => None,
        p => match p.strip_prefix("/clients/") {
            Some(id) if !id.is_empty() && !id.contains('/') => Some(percent_decode(id, false)),
            _ => return Response::error(404, "NotFoundException", "no such resource"),
        },
    };
    if method != "GET" {
        return Response::error(405, "MethodNotAllowed", "only GET");
    }
    let (reply, answer) = oneshot::channel();
    let one = client.is_some();
    if stream
        .send(Input::Clients {
            client_id: client,
            reply,
        })
        .is_err()
    {
        return Response::error(503, "ServiceUnavailable", "the processor has stopped");
    }
    match answer.await {
        Ok(Ok(mut clients)) if one => match clients.pop() {
            Some(c) => Response::json(200, &serde_json::to_value(c).unwrap_or_default()),
            None => Response::error(404, "NotFoundException", "no such client"),
        },
        Ok(Ok(clients)) => Response::json(200, &serde_json::to_value(clients).unwrap_or_default()),
        Ok(Err(e)) => Response::error(500, "InternalServerError", &e),
        Err(_) => Response::error(503, "ServiceUnavailable", "the processor has stopped"),
    }
}

fn connections(method: &str, id: &str, body: Vec<u8>, gateway: &Gateway) -> Response {
    let gone = || Response::error(410, "GoneException", "the connection is gone");
    match method {
        "POST" => {
            if body.len() > super::gateway::MAX_MESSAGE {
                return Response::error(413, "PayloadTooLargeException", "over 128 KB");
            }
            if gateway.send(id, body) {
                Response {
                    status: 200,
                    body: None,
                }
            } else {
                gone()
            }
        }
        "GET" => match gateway.describe(id) {
            Some((connected_at, last_active_at, source_ip, user_agent)) => Response::json(
                200,
                &serde_json::json!({
                    "connectedAt": iso8601(connected_at),
                    "lastActiveAt": iso8601(last_active_at),
                    "identity": {"sourceIp": source_ip, "userAgent": user_agent},
                }),
            ),
            None => gone(),
        },
        "DELETE" => {
            if gateway.close(id) {
                Response {
                    status: 204,
                    body: None,
                }
            } else {
                gone()
            }
        }
        _ => Response::error(405, "MethodNotAllowed", "POST, GET or DELETE"),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        413 => "Payload Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// ms epoch as `2024-01-02T03:04:05.678Z`.
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or_default();
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_api_gateway() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
