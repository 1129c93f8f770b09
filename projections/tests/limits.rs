//! Rate limits and bounds in the fold, on event time: a flood gets `rate_limited` after the
//! burst and delivers only what conformed; a retried batch does not limit what it let through;
//! a message, a watch list or a client's rooms over their bound get `too_large`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::limits::Limits;
use projections::{Config, Delivery};
use schemas::Record;
use support::*;

fn errors<'a>(deliveries: &'a [Delivery], reason: &str) -> Vec<&'a serde_json::Value> {
    deliveries
        .iter()
        .filter(|d| d.payload["type"] == "error" && d.payload["reason"] == reason)
        .map(|d| &d.payload)
        .collect()
}

fn to(deliveries: &[Delivery], client: &str) -> usize {
    deliveries
        .iter()
        .filter(|d| d.client_id.as_deref() == Some(client) && d.payload["type"] == "message")
        .count()
}

/// Alice and bob in room r1, bob listening on his own connection.
fn room() -> Vec<Record> {
    vec![
        ws_connect("a", "alice", T0),
        ws_connect("b", "bob", T0),
        ws_message("a", T0, T0 + 1, r#"{"action":"join","chatId":"r1"}"#),
        ws_message("b", T0, T0 + 1, r#"{"action":"join","chatId":"r1"}"#),
    ]
}

/// `n` messages from alice to r1, `every` ms apart from `start`.
fn flood(n: u64, start: u64, every: u64) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let body = format!(r#"{{"action":"sendmessage","chatId":"r1","message":"m{i}"}}"#);
            ws_message("a", T0, start + i * every, &body)
        })
        .collect()
}

#[test]
fn a_flood_is_limited_after_the_burst_and_only_what_conformed_is_delivered() {
    // 100 messages in one second: the burst of 20, then 10 a second.
    let mut records = room();
    records.extend(flood(100, T0 + 1_000, 10));
    let (_, deliveries) = fold(&records);
    let delivered = to(&deliveries, "bob");
    let limited = errors(&deliveries, "rate_limited");
    assert_eq!(delivered + limited.len(), 100);
    assert!((29..=30).contains(&delivered), "{delivered} delivered");
    assert!(limited.iter().all(|e| e["action"] == "sendmessage"));
    assert!(limited
        .iter()
        .all(|e| (1..=100).contains(&e["retryAfterMs"].as_u64().unwrap())));
    // A limited message is not in the room's history either.
    records.push(ws_message(
        "b",
        T0,
        T0 + 5_000,
        r#"{"action":"history","chatId":"r1","limit":1000}"#,
    ));
    let (_, deliveries) = fold(&records);
    let history = deliveries
        .iter()
        .find(|d| d.payload["type"] == "history")
        .unwrap();
    assert_eq!(
        history.payload["messages"].as_array().unwrap().len(),
        delivered
    );
}

#[test]
fn a_retried_batch_does_not_limit_what_it_let_through() {
    let mut records = room();
    records.extend(flood(20, T0 + 1_000, 0));
    let once = fold(&records).1;
    assert!(
        errors(&once, "rate_limited").is_empty(),
        "the burst at one millisecond"
    );
    // The same records again, as a retry delivers them: counted once.
    let again: Vec<Record> = records.iter().chain(records.iter()).cloned().collect();
    let twice = fold(&again).1;
    assert!(errors(&twice, "rate_limited").is_empty());
    // A 21st message at that millisecond is over.
    let mut more = again.clone();
    more.push(ws_message(
        "a",
        T0,
        T0 + 1_000,
        r#"{"action":"sendmessage","chatId":"r1","message":"one more"}"#,
    ));
    let limited = fold(&more).1;
    assert_eq!(errors(&limited, "rate_limited").len(), 1);
}

#[test]
fn joins_have_their_own_rate() {
    let records: Vec<Record> = std::iter::once(ws_connect("a", "alice", T0))
        .chain((0..12).map(|i| {
            let body = format!(r#"{{"action":"join","chatId":"room-{i}"}}"#);
            ws_message("a", T0, T0 + 1_000 + i, &body)
        }))
        .collect();
    let (world, deliveries) = fold(&records);
    let limited = errors(&deliveries, "rate_limited");
    assert_eq!(limited.len(), 2, "ten joins at once, then 30 a minute");
    assert_eq!(limited[0]["action"], "join");
    assert_eq!(world.client("alice").unwrap().rooms.len(), 10);
}

#[test]
fn bounds_refuse_with_too_large() {
    let config = Config {
        limits: Limits {
            message_max_bytes: 100,
            watch_list_max: 2,
            rooms_per_client_max: 2,
            ..Limits::default()
        },
        ..Config::default()
    };
    let big = format!(
        r#"{{"action":"sendmessage","message":"{}"}}"#,
        "x".repeat(100)
    );
    let records = [
        ws_connect("a", "alice", T0),
        ws_message("a", T0, T0 + 1, &big),
        ws_message(
            "a",
            T0,
            T0 + 2,
            r#"{"action":"set_notify_list","devices":["d1","d2","d3"]}"#,
        ),
        ws_message("a", T0, T0 + 3, r#"{"action":"join","chatId":"r1"}"#),
        ws_message("a", T0, T0 + 4, r#"{"action":"join","chatId":"r2"}"#),
        ws_message("a", T0, T0 + 5, r#"{"action":"join","chatId":"r3"}"#),
        // Joining a room it is in already is not one more.
        ws_message("a", T0, T0 + 6, r#"{"action":"join","chatId":"r2"}"#),
    ];
    let (world, deliveries) = fold_with(config, &records);
    let refused: Vec<(&str, u64)> = errors(&deliveries, "too_large")
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["limit"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        refused,
        [("sendmessage", 100), ("set_notify_list", 2), ("join", 2)]
    );
    let alice = world.client("alice").unwrap();
    assert_eq!(alice.rooms, ["r1", "r2"]);
    assert!(alice.watching.is_empty());
}

#[test]
fn no_limit_is_no_limit() {
    let config = Config {
        limits: Limits {
            messages_per_second: 0,
            joins_per_minute: 0,
            ..Limits::default()
        },
        ..Config::default()
    };
    let mut records = room();
    records.extend(flood(100, T0 + 1_000, 0));
    let (_, deliveries) = fold_with(config, &records);
    assert_eq!(to(&deliveries, "bob"), 100);
}
