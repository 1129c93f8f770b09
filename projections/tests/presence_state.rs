//! `presence`: a room's members, or the devices a connection watches, with `online` (or
//! `connected`) and `lastSeen`, to the asking connection; a usage reply to anyone else. The same
//! answer from a world in memory and from one that loads what it needs from a store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, Delivery};
use serde_json::json;
use support::*;

/// alice (WebSocket) and bob (MQTT) in room r1, carol left it, dave in it but disconnected; the
/// thermostat connected and disconnected; alice's connection watches it.
fn setting() -> Vec<schemas::Record> {
    vec![
        ws_connect("cA", "alice", T0),
        ws_message("cA", T0, T0 + 1, r#"{"action":"join","chatId":"r1"}"#),
        connected("bob", "sb", Some(1), T0 + 2),
        subscribed("bob", "sb", &["app/bob/chat/r1"], T0 + 3),
        ws_connect("cC", "carol", T0 + 4),
        ws_message("cC", T0 + 4, T0 + 5, r#"{"action":"join","chatId":"r1"}"#),
        ws_message("cC", T0 + 4, T0 + 6, r#"{"action":"leave","chatId":"r1"}"#),
        ws_connect("cD", "dave", T0 + 7),
        ws_message("cD", T0 + 7, T0 + 8, r#"{"action":"join","chatId":"r1"}"#),
        ws_disconnect("cD", T0 + 7, T0 + 9),
        connected("thermostat-1", "st", Some(1), T0 + 10),
        disconnected(
            "thermostat-1",
            "st",
            Some(1),
            T0 + 20,
            "MQTT_KEEP_ALIVE_TIMEOUT",
        ),
        ws_message(
            "cA",
            T0,
            T0 + 21,
            r#"{"action":"set_notify_list","devices":["thermostat-1","sensor-9"]}"#,
        ),
    ]
}

/// The reply to `body` sent on `conn` after [`setting`], folded in memory and over a store a
/// batch at a time; both must agree.
fn reply(conn: &str, body: &str) -> serde_json::Value {
    let mut events = setting();
    events.push(ws_message(conn, T0, T0 + 30, body));
    let (_, deliveries) = fold(&events);
    let in_memory = last_to(&deliveries, conn);
    let mut store = MemStore::default();
    let config = Config::default();
    let mut stored = Vec::new();
    for batch in events.chunks(4) {
        stored = store.process(&config, batch, None);
    }
    assert_eq!(
        last_to(&stored, conn),
        in_memory,
        "the store-backed fold differs"
    );
    in_memory
}

fn last_to(deliveries: &[Delivery], conn: &str) -> serde_json::Value {
    let d = deliveries
        .iter()
        .rev()
        .find(|d| d.channel.target() == conn)
        .expect("a reply to the asker");
    assert_eq!(
        d.channel.name(),
        "websocket",
        "presence goes by socket only"
    );
    d.payload.clone()
}

#[test]
fn a_member_gets_the_rooms_members_with_presence_and_last_seen() {
    let state = reply("cA", r#"{"action":"presence","chatId":"r1"}"#);
    assert_eq!(
        state,
        json!({
            "type": "presence_state",
            "chatId": "r1",
            "members": [
                {"clientId": "alice", "online": true, "lastSeen": T0 + 30},
                {"clientId": "bob", "online": true, "lastSeen": T0 + 30},
                {"clientId": "dave", "online": false, "lastSeen": T0 + 9},
            ],
        })
    );
}

#[test]
fn a_non_member_gets_a_usage_reply() {
    let refused = reply("cC", r#"{"action":"presence","chatId":"r1"}"#);
    assert_eq!(refused["type"], "usage");
    assert_eq!(refused["action"], "presence");
    assert!(refused["reason"]
        .as_str()
        .unwrap()
        .contains("join it first"));
}

#[test]
fn a_watcher_gets_its_devices_connectivity() {
    let state = reply(
        "cA",
        r#"{"action":"presence","devices":["thermostat-1","sensor-9"]}"#,
    );
    assert_eq!(
        state,
        json!({
            "type": "presence_state",
            "devices": [
                {"deviceId": "sensor-9", "connected": false, "lastSeen": null},
                {"deviceId": "thermostat-1", "connected": false, "lastSeen": T0 + 20},
            ],
        })
    );
}

#[test]
fn devices_the_connection_does_not_watch_get_a_usage_reply() {
    let refused = reply("cA", r#"{"action":"presence","devices":["bob"]}"#);
    assert_eq!(refused["type"], "usage");
    assert!(refused["reason"]
        .as_str()
        .unwrap()
        .contains("\"bob\" is not in"));
}
