//! One MQTT connection, served: CONNECT (and a takeover of the client id), then packets until
//! DISCONNECT, a lost socket, a keep-alive timeout, or the broker closing it. The
//! [`super::broker::Broker`] holds the sessions and writes the lifecycle events.

use super::broker::{session_identifier, Broker, Outbound, Session};
use super::fold::Input;
use super::mqtt_codec::{self, Packet, ProtocolError};
use super::now_ms;
use bytes::BytesMut;
use schemas::{Connected, DisconnectReason, Lifecycle, Record};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Accepts MQTT connections until `shutdown` flips.
pub async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let Ok((socket, peer)) = accepted else { continue };
                let _ = socket.set_nodelay(true);
                tokio::spawn(connection(socket, peer.ip().to_string(), broker.clone(), done.clone()));
            }
        }
    }
}

/// Why a session's read loop ended.
enum End {
    Reason(DisconnectReason),
    /// The disconnect is already written (taken over, shut down).
    Closed,
}

async fn connection(socket: TcpStream, ip: String, broker: Arc<Broker>, _done: mpsc::Sender<()>) {
    let (mut reader, mut writer) = socket.into_split();
    let mut buf = BytesMut::with_capacity(4096);
    let refuse = |code: u8| {
        let mut out = BytesMut::new();
        // A CONNACK always frames.
        let _ = mqtt_codec::encode(&Packet::ConnAck { code }, &mut out);
        out
    };
    // The first packet must be CONNECT, within a few seconds.
    let first = tokio::time::timeout(Duration::from_secs(10), read_packet(&mut reader, &mut buf));
    let (client_id, keep_alive, clean_session) = match first.await {
        Ok(Ok(Some(Packet::Connect {
            client_id,
            keep_alive,
            clean_session,
        }))) => (client_id, keep_alive, clean_session),
        // MQTT 3.1.1, 3.1.4: a server answers an unsupported level with 0x01, then closes.
        Ok(Err(ReadError::Protocol(ProtocolError::UnsupportedProtocol(why)))) => {
            tracing::debug!(%ip, why, "mqtt: refused an unsupported protocol");
            let _ = writer.write_all(&refuse(1)).await;
            return;
        }
        _ => return,
    };
    if client_id.is_empty() && !clean_session {
        let _ = writer.write_all(&refuse(2)).await;
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (session_id, client_id) = {
        let mut state = broker.lock();
        state.sessions_started += 1;
        let n = state.sessions_started;
        let client_id = if client_id.is_empty() {
            format!("auto-{}", session_identifier(n))
        } else {
            client_id
        };
        // Increasing per client id, across restarts too: a restarted broker's sessions must
        // outrank the ones its previous run left in the store.
        let version = state
            .versions
            .get(&client_id)
            .map_or(now_ms(), |v| (v + 1).max(now_ms()));
        state.versions.insert(client_id.clone(), version);
        let session = Session {
            session_id: session_identifier(n),
            version,
            tx: tx.clone(),
            subscriptions: Vec::new(),
        };
        let session_id = session.session_id.clone();
        let old = state.sessions.insert(client_id.clone(), session);
        let connected = Connected {
            client_id: client_id.clone(),
            thing_name: None,
            timestamp: now_ms(),
            session_identifier: session_id.clone(),
            principal_identifier: None,
            ip_address: Some(ip),
            version_number: Some(version),
        };
        broker.emit(&state, Lifecycle::Connected(connected));
        if let Some(old) = old {
            broker.disconnected(
                &state,
                &client_id,
                &old,
                DisconnectReason::DuplicateClientId,
            );
            let _ = old.tx.send(Outbound::Close);
        }
        (session_id, client_id)
    };
    let _ = tx.send(Outbound::Packet(Packet::ConnAck { code: 0 }));

    // The writer: packets from this session and from the broker's routing, in order. It ends
    // with `true` when told to close (takeover, shutdown), `false` when the socket failed.
    let mut write = tokio::spawn(async move {
        let mut out = BytesMut::with_capacity(4096);
        let mut next_pkid: u16 = 0;
        while let Some(outbound) = rx.recv().await {
            let mut close = false;
            for item in std::iter::once(outbound).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
                match item {
                    Outbound::Packet(mut packet) => {
                        if let Packet::Publish { qos: 1, pkid, .. } = &mut packet {
                            next_pkid = next_pkid.checked_add(1).unwrap_or(1);
                            *pkid = next_pkid;
                        }
                        if let Err(e) = mqtt_codec::encode(&packet, &mut out) {
                            tracing::warn!(error = %e, "mqtt: a packet that cannot be framed: not sent");
                        }
                    }
                    Outbound::Close => {
                        close = true;
                        break;
                    }
                }
            }
            if writer.write_all(&out).await.is_err() {
                return false;
            }
            if close {
                let _ = writer.shutdown().await;
                return true;
            }
            out.clear();
        }
        true
    });
    let mut written = false;

    let idle = (keep_alive > 0).then(|| Duration::from_millis(u64::from(keep_alive) * 1500));
    let end = loop {
        let read = async {
            match idle {
                Some(limit) => tokio::time::timeout(limit, read_packet(&mut reader, &mut buf))
                    .await
                    .ok(),
                None => Some(read_packet(&mut reader, &mut buf).await),
            }
        };
        let packet = tokio::select! {
            biased;
            closed = &mut write => {
                written = true;
                break match closed {
                    Ok(true) => End::Closed,
                    _ => End::Reason(DisconnectReason::ConnectionLost),
                };
            }
            packet = read => match packet {
                Some(p) => p,
                None => break End::Reason(DisconnectReason::MqttKeepAliveTimeout),
            },
        };
        let packet = match packet {
            Ok(Some(p)) => p,
            // A malformed or unsupported packet (QoS 2, say) is the client's error.
            Err(ReadError::Protocol(_)) => break End::Reason(DisconnectReason::ClientError),
            Ok(None) => break End::Reason(DisconnectReason::ConnectionLost),
            Err(ReadError::Io(e)) => {
                tracing::debug!(client_id, error = %e, "mqtt: connection lost");
                break End::Reason(DisconnectReason::ConnectionLost);
            }
        };
        let reply = match packet {
            // Wildcards are for filters; a topic name with one is a protocol error.
            Packet::Publish { topic, .. } if topic.is_empty() || topic.contains(['+', '#']) => {
                break End::Reason(DisconnectReason::ClientError);
            }
            Packet::Publish {
                qos,
                topic,
                pkid,
                payload,
                ..
            } => {
                published(&broker, &topic, &payload, qos);
                (qos == 1).then_some(Packet::PubAck(pkid))
            }
            Packet::Subscribe { pkid, filters } => {
                let mut state = broker.lock();
                let codes: Vec<u8> = filters
                    .iter()
                    .map(|(f, q)| {
                        if mqtt_codec::valid_filter(f) {
                            (*q).min(1)
                        } else {
                            0x80
                        }
                    })
                    .collect();
                let granted: Vec<(String, u8)> = filters
                    .into_iter()
                    .zip(&codes)
                    .filter(|(_, c)| **c != 0x80)
                    .map(|((f, _), c)| (f, *c))
                    .collect();
                let topics: Vec<String> = granted.iter().map(|(f, _)| f.clone()).collect();
                match state.sessions.get_mut(&client_id) {
                    Some(s) if s.session_id == session_id => {
                        for (filter, qos) in granted {
                            s.subscriptions.retain(|(f, _)| *f != filter);
                            s.subscriptions.push((filter, qos));
                        }
                    }
                    _ => break End::Closed,
                }
                if !topics.is_empty() {
                    broker.subscription(&state, &client_id, topics, true);
                }
                Some(Packet::SubAck { pkid, codes })
            }
            Packet::Unsubscribe { pkid, filters } => {
                let mut state = broker.lock();
                match state.sessions.get_mut(&client_id) {
                    Some(s) if s.session_id == session_id => {
                        s.subscriptions.retain(|(f, _)| !filters.contains(f));
                    }
                    _ => break End::Closed,
                }
                broker.subscription(&state, &client_id, filters, false);
                Some(Packet::UnsubAck(pkid))
            }
            Packet::PingReq => Some(Packet::PingResp),
            Packet::Disconnect => break End::Reason(DisconnectReason::ClientInitiatedDisconnect),
            // PUBACKs of our QoS 1 publishes: nothing is redelivered, so nothing to do.
            Packet::PubAck(_) => None,
            // A second CONNECT, or a server-to-client packet: a protocol violation.
            _ => break End::Reason(DisconnectReason::ClientError),
        };
        if let Some(reply) = reply {
            let _ = tx.send(Outbound::Packet(reply));
        }
    };
    if let End::Reason(reason) = end {
        let mut state = broker.lock();
        // Only if this connection still owns the client id: a takeover already wrote ours.
        if state
            .sessions
            .get(&client_id)
            .is_some_and(|s| s.session_id == session_id)
        {
            if let Some(session) = state.sessions.remove(&client_id) {
                broker.disconnected(&state, &client_id, &session, reason);
            }
        }
    }
    let _ = tx.send(Outbound::Close);
    if !written {
        let _ = write.await;
    }
}

/// A client's PUBLISH: telemetry into the stream (as the IoT rule on `devices/+/params` does),
/// then to the subscribers.
fn published(broker: &Broker, topic: &str, payload: &[u8], qos: u8) {
    let mut levels = topic.split('/');
    if let (Some("devices"), Some(device_id), Some("params"), None) =
        (levels.next(), levels.next(), levels.next(), levels.next())
    {
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload) {
            Ok(parameters) if !device_id.is_empty() => {
                let telemetry = schemas::Telemetry {
                    device_id: device_id.to_owned(),
                    timestamp: now_ms(),
                    parameters,
                };
                let _ = broker
                    .stream
                    .send(Input::Record(Record::Telemetry(telemetry)));
            }
            _ => tracing::warn!(topic, "telemetry that is not a JSON object: not routed"),
        }
    }
    broker.publish(topic, payload, qos);
}

/// Why a packet could not be read.
#[derive(Debug)]
enum ReadError {
    /// The socket failed.
    Io(std::io::Error),
    /// The client sent what MQTT 3.1.1 does not allow here.
    Protocol(ProtocolError),
}

/// Reads one packet; `Ok(None)` at a clean end of stream.
async fn read_packet(
    reader: &mut (impl AsyncReadExt + Unpin),
    buf: &mut BytesMut,
) -> Result<Option<Packet>, ReadError> {
    loop {
        if let Some(packet) = mqtt_codec::parse(buf).map_err(ReadError::Protocol)? {
            return Ok(Some(packet));
        }
        if reader.read_buf(buf).await.map_err(ReadError::Io)? == 0 {
            return Ok(None);
        }
    }
}
