//! Deliveries: what the processor must send, decided by the pure routing functions.

use schemas::EventId;
use serde::Serialize;

/// One message to send to one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Deterministic: from the causing event and the target, so retries can be de-duplicated.
    pub id: String,
    /// The event that caused it.
    pub event_id: EventId,
    /// Where it goes.
    #[serde(flatten)]
    pub channel: Channel,
    /// The recipient client of a socket delivery, when known (a push names its client in the
    /// channel; an MQTT publish may reach several). See [`Delivery::recipient`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The JSON the recipient receives.
    pub payload: serde_json::Value,
}

/// How a delivery reaches its recipient.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "channel", rename_all_fields = "camelCase")]
pub enum Channel {
    /// API Gateway `PostToConnection`.
    #[serde(rename = "websocket")]
    WebSocket {
        /// The WebSocket connection.
        connection_id: String,
    },
    /// An IoT data-plane publish: one publish reaches every session subscribed to the topic.
    #[serde(rename = "mqtt")]
    Mqtt {
        /// The topic to publish to.
        topic: String,
    },
    /// A push notification, for a recipient no socket reaches.
    #[serde(rename = "push")]
    Push {
        /// The recipient client.
        client_id: String,
    },
}

impl Channel {
    /// `websocket`, `mqtt` or `push`.
    pub fn name(&self) -> &'static str {
        match self {
            Channel::WebSocket { .. } => "websocket",
            Channel::Mqtt { .. } => "mqtt",
            Channel::Push { .. } => "push",
        }
    }

    /// The target, as one string: connection id, topic or client id.
    pub fn target(&self) -> &str {
        match self {
            Channel::WebSocket { connection_id } => connection_id,
            Channel::Mqtt { topic } => topic,
            Channel::Push { client_id } => client_id,
        }
    }
}

impl Delivery {
    /// The recipient client, when one is known: a push's client, or a socket's owner.
    pub fn recipient(&self) -> Option<&str> {
        match &self.channel {
            Channel::Push { client_id } => Some(client_id),
            _ => self.client_id.as_deref(),
        }
    }

    /// A delivery with its deterministic id.
    pub fn new(
        event_id: EventId,
        channel: Channel,
        client_id: Option<String>,
        payload: serde_json::Value,
    ) -> Self {
        let mut bytes = Vec::with_capacity(24 + channel.target().len());
        bytes.extend_from_slice(&event_id.0.to_le_bytes());
        bytes.extend_from_slice(channel.name().as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(channel.target().as_bytes());
        let id = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes));
        Delivery {
            id,
            event_id,
            channel,
            client_id,
            payload,
        }
    }
}
