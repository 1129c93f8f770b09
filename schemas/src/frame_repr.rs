//! The MessagePack shape of a record inside a frame: a positional mirror of the record types.
//!
//! Frames encode structs as arrays (fields by position, no names), the most compact and fastest
//! MessagePack shape. The record types cannot be used for that directly: their
//! `skip_serializing_if` attributes (which keep absent options out of the JSON the sources write)
//! *omit* elements, and a positional decoder then reads every later field one slot early. So
//! frames go through these `#[serde(remote = ...)]` mirrors, which are the same fields in the same
//! order without skips: an absent option is a one-byte `nil`, an empty map a one-byte `0x80`.
//! `crate::frame_fast` reads the lifecycle mirrors' bytes by hand: change a mirror, change it too
//! (its tests build every lifecycle record field by field, so a new field fails their build).
//!
//! serde checks the mirrors against the real types at compile time (every field, by name and
//! type), so adding a field to a record without adding it here fails the build. Adding, removing
//! or reordering fields changes the frame format: bump [`crate::frame::FRAME_VERSION`] and keep a
//! reader for the old one.
//!
//! Why not `with_struct_map()` (field names in every frame)? It round-trips with the derives as
//! they are, but it is larger and slower to decode: the `decode` bench measures both
//! (`decode_frame` vs `decode_frame_struct_map`).
//!
//! Variant names are shortened (`L`, `c`, ...) because rmp-serde writes them as strings in every
//! frame; the mapping is fixed by the frame version.

use crate::lifecycle::EpochMillis;
use crate::{
    ConnectFailed, Connected, ConnectionGone, DisconnectReason, Disconnected, Lifecycle, Record,
    Subscription, Telemetry, Tick, WebSocketRecord, WsEventType,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// A record as a frame carries it.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Record")]
pub(crate) enum RecordRepr {
    #[serde(rename = "L", with = "LifecycleRepr")]
    Lifecycle(Lifecycle),
    #[serde(rename = "W", with = "boxed_websocket")]
    WebSocket(Box<WebSocketRecord>),
    #[serde(rename = "T", with = "TelemetryRepr")]
    Telemetry(Telemetry),
    #[serde(rename = "G", with = "ConnectionGoneRepr")]
    ConnectionGone(ConnectionGone),
    // A kind added within version 1: older frames never hold one, so the version stands.
    #[serde(rename = "K", with = "TickRepr")]
    Tick(Tick),
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Lifecycle")]
enum LifecycleRepr {
    #[serde(rename = "c", with = "ConnectedRepr")]
    Connected(Connected),
    #[serde(rename = "d", with = "DisconnectedRepr")]
    Disconnected(Disconnected),
    #[serde(rename = "s", with = "SubscriptionRepr")]
    Subscribed(Subscription),
    #[serde(rename = "u", with = "SubscriptionRepr")]
    Unsubscribed(Subscription),
    #[serde(rename = "f", with = "ConnectFailedRepr")]
    ConnectFailed(ConnectFailed),
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Connected")]
struct ConnectedRepr {
    client_id: String,
    thing_name: Option<String>,
    timestamp: EpochMillis,
    session_identifier: String,
    principal_identifier: Option<String>,
    ip_address: Option<String>,
    version_number: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Disconnected")]
struct DisconnectedRepr {
    client_id: String,
    thing_name: Option<String>,
    timestamp: EpochMillis,
    session_identifier: String,
    principal_identifier: Option<String>,
    version_number: Option<u64>,
    client_initiated_disconnect: Option<bool>,
    disconnect_reason: Option<DisconnectReason>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Subscription")]
struct SubscriptionRepr {
    client_id: String,
    thing_name: Option<String>,
    timestamp: EpochMillis,
    session_identifier: String,
    principal_identifier: Option<String>,
    topics: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ConnectFailed")]
struct ConnectFailedRepr {
    client_id: String,
    thing_name: Option<String>,
    timestamp: EpochMillis,
    connect_failure_reason: Option<String>,
    principal_identifier: Option<String>,
    session_identifier: Option<String>,
    ip_address: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Telemetry")]
struct TelemetryRepr {
    device_id: String,
    timestamp: EpochMillis,
    parameters: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "ConnectionGone")]
struct ConnectionGoneRepr {
    schema_version: u32,
    connection_id: String,
    timestamp: EpochMillis,
    delivery_id: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "Tick")]
struct TickRepr {
    schema_version: u32,
    shard_id: String,
    timestamp: EpochMillis,
}

#[derive(Serialize, Deserialize)]
#[serde(remote = "WebSocketRecord")]
struct WebSocketRecordRepr {
    schema_version: u32,
    event_type: WsEventType,
    route_key: String,
    connection_id: String,
    connected_at: EpochMillis,
    request_time_epoch: EpochMillis,
    request_id: Option<String>,
    message_id: Option<String>,
    domain_name: Option<String>,
    stage: Option<String>,
    api_id: Option<String>,
    source_ip: Option<String>,
    user_agent: Option<String>,
    client_id: Option<String>,
    authorizer: BTreeMap<String, String>,
    query_string_parameters: BTreeMap<String, String>,
    body: Option<String>,
    disconnect_status_code: Option<i64>,
    disconnect_reason: Option<String>,
}

/// `with` adapter for the boxed WebSocket record (remote derives see the `Box`, not its content).
mod boxed_websocket {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        record: &WebSocketRecord,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        WebSocketRecordRepr::serialize(record, s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Box<WebSocketRecord>, D::Error> {
        WebSocketRecordRepr::deserialize(d).map(Box::new)
    }
}

/// Writes `record` in its frame shape (without the frame's version and header).
pub(crate) fn write_record(
    record: &Record,
    out: &mut Vec<u8>,
) -> Result<(), rmp_serde::encode::Error> {
    RecordRepr::serialize(record, &mut rmp_serde::Serializer::new(out))
}

/// Reads a record in its frame shape.
pub(crate) fn read_record(bytes: &[u8]) -> Result<Record, rmp_serde::decode::Error> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    // Records nest shallowly; only telemetry parameters can nest, and JSON decoding already caps
    // them at serde_json's 128 levels. A low cap keeps hostile frames from recursing deeply.
    de.set_max_depth(160);
    RecordRepr::deserialize(&mut de)
}
