//! AWS IoT Core lifecycle events, in the shape AWS publishes them on `$aws/events/...`.
//!
//! Every documented field is modelled; fields AWS may omit are `Option`s, and extra fields are
//! ignored when decoding (AWS adds fields over time). Source:
//! <https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html>.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the Unix epoch, as every source on the stream writes time.
pub type EpochMillis = u64;

/// One lifecycle event, by `eventType`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lifecycle {
    /// `$aws/events/presence/connected/{clientId}`.
    Connected(Connected),
    /// `$aws/events/presence/disconnected/{clientId}`.
    Disconnected(Disconnected),
    /// `$aws/events/subscriptions/subscribed/{clientId}`.
    Subscribed(Subscription),
    /// `$aws/events/subscriptions/unsubscribed/{clientId}`.
    Unsubscribed(Subscription),
    /// `$aws/events/presence/connect_failed/{clientId}`: presence does not change.
    ConnectFailed(ConnectFailed),
}

impl Lifecycle {
    /// The MQTT client id the event is about.
    pub fn client_id(&self) -> &str {
        match self {
            Lifecycle::Connected(e) => &e.client_id,
            Lifecycle::Disconnected(e) => &e.client_id,
            Lifecycle::Subscribed(e) | Lifecycle::Unsubscribed(e) => &e.client_id,
            Lifecycle::ConnectFailed(e) => &e.client_id,
        }
    }

    /// AWS's approximate event time (ms epoch).
    pub fn timestamp(&self) -> EpochMillis {
        match self {
            Lifecycle::Connected(e) => e.timestamp,
            Lifecycle::Disconnected(e) => e.timestamp,
            Lifecycle::Subscribed(e) | Lifecycle::Unsubscribed(e) => e.timestamp,
            Lifecycle::ConnectFailed(e) => e.timestamp,
        }
    }

    /// The `eventType` string AWS writes for this kind.
    pub fn event_type(&self) -> &'static str {
        match self {
            Lifecycle::Connected(_) => "connected",
            Lifecycle::Disconnected(_) => "disconnected",
            Lifecycle::Subscribed(_) => "subscribed",
            Lifecycle::Unsubscribed(_) => "unsubscribed",
            Lifecycle::ConnectFailed(_) => "connect_failed",
        }
    }
}

/// A `connected` event: a new MQTT session began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Connected {
    /// The MQTT client id.
    pub client_id: String,
    /// Present only with the exclusive-thing feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thing_name: Option<String>,
    /// Approximate event time, ms epoch (AWS: accurate to about +/- 2 minutes).
    pub timestamp: EpochMillis,
    /// Globally unique; lives as long as the session.
    pub session_identifier: String,
    /// Certificate id or IAM identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_identifier: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Shared by a connection's connect and disconnect; increases per client id but resets to 0
    /// after about an hour offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_number: Option<u64>,
}

/// A `disconnected` event: an MQTT session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disconnected {
    /// The MQTT client id.
    pub client_id: String,
    /// Present only with the exclusive-thing feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thing_name: Option<String>,
    /// Approximate event time, ms epoch.
    pub timestamp: EpochMillis,
    /// The session that ended.
    pub session_identifier: String,
    /// Certificate id or IAM identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_identifier: Option<String>,
    /// The same number as the session's `connected` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_number: Option<u64>,
    /// Whether the client asked to disconnect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_initiated_disconnect: Option<bool>,
    /// Why the session ended; unknown values are kept as data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<DisconnectReason>,
}

/// A `subscribed` or `unsubscribed` event. AWS sends no `versionNumber` on these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// The MQTT client id.
    pub client_id: String,
    /// Present only with the exclusive-thing feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thing_name: Option<String>,
    /// Approximate event time, ms epoch.
    pub timestamp: EpochMillis,
    /// The session the subscription belongs to.
    pub session_identifier: String,
    /// Certificate id or IAM identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_identifier: Option<String>,
    /// The topic filters subscribed to or unsubscribed from (at most
    /// [`crate::decode::SUBSCRIPTION_TOPICS_MAX`]).
    #[schemars(length(max = 100))]
    pub topics: Vec<String>,
}

/// A `connect_failed` event: authorization failed; presence does not change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectFailed {
    /// The MQTT client id.
    pub client_id: String,
    /// Present only with the exclusive-thing feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thing_name: Option<String>,
    /// Approximate event time, ms epoch.
    pub timestamp: EpochMillis,
    /// Why the connection was refused, e.g. `AUTHORIZATION_FAILED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_failure_reason: Option<String>,
    /// Certificate id or IAM identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_identifier: Option<String>,
    /// The refused session's identifier, when AWS gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_identifier: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
}

/// AWS's `disconnectReason`. Values this build does not know are kept in
/// [`DisconnectReason::Other`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DisconnectReason {
    /// `AUTH_ERROR`
    AuthError,
    /// `CLIENT_INITIATED_DISCONNECT`
    ClientInitiatedDisconnect,
    /// `CLIENT_ERROR`
    ClientError,
    /// `CONNECTION_LOST`
    ConnectionLost,
    /// `DUPLICATE_CLIENTID`: the *older* connection of a takeover.
    DuplicateClientId,
    /// `FORBIDDEN_ACCESS`
    ForbiddenAccess,
    /// `MQTT_KEEP_ALIVE_TIMEOUT`: no traffic for 1.5 x keep-alive.
    MqttKeepAliveTimeout,
    /// `SERVER_ERROR`
    ServerError,
    /// `SERVER_INITIATED_DISCONNECT`
    ServerInitiatedDisconnect,
    /// `API_INITIATED_DISCONNECT`
    ApiInitiatedDisconnect,
    /// `THROTTLED`
    Throttled,
    /// `WEBSOCKET_TTL_EXPIRATION`
    WebsocketTtlExpiration,
    /// `CUSTOMAUTH_TTL_EXPIRATION`
    CustomauthTtlExpiration,
    /// `UNKNOWN`
    Unknown,
    /// `NONE`
    None,
    /// A value this build does not know, kept verbatim.
    Other(String),
}

const REASONS: &[(&str, DisconnectReason)] = &[
    ("AUTH_ERROR", DisconnectReason::AuthError),
    (
        "CLIENT_INITIATED_DISCONNECT",
        DisconnectReason::ClientInitiatedDisconnect,
    ),
    ("CLIENT_ERROR", DisconnectReason::ClientError),
    ("CONNECTION_LOST", DisconnectReason::ConnectionLost),
    ("DUPLICATE_CLIENTID", DisconnectReason::DuplicateClientId),
    ("FORBIDDEN_ACCESS", DisconnectReason::ForbiddenAccess),
    (
        "MQTT_KEEP_ALIVE_TIMEOUT",
        DisconnectReason::MqttKeepAliveTimeout,
    ),
    ("SERVER_ERROR", DisconnectReason::ServerError),
    (
        "SERVER_INITIATED_DISCONNECT",
        DisconnectReason::ServerInitiatedDisconnect,
    ),
    (
        "API_INITIATED_DISCONNECT",
        DisconnectReason::ApiInitiatedDisconnect,
    ),
    ("THROTTLED", DisconnectReason::Throttled),
    (
        "WEBSOCKET_TTL_EXPIRATION",
        DisconnectReason::WebsocketTtlExpiration,
    ),
    (
        "CUSTOMAUTH_TTL_EXPIRATION",
        DisconnectReason::CustomauthTtlExpiration,
    ),
    ("UNKNOWN", DisconnectReason::Unknown),
    ("NONE", DisconnectReason::None),
];

impl DisconnectReason {
    /// Parses AWS's string; never fails (unknown values become [`DisconnectReason::Other`]).
    pub fn parse(s: &str) -> Self {
        REASONS
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| DisconnectReason::Other(s.to_owned()))
    }

    /// The string AWS writes.
    pub fn as_str(&self) -> &str {
        if let DisconnectReason::Other(s) = self {
            return s;
        }
        REASONS
            .iter()
            .find(|(_, r)| r == self)
            .map(|(name, _)| *name)
            .unwrap_or("UNKNOWN")
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DisconnectReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DisconnectReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(DisconnectReason::parse(&s))
    }
}

impl JsonSchema for DisconnectReason {
    fn schema_name() -> String {
        "DisconnectReason".to_owned()
    }

    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        // Deliberately an open string: AWS adds reasons, and we keep unknown ones as data.
        let mut schema = String::json_schema(gen).into_object();
        schema.metadata().description = Some(format!(
            "Why the session ended. Known values: {}; others are accepted.",
            REASONS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        schema.into()
    }
}
