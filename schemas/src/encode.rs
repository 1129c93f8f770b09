//! JSON encoding of every record kind, in the shape its source writes it.
//!
//! [`encode_json`] is the inverse of [`crate::decode_json`]: for every record the decoder can
//! produce, `decode_json(&encode_json(&r)) == Ok(r)`. Tests, replay and the emulator harness use
//! it to put records on a stream exactly as AWS (or our ingest) would.
//!
//! - IoT lifecycle kinds carry AWS's `eventType` (`connected`, `disconnected`, `subscribed`,
//!   `unsubscribed`, `connect_failed`) beside their camelCase fields.
//! - WebSocket records carry `"kind":"websocket"` beside the fields of [`WebSocketRecord`], as its
//!   serde derive writes them.
//! - Telemetry is `{"deviceId", "timestamp", "parameters"}`, as the IoT rule writes it.
//! - Processor feedback carries `"kind":"connection_gone"`, the sweeper's ticks `"kind":"tick"`.

use crate::{ConnectionGone, Lifecycle, Record, Telemetry, Tick, WebSocketRecord};
use serde::Serialize;

/// The discriminating key of each source: AWS's `eventType`, or our own `kind`.
const EVENT_TYPE: &str = "eventType";
const KIND: &str = "kind";

/// A record with its discriminator written first. `flatten` turns the pair into one JSON object;
/// the encoder is not on the hot path, so its cost (a map instead of a struct) does not matter.
#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "eventType", skip_serializing_if = "Option::is_none")]
    event_type: Option<&'a str>,
    #[serde(rename = "kind", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(flatten)]
    inner: &'a T,
}

fn tagged<'a, T: Serialize>(key: &str, value: &'a str, inner: &'a T) -> Tagged<'a, T> {
    if key == EVENT_TYPE {
        Tagged {
            event_type: Some(value),
            kind: None,
            inner,
        }
    } else {
        Tagged {
            event_type: None,
            kind: Some(value),
            inner,
        }
    }
}

/// Encodes a record as the JSON object its source writes.
///
/// Infallible: every record type serializes to JSON (string map keys, no custom errors).
pub fn encode_json(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let written = match record {
        Record::Lifecycle(e) => write_lifecycle(&mut out, e),
        Record::WebSocket(e) => write_tagged::<WebSocketRecord>(&mut out, KIND, "websocket", e),
        Record::Telemetry(e) => write_plain::<Telemetry>(&mut out, e),
        Record::ConnectionGone(e) => {
            write_tagged::<ConnectionGone>(&mut out, KIND, "connection_gone", e)
        }
        Record::Tick(e) => write_tagged::<Tick>(&mut out, KIND, "tick", e),
    };
    // serde_json fails only on non-string map keys or a failing custom `Serialize`; our types have
    // neither, so this cannot happen. Tests encode every kind and would catch a regression.
    debug_assert!(written.is_ok(), "encode_json: {written:?}");
    out
}

fn write_lifecycle(out: &mut Vec<u8>, e: &Lifecycle) -> serde_json::Result<()> {
    let event_type = e.event_type();
    match e {
        Lifecycle::Connected(c) => write_tagged(out, EVENT_TYPE, event_type, c),
        Lifecycle::Disconnected(d) => write_tagged(out, EVENT_TYPE, event_type, d),
        Lifecycle::Subscribed(s) | Lifecycle::Unsubscribed(s) => {
            write_tagged(out, EVENT_TYPE, event_type, s)
        }
        Lifecycle::ConnectFailed(f) => write_tagged(out, EVENT_TYPE, event_type, f),
    }
}

fn write_tagged<T: Serialize>(
    out: &mut Vec<u8>,
    key: &str,
    value: &str,
    inner: &T,
) -> serde_json::Result<()> {
    serde_json::to_writer(out, &tagged(key, value, inner))
}

fn write_plain<T: Serialize>(out: &mut Vec<u8>, inner: &T) -> serde_json::Result<()> {
    serde_json::to_writer(out, inner)
}

#[cfg(test)]
#[allow(clippy::panic)] // Tests fail by panicking.
mod tests {
    use super::*;
    use crate::{decode_json, Connected, DisconnectReason, Disconnected, WsEventType};

    fn object(record: &Record) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::from_slice(&encode_json(record)) {
            Ok(serde_json::Value::Object(map)) => map,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn connected() -> Record {
        Record::Lifecycle(Lifecycle::Connected(Connected {
            client_id: "c1".into(),
            thing_name: None,
            timestamp: 1_573_002_230_757,
            session_identifier: "s1".into(),
            principal_identifier: Some("p".into()),
            ip_address: Some("192.0.2.0".into()),
            version_number: Some(0),
        }))
    }

    #[test]
    fn lifecycle_writes_event_type_and_camel_case_fields() {
        let map = object(&connected());
        assert_eq!(map["eventType"], "connected");
        assert_eq!(map["clientId"], "c1");
        assert_eq!(map["sessionIdentifier"], "s1");
        assert_eq!(map["ipAddress"], "192.0.2.0");
        assert_eq!(map["versionNumber"], 0);
        assert!(!map.contains_key("thingName"), "absent options are omitted");
        assert!(!map.contains_key("kind"));
    }

    #[test]
    fn disconnect_reason_is_written_as_aws_string() {
        let record = Record::Lifecycle(Lifecycle::Disconnected(Disconnected {
            client_id: "c1".into(),
            thing_name: Some("t".into()),
            timestamp: 2,
            session_identifier: "s1".into(),
            principal_identifier: None,
            version_number: Some(3),
            client_initiated_disconnect: Some(false),
            disconnect_reason: Some(DisconnectReason::DuplicateClientId),
        }));
        let map = object(&record);
        assert_eq!(map["eventType"], "disconnected");
        assert_eq!(map["disconnectReason"], "DUPLICATE_CLIENTID");
        assert_eq!(map["clientInitiatedDisconnect"], false);
        assert_eq!(decode_json(&encode_json(&record)), Ok(record));
    }

    #[test]
    fn websocket_writes_kind_and_its_own_event_type() {
        let record = Record::WebSocket(Box::new(WebSocketRecord {
            schema_version: 2,
            event_type: WsEventType::Message,
            route_key: "sendmessage".into(),
            connection_id: "abc=".into(),
            connected_at: 1,
            request_time_epoch: 2,
            request_id: None,
            message_id: Some("m".into()),
            domain_name: None,
            stage: None,
            api_id: None,
            source_ip: None,
            user_agent: None,
            client_id: Some("u1".into()),
            authorizer: Default::default(),
            query_string_parameters: Default::default(),
            body: Some("{\"action\":\"sendmessage\",\"message\":\"hi\"}".into()),
            disconnect_status_code: None,
            disconnect_reason: None,
        }));
        let map = object(&record);
        assert_eq!(map["kind"], "websocket");
        assert_eq!(map["eventType"], "MESSAGE");
        assert_eq!(map["schemaVersion"], 2);
        assert_eq!(map["routeKey"], "sendmessage");
        assert_eq!(decode_json(&encode_json(&record)), Ok(record));
    }

    #[test]
    fn telemetry_has_no_discriminator() {
        let mut parameters = serde_json::Map::new();
        parameters.insert("temp".into(), 21.into());
        let record = Record::Telemetry(Telemetry {
            device_id: "d1".into(),
            timestamp: 5,
            parameters,
        });
        let map = object(&record);
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["deviceId", "parameters", "timestamp"]);
        assert_eq!(decode_json(&encode_json(&record)), Ok(record));
    }

    #[test]
    fn connection_gone_writes_kind() {
        let record = Record::ConnectionGone(ConnectionGone {
            schema_version: 1,
            connection_id: "abc=".into(),
            timestamp: 9,
            delivery_id: None,
        });
        let map = object(&record);
        assert_eq!(map["kind"], "connection_gone");
        assert_eq!(map["connectionId"], "abc=");
        assert_eq!(decode_json(&encode_json(&record)), Ok(record));
    }

    #[test]
    fn connected_round_trips() {
        let record = connected();
        assert_eq!(decode_json(&encode_json(&record)), Ok(record));
    }
}
