//! A WebSocket client of `processor dev`'s gateway (tokio-tungstenite), for the tests.

use super::{Dev, DEADLINE};
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A WebSocket client.
pub struct Ws {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    /// Connects as `client_id`.
    pub async fn connect(dev: &Dev, client_id: &str) -> Ws {
        Ws::open(dev, &format!("?clientId={client_id}"), None)
            .await
            .unwrap()
    }

    /// Connects with this query string and `Sec-WebSocket-Protocol` header: the socket and the
    /// subprotocol the server selected, or the HTTP status it refused the upgrade with.
    pub async fn open(
        dev: &Dev,
        query: &str,
        protocols: Option<&str>,
    ) -> Result<Ws, (u16, String)> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://127.0.0.1:{}/{query}", dev.ws)
            .into_client_request()
            .unwrap();
        if let Some(p) = protocols {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", p.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Ws { socket }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err((response.status().as_u16(), body))
            }
            Err(e) => panic!("connecting with {query}: {e}"),
        }
    }

    /// Sends a JSON text frame.
    pub async fn send(&mut self, body: serde_json::Value) {
        self.send_text(&body.to_string()).await;
    }

    /// Sends a text frame as it is.
    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::text(text)).await.unwrap();
    }

    /// The next text frame as JSON, within the deadline.
    pub async fn recv(&mut self) -> serde_json::Value {
        self.try_recv(DEADLINE)
            .await
            .expect("no message within the deadline")
    }

    /// The next text frame as JSON, if one comes within `wait`.
    pub async fn try_recv(&mut self, wait: Duration) -> Option<serde_json::Value> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let next = tokio::time::timeout_at(until, self.socket.next())
                .await
                .ok()??;
            match next.unwrap() {
                Message::Text(t) => return Some(serde_json::from_str(t.as_str()).unwrap()),
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    /// Reads until the server's close frame: its code and reason (`None` if the connection
    /// ended without one).
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        let until = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(until, self.socket.next())
                .await
                .ok()??
            {
                Ok(Message::Close(frame)) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()))
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Sends a close frame (1000, normal closure) without waiting for the answer.
    pub async fn send_close(&mut self) {
        use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        self.socket.close(Some(frame)).await.unwrap();
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        // Read until the server's close so the close handshake completes.
        let _ = tokio::time::timeout(DEADLINE, async {
            while self.socket.next().await.is_some() {}
        })
        .await;
    }
}
