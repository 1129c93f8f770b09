//! A device's watchers hear its connectivity change: `connected` and `disconnected` events,
//! emitted exactly when the device's derived IoT-connected state changes, whatever order and
//! duplication its lifecycle events arrive in. The same from a world in memory and from one
//! that loads what it needs from a store a batch at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, Delivery};
use proptest::prelude::*;
use serde_json::json;
use support::*;

/// The watcher's connection `cW` (client `app`) lists `dev1` before anything else happens.
fn watcher() -> Vec<schemas::Record> {
    vec![
        ws_connect("cW", "app", T0),
        ws_message(
            "cW",
            T0,
            T0 + 1,
            r#"{"action":"set_notify_list","devices":["dev1"]}"#,
        ),
    ]
}

/// The presence events `conn` got from folding [`watcher`] then `events`, in memory; the same
/// events must come from a store, folding `batch` records at a time.
fn heard(events: &[schemas::Record], conn: &str, batch: usize) -> Vec<serde_json::Value> {
    let mut all = watcher();
    all.extend_from_slice(events);
    let (_, deliveries) = fold(&all);
    let in_memory = presence_to(&deliveries, conn);
    let mut store = MemStore::default();
    let config = Config::default();
    let mut stored = Vec::new();
    for chunk in all.chunks(batch) {
        stored.extend(store.process(&config, chunk, None));
    }
    assert_eq!(
        presence_to(&stored, conn),
        in_memory,
        "the store-backed fold differs"
    );
    in_memory
}

fn presence_to(deliveries: &[Delivery], conn: &str) -> Vec<serde_json::Value> {
    deliveries
        .iter()
        .filter(|d| d.channel.target() == conn && d.payload["type"] == "presence")
        .map(|d| {
            assert_eq!(
                d.channel.name(),
                "websocket",
                "presence goes by socket only"
            );
            d.payload.clone()
        })
        .collect()
}

fn events_of(heard: &[serde_json::Value]) -> Vec<&str> {
    heard.iter().map(|p| p["event"].as_str().unwrap()).collect()
}

#[test]
fn a_watcher_hears_its_device_connect_and_disconnect() {
    let events = [
        connected("dev1", "s1", Some(1), T0 + 10),
        subscribed("dev1", "s1", &["devices/dev1/cmd"], T0 + 11),
        disconnected("dev1", "s1", Some(1), T0 + 20, "MQTT_KEEP_ALIVE_TIMEOUT"),
    ];
    let got = heard(&events, "cW", 2);
    assert_eq!(
        got,
        [
            json!({"type": "presence", "deviceId": "dev1", "event": "connected",
                   "connected": true, "lastSeen": T0 + 10}),
            json!({"type": "presence", "deviceId": "dev1", "event": "disconnected",
                   "connected": false, "lastSeen": T0 + 20,
                   "reason": "MQTT_KEEP_ALIVE_TIMEOUT"}),
        ]
    );
}

#[test]
fn duplicates_and_stale_events_emit_nothing() {
    let events = [
        connected("dev1", "s1", Some(1), T0 + 10),
        connected("dev1", "s1", Some(1), T0 + 10),
        subscribed("dev1", "s1", &["devices/dev1/cmd"], T0 + 12),
        // A stale connect of an older session, arriving late.
        connected("dev1", "s0", Some(0), T0 + 5),
    ];
    assert_eq!(events_of(&heard(&events, "cW", 1)), ["connected"]);
}

#[test]
fn seed_003_an_older_sessions_late_disconnect_emits_nothing() {
    let events = [
        connected("dev1", "new", Some(2), T0 + 25_000),
        disconnected("dev1", "old", Some(1), T0 + 10, "CONNECTION_LOST"),
    ];
    assert_eq!(events_of(&heard(&events, "cW", 3)), ["connected"]);
}

#[test]
fn a_takeovers_late_duplicate_clientid_disconnect_emits_nothing() {
    let events = [
        connected("dev1", "old", Some(5), T0 + 10),
        connected("dev1", "new", Some(6), T0 + 10_000),
        disconnected("dev1", "old", Some(5), T0 + 11_000, "DUPLICATE_CLIENTID"),
    ];
    assert_eq!(events_of(&heard(&events, "cW", 2)), ["connected"]);
}

#[test]
fn only_live_connections_watching_the_device_hear_it() {
    let events = [
        // Another client's connection that watches something else, and one that watched dev1
        // but has closed.
        ws_connect("cX", "other", T0 + 2),
        ws_message(
            "cX",
            T0 + 2,
            T0 + 3,
            r#"{"action":"set_notify_list","devices":["d9"]}"#,
        ),
        ws_connect("cY", "gone", T0 + 2),
        ws_message(
            "cY",
            T0 + 2,
            T0 + 3,
            r#"{"action":"set_notify_list","devices":["dev1"]}"#,
        ),
        ws_disconnect("cY", T0 + 2, T0 + 4),
        connected("dev1", "s1", Some(1), T0 + 10),
    ];
    assert_eq!(events_of(&heard(&events, "cW", 2)), ["connected"]);
    assert!(heard(&events, "cX", 2).is_empty());
    assert!(heard(&events, "cY", 2).is_empty());
}

/// The device's lifecycle events: a few sessions, versions and reasons, over 90 minutes (inside
/// the watcher's two hours, and across the 30-minute reset horizon).
fn device_event() -> impl Strategy<Value = schemas::Record> {
    let session = prop::sample::select(&["s1", "s2", "s3"][..]);
    let version = prop::option::weighted(0.9, 0u64..3);
    let time = (0u64..180).prop_map(|step| T0 + 10 + step * 30_000);
    let reason = prop::sample::select(
        &[
            "DUPLICATE_CLIENTID",
            "CONNECTION_LOST",
            "MQTT_KEEP_ALIVE_TIMEOUT",
        ][..],
    );
    prop_oneof![
        3 => (session.clone(), version.clone(), time.clone())
            .prop_map(|(s, v, t)| connected("dev1", s, v, t)),
        3 => (session.clone(), version, time.clone(), reason)
            .prop_map(|(s, v, t, r)| disconnected("dev1", s, v, t, r)),
        1 => (session, time).prop_map(|(s, t)| subscribed("dev1", s, &["devices/dev1/cmd"], t)),
    ]
}

/// Events, then the same shuffled with some repeated.
fn shuffled_device_events() -> impl Strategy<Value = Vec<schemas::Record>> {
    prop::collection::vec(device_event(), 0..16).prop_flat_map(|events| {
        let n = events.len();
        let dups = prop::collection::vec(0..n.max(1), 0..=n / 2);
        (Just(events), dups).prop_flat_map(|(events, dups)| {
            let mut again = events.clone();
            again.extend(dups.into_iter().filter_map(|i| events.get(i).cloned()));
            Just(again).prop_shuffle()
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the order and the duplicates: the watcher's events alternate, starting with
    /// `connected` (the device was not connected before any event), never two alike in a row,
    /// and the last one says what the device's projection says.
    #[test]
    fn events_are_emitted_exactly_when_connectivity_changes(
        events in shuffled_device_events(),
        batch in 1usize..6,
    ) {
        let got = heard(&events, "cW", batch);
        let mut expect_connected = true;
        for p in &got {
            prop_assert_eq!(&p["connected"], &json!(expect_connected), "{:?}", got);
            expect_connected = !expect_connected;
        }
        let mut all = watcher();
        all.extend_from_slice(&events);
        let connected = fold(&all).0.client("dev1").is_some_and(|c| c.connected);
        prop_assert_eq!(connected, !expect_connected, "last event {:?}", got.last());
    }
}
