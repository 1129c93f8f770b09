//! Proptest strategies for records over a few clients, sessions, connections, rooms and devices,
//! so that generated streams collide: takeovers, duplicates, equal timestamps, rooms shared.

use super::*;
use proptest::prelude::*;
use schemas::Record;

const CLIENTS: &[&str] = &["c1", "c2", "c3"];
const SESSIONS: &[&str] = &["s1", "s2", "s3", "s4"];
/// Connections with their fixed client and connect time (a connection has one of each).
const CONNS: &[(&str, &str, u64)] = &[("w1", "c1", 0), ("w2", "c2", 40), ("w3", "c1", 100)];
const TOPICS: &[&str] = &[
    "app/c1/chat/r1",
    "app/c2/chat/r2",
    "sensors/x",
    "app/c3/chat/r1",
];
const BODIES: &[&str] = &[
    r#"{"action":"join","chatId":"r1"}"#,
    r#"{"action":"leave","chatId":"r1"}"#,
    r#"{"action":"join","chatId":"r2"}"#,
    r#"{"action":"set_notify_list","devices":["d1"]}"#,
    r#"{"action":"set_notify_list","devices":["d1","d2"]}"#,
    r#"{"action":"set_notify_list","devices":[]}"#,
    r#"{"action":"sendmessage","chatId":"r1","message":"hi"}"#,
    r#"{"action":"sendmessage","message":"all"}"#,
    "garbage",
];

/// Event times in 30 s steps over 200 minutes: ties are common, and the range crosses the reset
/// horizon (30 min) and the connection bound (2 h).
fn time() -> impl Strategy<Value = u64> {
    (0u64..400).prop_map(|step| T0 + step * 30_000)
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> prop::sample::Select<T> {
    prop::sample::select(items)
}

const REASONS: &[&str] = &[
    "DUPLICATE_CLIENTID",
    "CONNECTION_LOST",
    "MQTT_KEEP_ALIVE_TIMEOUT",
    "SOMETHING_NEW",
];
const DEVICES: &[&str] = &["d1", "d2"];

fn topics() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(pick(TOPICS), 1..3)
}

pub fn record() -> impl Strategy<Value = Record> {
    let version = prop::option::weighted(0.9, 0u64..4);
    let reason = pick(REASONS);
    prop_oneof![
        3 => (pick(CLIENTS), pick(SESSIONS), version.clone(), time())
            .prop_map(|(c, s, v, t)| connected(c, s, v, t)),
        3 => (pick(CLIENTS), pick(SESSIONS), version, time(), reason)
            .prop_map(|(c, s, v, t, r)| disconnected(c, s, v, t, r)),
        2 => (pick(CLIENTS), pick(SESSIONS), topics(), time())
            .prop_map(|(c, s, tp, t)| subscribed(c, s, &tp, t)),
        2 => (pick(CLIENTS), pick(SESSIONS), topics(), time())
            .prop_map(|(c, s, tp, t)| unsubscribed(c, s, &tp, t)),
        2 => pick(CONNS).prop_map(|(w, c, at)| ws_connect(w, c, T0 + at * 60_000)),
        1 => (pick(CONNS), 0u64..150).prop_map(|((w, _, at), d)| ws_disconnect(w, T0 + at * 60_000, T0 + (at + d) * 60_000)),
                3 => (pick(CONNS), 0u64..150, pick(BODIES), prop::option::of(pick(CLIENTS)))
            .prop_map(|((w, _, at), d, b, claimed)| {
                // Ingest may have resolved a client id on a message, even a wrong one.
                let mut r = ws_message(w, T0 + at * 60_000, T0 + (at + d) * 60_000, b);
                if let (Record::WebSocket(ws), Some(c)) = (&mut r, claimed) {
                    ws.client_id = Some(c.to_owned());
                }
                r
            }),

        1 => (pick(DEVICES), time()).prop_map(|(d, t)| telemetry(d, t, serde_json::json!({"v": 1}))),
        1 => (pick(CONNS), time()).prop_map(|((w, _, _), t)| gone(w, t)),
    ]
}

pub fn records() -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec(record(), 0..40)
}

/// Records with the sweeper's ticks among them, on two shards. Only for worlds that keep the
/// fold's now across batches (memory, or one kept world): a table keeps no tick's time, only
/// what the tick's batch wrote (`lastSeen` is now while online), so its views may differ.
pub fn records_and_ticks() -> impl Strategy<Value = Vec<Record>> {
    let tick = (pick(&["shardId-0", "shardId-1"]), time()).prop_map(|(s, t)| tick(s, t));
    prop::collection::vec(prop_oneof![9 => record(), 1 => tick], 0..40)
}

/// The events, shuffled, with some of them repeated.
pub fn shuffled_with_duplicates() -> impl Strategy<Value = (Vec<Record>, Vec<Record>)> {
    records().prop_flat_map(|events| {
        let n = events.len();
        let dups = prop::collection::vec(0..n.max(1), 0..=n);
        (Just(events), dups).prop_flat_map(|(events, dups)| {
            let mut again = events.clone();
            again.extend(dups.into_iter().filter_map(|i| events.get(i).cloned()));
            (Just(events), Just(again).prop_shuffle())
        })
    })
}
