//! JSON decoding of every record kind, in one pass.
//!
//! The hot path parses a record once into `Wire` (`wire`), a flat view with every field of every
//! kind (borrowing strings from the input where it can), then classifies it and moves the fields
//! into the typed record. A flat struct is several times faster than an internally tagged enum,
//! which would buffer the whole object to find its tag. Only when that fails do we parse again,
//! tracking the path, to say which field was wrong: errors are rare, so they may be slow.

use crate::websocket::WEBSOCKET_SCHEMA_VERSION;
use crate::wire::{Str, Wire};
use crate::{
    feedback::CONNECTION_GONE_SCHEMA_VERSION, tick::TICK_SCHEMA_VERSION, ConnectFailed, Connected,
    ConnectionGone, DecodeError, DisconnectReason, Disconnected, Lifecycle, Record, Subscription,
    Telemetry, Tick, WebSocketRecord, WsEventType,
};
use std::borrow::Cow;

/// Decodes one JSON record as its source wrote it.
///
/// # Errors
/// A [`DecodeError`] naming the field, what was expected and what was found. The decoder never
/// panics, whatever the bytes.
pub fn decode_json(bytes: &[u8]) -> Result<Record, DecodeError> {
    // A derived struct visitor also accepts a JSON array (fields by position); records are objects.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(DecodeError::NotJson {
                reason: "it does not start with `{`".into(),
            })
        }
        None => {
            return Err(DecodeError::NotJson {
                reason: "the record is empty".into(),
            })
        }
    }
    // One UTF-8 check of the whole record is much cheaper than serde_json's check of each
    // string in it, which parsing a `&str` skips. Invalid bytes are explained by the slice
    // parser, which says where they are.
    let Ok(text) = crate::utf8::from_utf8(bytes) else {
        return Err(explain(bytes));
    };
    if let Some(wire) = crate::json_fast::wire(text) {
        return classify(wire, bytes);
    }
    match serde_json::from_str::<Wire<'_>>(text) {
        Ok(wire) => classify(wire, bytes),
        Err(_) => Err(explain(bytes)),
    }
}

/// Parses again with path tracking to turn serde's message into which field, expected, found.
fn explain(bytes: &[u8]) -> DecodeError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let err = match serde_path_to_error::deserialize::<_, Wire<'_>>(&mut de) {
        Ok(_) => match de.end() {
            Ok(()) => {
                return DecodeError::NotJson {
                    reason: "inconsistent parse".into(),
                }
            }
            Err(e) => {
                return DecodeError::NotJson {
                    reason: e.to_string(),
                }
            }
        },
        Err(e) => e,
    };
    let field = err.path().to_string();
    let inner = err.into_inner();
    if inner.classify() != serde_json::error::Category::Data || field == "." {
        return DecodeError::NotJson {
            reason: inner.to_string(),
        };
    }
    // serde's data errors read "invalid type: string \"x\", expected u64 at line 1 column 9".
    let msg = inner.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    let (found, expected) = match msg.split_once(", expected ") {
        Some((found, expected)) => {
            let found = found
                .trim_start_matches("invalid type: ")
                .trim_start_matches("invalid value: ")
                .trim_start_matches("invalid length ");
            (found.to_owned(), expected.to_owned())
        }
        None => (msg.to_owned(), "a valid value".to_owned()),
    };
    DecodeError::InvalidField {
        field,
        expected,
        found,
    }
}

fn classify(w: Wire<'_>, bytes: &[u8]) -> Result<Record, DecodeError> {
    // The telemetry rule writes a device's payload with `deviceId` (its topic) added, and no other
    // source writes one: whatever else the payload says (`kind`, `eventType`) is the device's
    // data, never a WebSocket record, a lifecycle event or a tick it could forge.
    if w.device_id.is_some() {
        return telemetry(w, bytes).map(Record::Telemetry);
    }
    if let Some(kind) = w.kind.as_deref() {
        return match kind {
            "websocket" => websocket(w).map(|r| Record::WebSocket(Box::new(r))),
            "connection_gone" => connection_gone(w).map(Record::ConnectionGone),
            "tick" => tick(w).map(Record::Tick),
            "telemetry" => telemetry(w, bytes).map(Record::Telemetry),
            other => Err(DecodeError::UnknownKind {
                found: format!("kind {other:?}"),
            }),
        };
    }
    if let Some(event_type) = w.event_type.as_deref() {
        return match event_type {
            "connected" => connected(w),
            "disconnected" => disconnected(w),
            "subscribed" => subscription(w, true),
            "unsubscribed" => subscription(w, false),
            "connect_failed" => connect_failed(w),
            other => Err(DecodeError::UnknownKind {
                found: format!("eventType {other:?}"),
            }),
        }
        .map(Record::Lifecycle);
    }
    Err(DecodeError::UnknownKind {
        found: "no kind, eventType or deviceId field".into(),
    })
}

fn required<T>(v: Option<T>, kind: &'static str, field: &'static str) -> Result<T, DecodeError> {
    v.ok_or(DecodeError::MissingField { kind, field })
}

/// Ids key projections and partitions: an empty one is as useless as a missing one.
fn id(v: Str<'_>, kind: &'static str, field: &'static str) -> Result<String, DecodeError> {
    let v = required(v, kind, field)?;
    if v.is_empty() {
        return Err(DecodeError::InvalidField {
            field: field.to_owned(),
            expected: "a non-empty string".into(),
            found: "\"\"".into(),
        });
    }
    Ok(v.into_owned())
}

fn owned(v: Str<'_>) -> Option<String> {
    v.map(Cow::into_owned)
}

fn connected(w: Wire<'_>) -> Result<Lifecycle, DecodeError> {
    const K: &str = "connected";
    Ok(Lifecycle::Connected(Connected {
        client_id: id(w.client_id, K, "clientId")?,
        thing_name: owned(w.thing_name),
        timestamp: required(w.timestamp, K, "timestamp")?,
        session_identifier: id(w.session_identifier, K, "sessionIdentifier")?,
        principal_identifier: owned(w.principal_identifier),
        ip_address: owned(w.ip_address),
        version_number: w.version_number,
    }))
}

fn disconnected(w: Wire<'_>) -> Result<Lifecycle, DecodeError> {
    const K: &str = "disconnected";
    Ok(Lifecycle::Disconnected(Disconnected {
        client_id: id(w.client_id, K, "clientId")?,
        thing_name: owned(w.thing_name),
        timestamp: required(w.timestamp, K, "timestamp")?,
        session_identifier: id(w.session_identifier, K, "sessionIdentifier")?,
        principal_identifier: owned(w.principal_identifier),
        version_number: w.version_number,
        client_initiated_disconnect: w.client_initiated_disconnect,
        disconnect_reason: w.disconnect_reason.as_deref().map(DisconnectReason::parse),
    }))
}

/// The most topics one subscription event may list. AWS IoT takes at most 8 filters per SUBSCRIBE;
/// an event listing more is not AWS's, and would grow the client's entry by as many.
pub const SUBSCRIPTION_TOPICS_MAX: usize = 100;

fn subscription(w: Wire<'_>, subscribed: bool) -> Result<Lifecycle, DecodeError> {
    let k = if subscribed {
        "subscribed"
    } else {
        "unsubscribed"
    };
    if let Some(topics) = w
        .topics
        .as_ref()
        .filter(|t| t.len() > SUBSCRIPTION_TOPICS_MAX)
    {
        return Err(DecodeError::InvalidField {
            field: "topics".into(),
            expected: format!("at most {SUBSCRIPTION_TOPICS_MAX} topics (AWS IoT sends at most 8)"),
            found: format!("{} topics", topics.len()),
        });
    }
    let s = Subscription {
        client_id: id(w.client_id, k, "clientId")?,
        thing_name: owned(w.thing_name),
        timestamp: required(w.timestamp, k, "timestamp")?,
        session_identifier: id(w.session_identifier, k, "sessionIdentifier")?,
        principal_identifier: owned(w.principal_identifier),
        topics: required(w.topics, k, "topics")?
            .into_iter()
            .map(Cow::into_owned)
            .collect(),
    };
    Ok(if subscribed {
        Lifecycle::Subscribed(s)
    } else {
        Lifecycle::Unsubscribed(s)
    })
}

fn connect_failed(w: Wire<'_>) -> Result<Lifecycle, DecodeError> {
    const K: &str = "connect_failed";
    Ok(Lifecycle::ConnectFailed(ConnectFailed {
        client_id: id(w.client_id, K, "clientId")?,
        thing_name: owned(w.thing_name),
        timestamp: required(w.timestamp, K, "timestamp")?,
        connect_failure_reason: owned(w.connect_failure_reason),
        principal_identifier: owned(w.principal_identifier),
        session_identifier: owned(w.session_identifier),
        ip_address: owned(w.ip_address),
    }))
}

/// Telemetry comes nested, `{deviceId, timestamp, parameters: {...}}`, or flat, as the IoT rule
/// `SELECT *, topic(2) AS deviceId, timestamp() AS timestamp FROM 'devices/+/params'` writes it:
/// the device's own fields beside the two the rule adds, which then are the parameters.
fn telemetry(w: Wire<'_>, bytes: &[u8]) -> Result<Telemetry, DecodeError> {
    const K: &str = "telemetry";
    let device_id = id(w.device_id, K, "deviceId")?;
    let timestamp = required(w.timestamp, K, "timestamp")?;
    let parameters = match w.parameters {
        Some(parameters) => parameters,
        None => {
            let mut all: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes)
                .map_err(|e| DecodeError::NotJson {
                    reason: e.to_string(),
                })?;
            for added in ["deviceId", "timestamp", "kind"] {
                all.remove(added);
            }
            all
        }
    };
    Ok(Telemetry {
        device_id,
        timestamp,
        parameters,
    })
}

fn connection_gone(w: Wire<'_>) -> Result<ConnectionGone, DecodeError> {
    const K: &str = "connection_gone";
    let version = required(w.schema_version, K, "schemaVersion")?;
    if version == 0 || version > CONNECTION_GONE_SCHEMA_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            kind: K,
            found: version,
            supported: CONNECTION_GONE_SCHEMA_VERSION,
        });
    }
    Ok(ConnectionGone {
        schema_version: CONNECTION_GONE_SCHEMA_VERSION,
        connection_id: id(w.connection_id, K, "connectionId")?,
        timestamp: required(w.timestamp, K, "timestamp")?,
        delivery_id: owned(w.delivery_id),
    })
}

fn tick(w: Wire<'_>) -> Result<Tick, DecodeError> {
    const K: &str = "tick";
    let version = required(w.schema_version, K, "schemaVersion")?;
    if version == 0 || version > TICK_SCHEMA_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            kind: K,
            found: version,
            supported: TICK_SCHEMA_VERSION,
        });
    }
    Ok(Tick {
        schema_version: TICK_SCHEMA_VERSION,
        shard_id: id(w.shard_id, K, "shardId")?,
        timestamp: required(w.timestamp, K, "timestamp")?,
    })
}

fn websocket(w: Wire<'_>) -> Result<WebSocketRecord, DecodeError> {
    const K: &str = "websocket";
    let version = required(w.schema_version, K, "schemaVersion")?;
    if version == 0 || version > WEBSOCKET_SCHEMA_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            kind: K,
            found: version,
            supported: WEBSOCKET_SCHEMA_VERSION,
        });
    }
    let event_type = match required(w.event_type.as_deref(), K, "eventType")? {
        "CONNECT" => WsEventType::Connect,
        "MESSAGE" => WsEventType::Message,
        "DISCONNECT" => WsEventType::Disconnect,
        other => {
            return Err(DecodeError::InvalidField {
                field: "eventType".into(),
                expected: "CONNECT, MESSAGE or DISCONNECT".into(),
                found: format!("{other:?}"),
            })
        }
    };
    // Authorizer context values may be numbers or booleans; we keep them as strings.
    let authorizer = w
        .authorizer
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k, s)),
            other => Some((k, other.to_string())),
        })
        .collect();
    let mut record = WebSocketRecord {
        schema_version: WEBSOCKET_SCHEMA_VERSION,
        event_type,
        route_key: id(w.route_key, K, "routeKey")?,
        connection_id: id(w.connection_id, K, "connectionId")?,
        connected_at: required(w.connected_at, K, "connectedAt")?,
        request_time_epoch: required(w.request_time_epoch, K, "requestTimeEpoch")?,
        request_id: owned(w.request_id),
        message_id: owned(w.message_id),
        domain_name: owned(w.domain_name),
        stage: owned(w.stage),
        api_id: owned(w.api_id),
        source_ip: owned(w.source_ip),
        user_agent: owned(w.user_agent),
        client_id: owned(w.client_id).filter(|c| !c.is_empty()),
        authorizer,
        query_string_parameters: w.query_string_parameters.unwrap_or_default(),
        body: owned(w.body),
        disconnect_status_code: w.disconnect_status_code,
        disconnect_reason: owned(w.disconnect_reason),
    };
    // Upcast version 1, which had no `clientId`: resolve it the way ingest does now.
    if version < 2 && record.client_id.is_none() {
        record.client_id = record.resolved_client_id().map(str::to_owned);
    }
    Ok(record)
}
