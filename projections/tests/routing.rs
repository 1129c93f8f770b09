//! Delivery routing: who gets a message, by which channel, and with which id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Channel, Delivery};
use serde_json::json;
use support::*;

fn targets(deliveries: &[Delivery]) -> Vec<(String, String)> {
    let mut t: Vec<_> = deliveries
        .iter()
        .map(|d| (d.channel.name().to_owned(), d.channel.target().to_owned()))
        .collect();
    t.sort();
    t
}

fn pair(channel: &str, target: &str) -> (String, String) {
    (channel.to_owned(), target.to_owned())
}

/// [`chat_room`], then dave says "hi" to room r1.
fn chat_room_with_message() -> Vec<schemas::Record> {
    let mut events = chat_room();
    let body = r#"{"action":"sendmessage","chatId":"r1","message":"hi"}"#;
    events.push(ws_message("cD", T0 + 7, T0 + 9, body));
    events
}

/// A room with a WebSocket member, an MQTT member, an offline member and the sender.
fn chat_room() -> Vec<schemas::Record> {
    vec![
        ws_connect("cA", "alice", T0),
        ws_message("cA", T0, T0 + 1, r#"{"action":"join","chatId":"r1"}"#),
        connected("bob", "sb", Some(1), T0 + 2),
        subscribed("bob", "sb", &["app/bob/chat/r1"], T0 + 3),
        ws_connect("cC", "carol", T0 + 4),
        ws_message("cC", T0 + 4, T0 + 5, r#"{"action":"join","chatId":"r1"}"#),
        ws_disconnect("cC", T0 + 4, T0 + 6),
        ws_connect("cD", "dave", T0 + 7),
        ws_message("cD", T0 + 7, T0 + 8, r#"{"action":"join","chatId":"r1"}"#),
    ]
}

#[test]
fn chat_goes_by_socket_when_reachable_else_push_and_never_to_the_sender() {
    let events = chat_room_with_message();
    let (_, deliveries) = fold(&events);
    assert_eq!(
        targets(&deliveries),
        [
            pair("mqtt", "app/bob/chat/r1"),
            pair("push", "carol"),
            pair("websocket", "cA")
        ]
    );
    let push = deliveries
        .iter()
        .find(|d| d.channel.name() == "push")
        .unwrap();
    assert_eq!(push.payload["type"], "message");
    assert_eq!(push.payload["from"], "dave");
    assert_eq!(push.payload["chatId"], "r1");
    assert_eq!(push.payload["message"], "hi");
}

#[test]
fn seed_000_socket_while_subscribed_then_push_after_disconnect() {
    let mut events = vec![
        connected("bob", "sb", Some(1), T0),
        subscribed("bob", "sb", &["app/bob/chat/7"], T0 + 1),
        ws_connect("cX", "xena", T0 + 2),
        ws_message(
            "cX",
            T0 + 2,
            T0 + 3,
            r#"{"action":"sendmessage","chatId":7,"message":"one"}"#,
        ),
    ];
    let (_, first) = fold(&events);
    assert_eq!(targets(&first), [pair("mqtt", "app/bob/chat/7")]);
    events.push(disconnected(
        "bob",
        "sb",
        Some(1),
        T0 + 4,
        "CONNECTION_LOST",
    ));
    events.push(ws_message(
        "cX",
        T0 + 2,
        T0 + 5,
        r#"{"action":"sendmessage","chatId":"7","message":"two"}"#,
    ));
    let (_, all) = fold(&events);
    let second: Vec<_> = all
        .iter()
        .filter(|d| d.payload["message"] == "two")
        .cloned()
        .collect();
    assert_eq!(
        targets(&second),
        [pair("push", "bob")],
        "membership is durable, the socket is not"
    );
}

#[test]
fn sendmessage_without_a_room_reaches_every_live_connection_but_the_senders() {
    let events = [
        ws_connect("c1", "a", T0),
        ws_connect("c2", "b", T0 + 1),
        ws_connect("c3", "c", T0 + 2),
        ws_connect("c4", "d", T0 + 3),
        ws_disconnect("c4", T0 + 3, T0 + 4),
        ws_message(
            "c1",
            T0,
            T0 + 5,
            r#"{"action":"sendmessage","message":"hello"}"#,
        ),
    ];
    let (_, deliveries) = fold(&events);
    assert_eq!(
        targets(&deliveries),
        [pair("websocket", "c2"), pair("websocket", "c3")]
    );
    assert_eq!(deliveries[0].payload["from"], "a");
}

#[test]
fn telemetry_reaches_live_watchers_of_the_device_only() {
    let events = [
        ws_connect("c1", "a", T0),
        ws_message(
            "c1",
            T0,
            T0 + 1,
            r#"{"action":"set_notify_list","devices":["d1","d2"]}"#,
        ),
        ws_connect("c2", "b", T0 + 2),
        ws_message(
            "c2",
            T0 + 2,
            T0 + 3,
            r#"{"action":"set_notify_list","devices":["d2"]}"#,
        ),
        ws_message(
            "c2",
            T0 + 2,
            T0 + 4,
            r#"{"action":"set_notify_list","devices":[]}"#,
        ),
        ws_connect("c3", "c", T0 + 5),
        ws_message(
            "c3",
            T0 + 5,
            T0 + 6,
            r#"{"action":"set_notify_list","devices":["d2"]}"#,
        ),
        ws_disconnect("c3", T0 + 5, T0 + 7),
        telemetry("d2", T0 + 8, json!({"temp": 21.5})),
    ];
    let (world, deliveries) = fold(&events);
    assert_eq!(targets(&deliveries), [pair("websocket", "c1")]);
    assert_eq!(
        deliveries[0].payload,
        json!({"type":"telemetry","deviceId":"d2","params":{"temp":21.5},"timestamp":T0 + 8})
    );
    assert_eq!(world.client("a").unwrap().watching, ["d1", "d2"]);
    assert!(world.client("b").unwrap().watching.is_empty());
}

#[test]
fn default_and_unknown_actions_get_a_usage_reply_with_connection_info() {
    for body in [
        "not json",
        r#"{"action":"dance"}"#,
        r#"{"action":"sendmessage"}"#,
        r#"{"message":"x"}"#,
    ] {
        let events = [
            ws_connect("c1", "a", T0),
            ws_message("c1", T0, T0 + 1, body),
        ];
        let (_, deliveries) = fold(&events);
        assert_eq!(
            targets(&deliveries),
            [pair("websocket", "c1")],
            "body {body}"
        );
        let p = &deliveries[0].payload;
        assert_eq!(p["type"], "usage");
        assert!(p["message"].as_str().unwrap().contains("sendmessage"));
        assert_eq!(p["connection"]["connectionId"], "c1");
        assert_eq!(p["connection"]["clientId"], "a");
        assert!(p["reason"].as_str().is_some_and(|r| !r.is_empty()));
    }
}

#[test]
fn delivery_ids_are_deterministic_and_distinct_per_target() {
    let events = chat_room_with_message();
    let (_, a) = fold(&events);
    let (_, b) = fold(&events);
    let ids = |d: &[Delivery]| d.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    let mut unique = ids(&a);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), a.len());
    assert!(a.iter().all(|d| d.event_id == a[0].event_id));
    assert!(matches!(
        a[0].channel,
        Channel::WebSocket { .. } | Channel::Mqtt { .. } | Channel::Push { .. }
    ));
}

#[test]
fn lifecycle_events_cause_no_deliveries() {
    let (_, deliveries) = fold(&[
        connected("a", "s", Some(1), T0),
        subscribed("a", "s", &["x/y/chat/1"], T0 + 1),
    ]);
    assert!(deliveries.is_empty());
}

#[test]
fn delivery_lines_are_camel_case_json_without_repeated_keys() {
    let events = chat_room_with_message();
    let (_, deliveries) = fold(&events);
    for d in &deliveries {
        let line = serde_json::to_string(d).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        let keys = value.as_object().unwrap().len();
        assert_eq!(
            line.matches("\":").count() - count_nested(&value),
            keys,
            "repeated key in {line}"
        );
        assert!(
            !line.contains("connection_id") && !line.contains("client_id"),
            "{line}"
        );
        assert!(
            value["eventId"].as_str().is_some_and(|s| s.len() == 32),
            "{line}"
        );
    }
    let push = deliveries
        .iter()
        .find(|d| d.channel.name() == "push")
        .unwrap();
    assert_eq!(push.recipient(), Some("carol"));
}

/// How many `"key":` occurrences are inside nested objects (the payload), not at the top level.
fn count_nested(v: &serde_json::Value) -> usize {
    fn keys(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Object(m) => m.len() + m.values().map(keys).sum::<usize>(),
            serde_json::Value::Array(a) => a.iter().map(keys).sum(),
            _ => 0,
        }
    }
    keys(v) - v.as_object().map_or(0, |m| m.len())
}
