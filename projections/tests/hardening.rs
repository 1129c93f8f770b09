//! Regressions from review: each scenario once derived a wrong or order-dependent projection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, Entry, Key, World};
use schemas::Record;
use support::*;

/// The same record, with ingest having resolved a (different) client id on it.
fn claiming(r: Record, client: &str) -> Record {
    match r {
        Record::WebSocket(mut w) => {
            w.client_id = Some(client.to_owned());
            Record::WebSocket(w)
        }
        other => other,
    }
}

fn members(w: &World, room: &str) -> Vec<String> {
    w.room_state(room)
        .map(|r| r.joined().map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn a_connections_client_is_the_one_its_connect_names_in_any_order() {
    let connect_b = ws_connect("w1", "b", T0);
    let join_as_a = claiming(
        ws_message("w1", T0, T0 + MIN, r#"{"action":"join","chatId":"r1"}"#),
        "a",
    );
    let (x, _) = fold(&[connect_b.clone(), join_as_a.clone()]);
    let (y, _) = fold(&[join_as_a, connect_b]);
    assert_eq!(members(&x, "r1"), ["b"]);
    assert_eq!(members(&y, "r1"), ["b"]);
    assert_eq!(views(&x), views(&y));
    assert!(
        x.client("a").is_none(),
        "a message cannot attribute a connection to another client"
    );
}

#[test]
fn a_batch_never_overwrites_a_stored_client_it_did_not_load() {
    let config = Config::default();
    let mut store = MemStore::default();
    let first = [connected("b", "s1", Some(1), T0), ws_connect("w1", "b", T0)];
    store.process(&config, &first, None);
    let msg_as_a = claiming(
        ws_message(
            "w1",
            T0,
            T0 + MIN,
            r#"{"action":"sendmessage","message":"x"}"#,
        ),
        "a",
    );
    store.process(&config, std::slice::from_ref(&msg_as_a), None);
    let Some(Entry::Client(b)) = store.items.get(&Key::Client("b".into())) else {
        panic!("client#b")
    };
    assert_eq!(b.sessions.len(), 1, "client#b kept its session");
    assert!(store.world(&config).client("b").unwrap().connected);
    let (mem, _) = fold(&[first[0].clone(), first[1].clone(), msg_as_a]);
    assert_eq!(views(&store.world(&config)), views(&mem));
}

#[test]
fn a_future_device_timestamp_does_not_age_out_every_connection() {
    let (w, deliveries) = fold(&[
        ws_connect("w1", "c1", T0),
        ws_connect("w2", "c2", T0),
        telemetry("d9", T0 + 3 * HOUR, serde_json::json!({"v": 1})),
        ws_message(
            "w2",
            T0,
            T0 + MIN,
            r#"{"action":"sendmessage","message":"hi"}"#,
        ),
    ]);
    assert!(w.client("c1").unwrap().online);
    assert_eq!(deliveries.len(), 1, "the broadcast still reaches w1");
}

#[test]
fn an_unsubscribe_alone_does_not_make_a_session_open() {
    let p = given(&[unsubscribed("c1", "s1", &["sensors/x"], T0)], "c1");
    assert!(!p.connected);
    // But subscribing then unsubscribing keeps it open: the session was seen subscribing.
    let p = given(
        &[
            subscribed("c1", "s1", &["a/b"], T0),
            unsubscribed("c1", "s1", &["a/b"], T0 + 1),
        ],
        "c1",
    );
    assert!(p.connected);
    assert!(p.topics.is_empty());
}

#[test]
fn retention_shorter_than_the_horizon_never_drops_a_candidate() {
    let config = Config {
        tombstone_retention_ms: 10 * MIN,
        ..Config::default()
    };
    let events = [
        connected("c1", "s1", Some(5), T0),
        subscribed("c1", "s2", &["sensors/x"], T0 + 15 * MIN),
    ];
    let (mut compacted, _) = fold_with(config.clone(), &events);
    let (plain, _) = fold_with(config, &events);
    compacted.compact_all();
    assert_eq!(plain.client("c1"), compacted.client("c1"));
    assert_eq!(
        plain.client("c1").unwrap().session_id.as_deref(),
        Some("s1")
    );
}
