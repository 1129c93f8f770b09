//! JSON Schema of every record kind, generated from the Rust types.
//!
//! The published files under `schemas/json-schema/` are these values, pretty-printed; the
//! `json_schema_sync` test fails when they drift (`UPDATE_SCHEMAS=1` rewrites them). The derives
//! give the fields; this module adds what the decoder enforces beyond types: the discriminator
//! (`eventType` or `kind`) as a constant, non-empty ids, and the schema versions it reads.
//! Extra properties stay allowed: AWS adds fields over time and the decoder ignores them.

use crate::feedback::CONNECTION_GONE_SCHEMA_VERSION;
use crate::tick::TICK_SCHEMA_VERSION;
use crate::websocket::WEBSOCKET_SCHEMA_VERSION;
use crate::{
    ConnectFailed, Connected, ConnectionGone, Disconnected, Subscription, Telemetry, Tick,
};
use crate::{WebSocketRecord, WsEventType};
use schemars::{schema_for, JsonSchema};
use serde_json::{json, Map, Value};

/// Every record kind's name (as [`crate::Record::kind_name`] gives it) and JSON Schema (draft 7).
pub fn json_schemas() -> Vec<(&'static str, Value)> {
    let lifecycle_ids: &[&str] = &["clientId", "sessionIdentifier"];
    vec![
        lifecycle::<Connected>("connected", lifecycle_ids),
        lifecycle::<Disconnected>("disconnected", lifecycle_ids),
        lifecycle::<Subscription>("subscribed", lifecycle_ids),
        lifecycle::<Subscription>("unsubscribed", lifecycle_ids),
        // AWS may omit the session of a refused connection; the decoder does not require it.
        lifecycle::<ConnectFailed>("connect_failed", &["clientId"]),
        ("websocket", websocket()),
        ("telemetry", telemetry()),
        ("connection_gone", connection_gone()),
        ("tick", tick()),
    ]
}

fn lifecycle<T: JsonSchema>(event_type: &'static str, ids: &[&str]) -> (&'static str, Value) {
    let mut schema = base::<T>(
        event_type,
        &format!("AWS IoT `{event_type}` lifecycle event, as published on `$aws/events/...`."),
    );
    discriminator(&mut schema, "eventType", event_type, true);
    non_empty(&mut schema, ids);
    (event_type, schema)
}

fn websocket() -> Value {
    let mut schema = base::<WebSocketRecord>(
        "websocket",
        "A WebSocket route event written by ingest (our own record kind).",
    );
    discriminator(&mut schema, "kind", "websocket", true);
    non_empty(&mut schema, &["routeKey", "connectionId"]);
    versions(&mut schema, WEBSOCKET_SCHEMA_VERSION);
    if let Some(authorizer) = property(&mut schema, "authorizer") {
        // API Gateway authorizer context values may be strings, numbers or booleans; the decoder
        // keeps them all (as strings).
        authorizer.insert(
            "additionalProperties".into(),
            json!({ "type": ["string", "number", "boolean", "null"] }),
        );
    }
    // The derive names the `$context.eventType` enum; spell its values out for readers.
    if let Some(event_type) = property(&mut schema, "eventType") {
        let values: Vec<Value> = [
            WsEventType::Connect,
            WsEventType::Message,
            WsEventType::Disconnect,
        ]
        .iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .collect();
        event_type.clear();
        event_type.insert("description".into(), json!("`$context.eventType`."));
        event_type.insert("type".into(), json!("string"));
        event_type.insert("enum".into(), Value::Array(values));
    }
    if let Some(root) = schema.as_object_mut() {
        if let Some(Value::Object(definitions)) = root.get_mut("definitions") {
            definitions.remove("WsEventType");
            if definitions.is_empty() {
                root.remove("definitions");
            }
        }
    }
    schema
}

fn telemetry() -> Value {
    let mut schema = base::<Telemetry>(
        "telemetry",
        "A device's parameter update, written to the stream by an IoT rule.",
    );
    // Telemetry needs no discriminator (`deviceId` identifies it), but may carry one.
    discriminator(&mut schema, "kind", "telemetry", false);
    non_empty(&mut schema, &["deviceId"]);
    schema
}

fn connection_gone() -> Value {
    let mut schema = base::<ConnectionGone>(
        "connection_gone",
        "Processor feedback: a WebSocket delivery got 410 Gone (our own record kind).",
    );
    discriminator(&mut schema, "kind", "connection_gone", true);
    non_empty(&mut schema, &["connectionId"]);
    versions(&mut schema, CONNECTION_GONE_SCHEMA_VERSION);
    schema
}

fn tick() -> Value {
    let mut schema = base::<Tick>(
        "tick",
        "The sweeper's mark of time on a shard, so the fold's now moves on a quiet stream (our own record kind).",
    );
    discriminator(&mut schema, "kind", "tick", true);
    non_empty(&mut schema, &["shardId"]);
    versions(&mut schema, TICK_SCHEMA_VERSION);
    schema
}

/// The derived schema with the kind's name as its title.
fn base<T: JsonSchema>(title: &str, description: &str) -> Value {
    let mut schema = serde_json::to_value(schema_for!(T)).unwrap_or(Value::Null);
    if let Some(root) = schema.as_object_mut() {
        root.insert("title".into(), json!(title));
        root.insert("description".into(), json!(description));
    }
    schema
}

fn discriminator(schema: &mut Value, key: &str, value: &str, required: bool) {
    let Some(root) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(properties)) = root.get_mut("properties") {
        properties.insert(key.into(), json!({ "type": "string", "const": value }));
    }
    if required {
        if let Some(Value::Array(list)) = root.get_mut("required") {
            list.insert(0, json!(key));
        }
    }
}

fn non_empty(schema: &mut Value, ids: &[&str]) {
    for id in ids {
        if let Some(property) = property(schema, id) {
            property.insert("minLength".into(), json!(1));
        }
    }
}

fn versions(schema: &mut Value, newest: u32) {
    if let Some(version) = property(schema, "schemaVersion") {
        version.insert("minimum".into(), json!(1));
        version.insert("maximum".into(), json!(newest));
    }
}

fn property<'a>(schema: &'a mut Value, name: &str) -> Option<&'a mut Map<String, Value>> {
    schema.get_mut("properties")?.get_mut(name)?.as_object_mut()
}
