//! Device telemetry: a parameter update a device published, written to the stream by an IoT rule
//! such as `SELECT *, topic(2) AS deviceId, timestamp() AS timestamp FROM 'devices/+/params'`,
//! which writes the device's fields flat beside the two it adds; the decoder takes those fields as
//! the parameters (a record may also carry them nested, as `parameters`, which is how we encode).

use crate::lifecycle::EpochMillis;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One telemetry record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Telemetry {
    /// The device that published.
    pub device_id: String,
    /// Event time, ms epoch.
    pub timestamp: EpochMillis,
    /// The device's parameters, as it published them.
    pub parameters: serde_json::Map<String, serde_json::Value>,
}
