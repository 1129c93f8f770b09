//! A local MQTT 3.1.1 broker (QoS 0 and 1, no retained messages, no wills) that does what AWS
//! IoT Core does for the processor: it writes AWS-shaped lifecycle events into the stream,
//! routes device telemetry (`devices/{deviceId}/params`) into it as an IoT rule would, routes
//! PUBLISH between clients, and publishes the processor's MQTT deliveries.
//!
//! Lifecycle events, as AWS documents them: `connected`/`disconnected` with a
//! `sessionIdentifier` per connection and a `versionNumber` per client id, shared by a
//! connection's connect and disconnect; `disconnectReason` is `CLIENT_INITIATED_DISCONNECT`
//! (DISCONNECT packet), `CONNECTION_LOST` (socket closed), `DUPLICATE_CLIENTID` (taken over: the
//! old session's disconnect is written *after* the new session's connect) or
//! `MQTT_KEEP_ALIVE_TIMEOUT` (nothing for 1.5 x keep-alive). Every lifecycle event is written
//! under the broker's lock, so the stream sees them in the order they happened. They are also
//! published on their `$aws/events/...` topics, for subscribers.
//!
//! Outgoing QoS 1 messages are sent once and their PUBACKs ignored: no redelivery. Each
//! connection's socket is served by [`super::mqtt_session`].

use super::fold::{Input, Stream};
use super::mqtt_codec::{self, Packet};
use super::now_ms;
use schemas::{DisconnectReason, Disconnected, Lifecycle, Record, Subscription};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::mpsc;

/// What a session's writer is told.
#[derive(Debug)]
pub(super) enum Outbound {
    /// Send a packet.
    Packet(Packet),
    /// Close the socket; the disconnect event is already written (takeover, shutdown).
    Close,
}

#[derive(Debug)]
pub(super) struct Session {
    pub(super) session_id: String,
    pub(super) version: u64,
    pub(super) tx: mpsc::UnboundedSender<Outbound>,
    pub(super) subscriptions: Vec<(String, u8)>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) sessions: HashMap<String, Session>,
    pub(super) versions: HashMap<String, u64>,
    pub(super) sessions_started: u64,
}

/// The broker's sessions, by client id.
#[derive(Debug)]
pub struct Broker {
    state: Mutex<State>,
    pub(super) stream: Stream,
}

impl Broker {
    /// A broker writing its events to `stream`.
    pub fn new(stream: Stream) -> Self {
        Broker {
            state: Mutex::new(State::default()),
            stream,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes to every session with a matching subscription, at the lower of the message's
    /// and the subscription's QoS.
    pub fn publish(&self, topic: &str, payload: &[u8], qos: u8) {
        let state = self.lock();
        route(&state, topic, payload, qos);
    }

    /// Connected MQTT sessions.
    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    /// No connected session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every session as lost (shutdown), writing their disconnects.
    pub fn close_all(&self) {
        let mut state = self.lock();
        let sessions: Vec<(String, Session)> = state.sessions.drain().collect();
        for (client_id, session) in sessions {
            self.disconnected(
                &state,
                &client_id,
                &session,
                DisconnectReason::ServerInitiatedDisconnect,
            );
            let _ = session.tx.send(Outbound::Close);
        }
    }

    pub(super) fn emit(&self, state: &State, event: Lifecycle) {
        let topic = match &event {
            Lifecycle::Connected(e) => format!("$aws/events/presence/connected/{}", e.client_id),
            Lifecycle::Disconnected(e) => {
                format!("$aws/events/presence/disconnected/{}", e.client_id)
            }
            Lifecycle::Subscribed(e) => {
                format!("$aws/events/subscriptions/subscribed/{}", e.client_id)
            }
            Lifecycle::Unsubscribed(e) => {
                format!("$aws/events/subscriptions/unsubscribed/{}", e.client_id)
            }
            Lifecycle::ConnectFailed(e) => {
                format!("$aws/events/presence/connect_failed/{}", e.client_id)
            }
        };
        let record = Record::Lifecycle(event);
        route(state, &topic, &schemas::encode_json(&record), 0);
        let _ = self.stream.send(Input::Record(record));
    }

    pub(super) fn disconnected(
        &self,
        state: &State,
        client_id: &str,
        session: &Session,
        reason: DisconnectReason,
    ) {
        let event = Disconnected {
            client_id: client_id.to_owned(),
            thing_name: None,
            timestamp: now_ms(),
            session_identifier: session.session_id.clone(),
            principal_identifier: None,
            version_number: Some(session.version),
            client_initiated_disconnect: Some(
                reason == DisconnectReason::ClientInitiatedDisconnect,
            ),
            disconnect_reason: Some(reason),
        };
        self.emit(state, Lifecycle::Disconnected(event));
    }

    pub(super) fn subscription(
        &self,
        state: &State,
        client_id: &str,
        topics: Vec<String>,
        on: bool,
    ) {
        let Some(session) = state.sessions.get(client_id) else {
            return;
        };
        let event = Subscription {
            client_id: client_id.to_owned(),
            thing_name: None,
            timestamp: now_ms(),
            session_identifier: session.session_id.clone(),
            principal_identifier: None,
            topics,
        };
        self.emit(
            state,
            if on {
                Lifecycle::Subscribed(event)
            } else {
                Lifecycle::Unsubscribed(event)
            },
        );
    }
}

fn route(state: &State, topic: &str, payload: &[u8], qos: u8) {
    for session in state.sessions.values() {
        let granted = session
            .subscriptions
            .iter()
            .filter(|(filter, _)| mqtt_codec::matches(filter, topic))
            .map(|(_, q)| *q)
            .max();
        if let Some(granted) = granted {
            let _ = session.tx.send(Outbound::Packet(Packet::Publish {
                qos: qos.min(granted),
                retain: false,
                topic: topic.to_owned(),
                pkid: 0,
                payload: payload.to_vec(),
            }));
        }
    }
}

/// A session identifier shaped like AWS's (a UUID).
pub(super) fn session_identifier(n: u64) -> String {
    let h = crate::unique::unique_bits(n);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 96,
        (h >> 80) & 0xffff,
        (h >> 68) & 0xfff,
        (h >> 56) & 0xfff,
        h & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_identifiers_are_uuid_shaped_and_distinct() {
        let (a, b) = (session_identifier(1), session_identifier(2));
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
