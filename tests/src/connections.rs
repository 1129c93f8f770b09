//! A small HTTP/1.1 server playing API Gateway's `@connections` API, which moto does not
//! implement (its connections never go): it answers by connection id, 410 `GoneException` for
//! ids starting with `gone` or set gone ([`Connections::set_gone`]), 413
//! `PayloadTooLargeException` for `big`, 500 for `boom`, 429 `LimitExceededException` for
//! `throttled`, 403 `ForbiddenException` for `forbidden`, and 200 otherwise (to a `GET`, the
//! connection's description as API Gateway writes it), and records what it was sent.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the server received: method, decoded path, body.
#[derive(Debug, Clone)]
pub struct Received {
    /// `GET`, `POST` or `DELETE`.
    pub method: String,
    /// The path, percent-decoded: `/prod/@connections/{id}`.
    pub path: String,
    /// The request's body.
    pub body: Vec<u8>,
}

/// The fake `@connections` endpoint on `127.0.0.1:0`, stage `prod`.
#[derive(Debug)]
pub struct Connections {
    /// `http://127.0.0.1:{port}/prod`: the endpoint override of an API Gateway client.
    pub endpoint: String,
    state: Arc<State>,
}

/// What the server shares with its connections' tasks.
#[derive(Debug, Default)]
struct State {
    received: Mutex<Vec<Received>>,
    gone: Mutex<HashSet<String>>,
}

impl Connections {
    /// Starts the server on a tokio runtime.
    ///
    /// # Errors
    /// No loopback port could be bound.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}/prod", listener.local_addr()?);
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    // A broken request fails the test through the client's error, not here.
                    let _ = serve(stream, state).await;
                });
            }
        });
        Ok(Connections { endpoint, state })
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// From now on `connection_id` is gone (410), whatever its name.
    pub fn set_gone(&self, connection_id: &str) {
        if let Ok(mut gone) = self.state.gone.lock() {
            gone.insert(connection_id.to_owned());
        }
    }
}

/// `%XX` decoding of a request path.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves the requests of one TCP connection (HTTP/1.1 keep-alive, `Content-Length` bodies).
async fn serve(mut stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        // Read up to the end of the headers.
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_owned();
        let path = percent_decode(request_line.next().unwrap_or_default());
        let length: usize = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = buf[head_end..head_end + length].to_vec();
        buf.drain(..head_end + length);

        let id = path.rsplit('/').next().unwrap_or_default().to_owned();
        let (status, reason, code) = if !path.starts_with("/prod/@connections/") {
            (404, "Not Found", Some("NotFoundException"))
        } else if id.starts_with("gone") || state.gone.lock().is_ok_and(|g| g.contains(&id)) {
            (410, "Gone", Some("GoneException"))
        } else if id == "big" {
            (413, "Payload Too Large", Some("PayloadTooLargeException"))
        } else if id == "boom" {
            (500, "Internal Server Error", None)
        } else if id == "throttled" {
            (429, "Too Many Requests", Some("LimitExceededException"))
        } else if id == "forbidden" {
            (403, "Forbidden", Some("ForbiddenException"))
        } else {
            (200, "OK", None)
        };
        let get = method == "GET";
        if let Ok(mut received) = state.received.lock() {
            received.push(Received { method, path, body });
        }
        let body = match code {
            Some(code) => format!(r#"{{"message":"{code} from the test server"}}"#),
            None if status == 200 && get => LAST_ACTIVE_JSON.to_owned(),
            None if status == 200 => String::new(),
            None => r#"{"message":"Internal server error"}"#.to_owned(),
        };
        let mut response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(code) = code {
            response.push_str(&format!("x-amzn-ErrorType: {code}\r\n"));
        }
        response.push_str("Content-Type: application/json\r\n\r\n");
        response.push_str(&body);
        stream.write_all(response.as_bytes()).await?;
    }
}

/// What the server answers a `GET` of a live connection, as API Gateway writes it.
const LAST_ACTIVE_JSON: &str = r#"{"connectedAt":"2024-11-23T08:20:00.000Z","identity":{"sourceIp":"192.0.2.1","userAgent":"wscat"},"lastActiveAt":"2024-11-23T08:25:00.000Z"}"#;

/// An SDK configuration for the server: test credentials, a region, and no SDK retries, so a
/// retryable answer reaches the adapter at once instead of after the SDK's backoff.
pub fn sdk_config() -> aws_config::SdkConfig {
    use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build()
}
