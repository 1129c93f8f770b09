//! Records the processor writes back to the stream about what it learned while delivering.

use crate::lifecycle::EpochMillis;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The newest `connection_gone` record version this build writes.
pub const CONNECTION_GONE_SCHEMA_VERSION: u32 = 1;

/// A WebSocket delivery got 410 Gone: the connection no longer exists even if its `$disconnect`
/// never arrived (API Gateway's `$disconnect` is best-effort).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionGone {
    /// Record schema version.
    pub schema_version: u32,
    /// The connection found gone.
    pub connection_id: String,
    /// When the processor found it gone, ms epoch.
    pub timestamp: EpochMillis,
    /// The delivery that got the 410, for tracing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
}

impl ConnectionGone {
    /// A record of the current schema version: `connection_id` found gone at `timestamp`, by
    /// the delivery `delivery_id` (or by the sweeper, `None`).
    pub fn new(
        connection_id: impl Into<String>,
        timestamp: EpochMillis,
        delivery_id: Option<String>,
    ) -> Self {
        ConnectionGone {
            schema_version: CONNECTION_GONE_SCHEMA_VERSION,
            connection_id: connection_id.into(),
            timestamp,
            delivery_id,
        }
    }
}
