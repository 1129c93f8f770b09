//! The API Gateway sink against a small HTTP/1.1 server playing the `@connections` API (moto does
//! not implement it): it answers by connection id, 410 `GoneException` for ids starting with
//! `gone`, 413 `PayloadTooLargeException` for `big`, 500 for `boom`, 429 `LimitExceededException`
//! for `throttled`, 403 `ForbiddenException` for `forbidden`, and 200 otherwise, and records what
//! it was sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use processor::sinks::{ApiGatewaySink, DeliveryOutcome, DeliverySink};
use projections::{Channel, Delivery};
use schemas::EventId;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the server received: method, decoded path, body.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// The fake `@connections` endpoint on `127.0.0.1:0`.
struct Connections {
    endpoint: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Connections {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/prod", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    // A broken request fails the test through the sink's error, not here.
                    let _ = serve(stream, log).await;
                });
            }
        });
        Connections { endpoint, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
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
async fn serve(mut stream: TcpStream, log: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
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
        } else if id.starts_with("gone") {
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
        log.lock().unwrap().push(Received { method, path, body });
        let body = match code {
            Some(code) => format!(r#"{{"message":"{code} from the test server"}}"#),
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

fn to(connection_id: &str) -> Delivery {
    Delivery::new(
        EventId(7),
        Channel::WebSocket {
            connection_id: connection_id.into(),
        },
        Some("alice".into()),
        serde_json::json!({"type": "message", "from": "carol", "message": "hello"}),
    )
}

#[tokio::test]
async fn sent_posts_the_payload_to_the_connection() {
    let server = Connections::start().await;
    let sink = ApiGatewaySink::new(&support::sdk_config(), &server.endpoint);
    let outcome = sink.deliver(&to("BxQ3vdxvjoECFxQ=")).await;
    assert_eq!(outcome, Ok(DeliveryOutcome::Sent));
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "POST");
    assert_eq!(received[0].path, "/prod/@connections/BxQ3vdxvjoECFxQ=");
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"type": "message", "from": "carol", "message": "hello"})
    );
}

#[tokio::test]
async fn gone_is_an_outcome() {
    let server = Connections::start().await;
    let sink = ApiGatewaySink::new(&support::sdk_config(), &server.endpoint);
    assert_eq!(sink.deliver(&to("gone-1")).await, Ok(DeliveryOutcome::Gone));
    // Other connections are unaffected.
    assert_eq!(sink.deliver(&to("alive")).await, Ok(DeliveryOutcome::Sent));
}

#[tokio::test]
async fn too_large_from_the_service_and_before_sending() {
    let server = Connections::start().await;
    let sink = ApiGatewaySink::new(&support::sdk_config(), &server.endpoint);
    assert_eq!(
        sink.deliver(&to("big")).await,
        Ok(DeliveryOutcome::TooLarge)
    );
    // Over the 128 KB quota: refused without a call.
    let mut huge = to("alive");
    huge.payload = serde_json::json!({"type": "message", "message": "x".repeat(200 * 1024)});
    let before = server.received().len();
    assert_eq!(sink.deliver(&huge).await, Ok(DeliveryOutcome::TooLarge));
    assert_eq!(server.received().len(), before);
}

#[tokio::test]
async fn server_errors_and_throttling_are_retryable_forbidden_is_not() {
    let server = Connections::start().await;
    let sink = ApiGatewaySink::new(&support::sdk_config(), &server.endpoint);
    let err = sink.deliver(&to("boom")).await.unwrap_err();
    assert!(err.retryable, "{err}");
    let err = sink.deliver(&to("throttled")).await.unwrap_err();
    assert!(err.retryable, "{err}");
    let err = sink.deliver(&to("forbidden")).await.unwrap_err();
    assert!(!err.retryable, "{err}");
    assert!(err.message.contains("forbidden"), "{err}");
}

#[tokio::test]
async fn nobody_listening_is_retryable() {
    // Bind and drop: the port is (very likely) closed when the sink connects.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/prod", listener.local_addr().unwrap());
    drop(listener);
    let sink = ApiGatewaySink::new(&support::sdk_config(), &endpoint);
    let err = sink.deliver(&to("alive")).await.unwrap_err();
    assert!(err.retryable, "{err}");
}
