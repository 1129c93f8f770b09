//! Every delivery payload the fold produces validates against its published JSON Schema
//! (`projections/json-schema/{type}.schema.json`), and the scenario below produces every type.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use std::collections::BTreeMap;
use support::*;

fn validator(kind: &str) -> jsonschema::JSONSchema {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("json-schema")
        .join(format!("{kind}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::JSONSchema::compile(&schema).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

/// The README's seeds, then a member's history and presence requests, a watcher's presence request,
/// a device coming and going, a presence room joined, a member of it going offline, the room left,
/// a body that fits no route, a join the token does not grant and a body over the size limit.
fn scenario() -> Vec<schemas::Record> {
    let mut records: Vec<schemas::Record> = include_str!("../../examples/seeds.jsonl")
        .lines()
        .filter_map(|l| schemas::decode_json(l.as_bytes()).ok())
        .collect();
    let t = records.iter().map(|r| r.event_time()).max().unwrap();
    records.extend([
        ws_connect("cA", "ann", t),
        ws_message("cA", t, t + 1, r#"{"action":"join","chatId":"r1"}"#),
        ws_message(
            "cA",
            t,
            t + 2,
            r#"{"action":"sendmessage","chatId":"r1","message":"hi"}"#,
        ),
        ws_message("cA", t, t + 3, r#"{"action":"history","chatId":"r1"}"#),
        ws_message("cA", t, t + 4, r#"{"action":"presence","chatId":"r1"}"#),
        ws_message(
            "cA",
            t,
            t + 5,
            r#"{"action":"set_notify_list","devices":["dev1"]}"#,
        ),
        connected("dev1", "s1", Some(1), t + 6),
        disconnected("dev1", "s1", Some(1), t + 7, "CONNECTION_LOST"),
        ws_message(
            "cA",
            t,
            t + 8,
            r#"{"action":"presence","devices":["dev1"]}"#,
        ),
        ws_message(
            "cA",
            t,
            t + 9,
            r#"{"action":"sendmessage","message":"all"}"#,
        ),
        ws_message("cA", t, t + 10, "not json"),
        forbidden_join("cC", t + 10),
        ws_message("cA", t, t + 10, &"x".repeat(128 * 1024 + 1)),
        ws_connect("cB", "ben", t + 11),
        ws_message(
            "cA",
            t,
            t + 12,
            r#"{"action":"join","chatId":"presence-1"}"#,
        ),
        ws_message(
            "cB",
            t + 11,
            t + 13,
            r#"{"action":"join","chatId":"presence-1"}"#,
        ),
        ws_disconnect("cB", t + 11, t + 14),
        ws_message(
            "cA",
            t,
            t + 15,
            r#"{"action":"leave","chatId":"presence-1"}"#,
        ),
    ]);
    records
}

/// A connection whose token grants no room, joining one.
fn forbidden_join(conn: &str, t: u64) -> schemas::Record {
    let mut record = ws_message(conn, t, t, r#"{"action":"join","chatId":"r1"}"#);
    if let schemas::Record::WebSocket(ws) = &mut record {
        ws.authorizer = schemas::Claims::default().to_context();
    }
    record
}

#[test]
fn every_payload_fits_its_schema() {
    let (_, deliveries) = fold(&scenario());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut validators = BTreeMap::new();
    for d in &deliveries {
        let kind = d.payload["type"]
            .as_str()
            .expect("a payload names its type");
        let v = validators
            .entry(kind.to_owned())
            .or_insert_with(|| validator(kind));
        if let Err(errors) = v.validate(&d.payload) {
            let errors: Vec<String> = errors
                .map(|e| format!("{e} at {}", e.instance_path))
                .collect();
            panic!("{kind} payload {} does not fit: {errors:?}", d.payload);
        }
        *seen.entry(kind.to_owned()).or_default() += 1;
    }
    let kinds: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(
        kinds,
        [
            "error",
            "history",
            "message",
            "presence",
            "presence_state",
            "telemetry",
            "usage"
        ],
        "the scenario must produce every payload type"
    );
    let forms = |kind: &str, key: &str| {
        deliveries
            .iter()
            .any(|d| d.payload["type"] == kind && d.payload.get(key).is_some())
    };
    assert!(forms("presence", "deviceId") && forms("presence", "chatId"));
    let offline = |d: &&projections::Delivery| d.payload["event"] == "offline";
    assert!(deliveries.iter().any(|d| offline(&d)), "a member's offline");
    assert!(forms("presence_state", "devices") && forms("presence_state", "members"));
}

#[test]
fn the_schemas_refuse_what_the_fold_never_sends() {
    let presence = validator("presence");
    let bad = [
        serde_json::json!({"type": "presence", "event": "connected", "connected": true, "lastSeen": 1}),
        serde_json::json!({"type": "presence", "deviceId": "d", "event": "online", "connected": true, "lastSeen": 1}),
        serde_json::json!({"type": "presence", "deviceId": "d", "event": "connected", "connected": true, "lastSeen": 1, "extra": 1}),
        serde_json::json!({"type": "presence", "chatId": "r", "clientId": "c", "event": "connected", "online": true, "lastSeen": 1, "via": []}),
        serde_json::json!({"type": "presence", "chatId": "r", "clientId": "c", "event": "join", "online": true, "lastSeen": 1, "via": ["sms"]}),
    ];
    for payload in bad {
        assert!(!presence.is_valid(&payload), "accepted {payload}");
    }
    let state = validator("presence_state");
    let both =
        serde_json::json!({"type": "presence_state", "chatId": "r", "members": [], "devices": []});
    assert!(!state.is_valid(&both));
}
