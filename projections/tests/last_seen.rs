//! `lastSeen` of a client projection: now while the client is online; otherwise the newest time
//! one of its IoT sessions or WebSocket connections had an event. Checked in every arrival order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::*;

fn connect_failed(client: &str, ts: u64) -> schemas::Record {
    let json = format!(
        r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"connect_failed","connectFailureReason":"AUTHORIZATION_FAILED"}}"#
    );
    schemas::decode_json(json.as_bytes()).unwrap()
}

#[test]
fn an_offline_device_was_last_seen_when_its_session_ended() {
    let events = [
        connected("dev1", "s1", Some(1), T0),
        subscribed("dev1", "s1", &["devices/dev1/cmd"], T0 + 1_000),
        disconnected("dev1", "s1", Some(1), T0 + 5_000, "MQTT_KEEP_ALIVE_TIMEOUT"),
        // Someone else's later event moves the fold's now, not dev1's last sighting.
        connected("dev2", "s2", Some(1), T0 + 60_000),
    ];
    in_every_order(&events, "dev1", |p| {
        assert!(!p.online);
        assert_eq!(p.last_seen, Some(T0 + 5_000));
    });
}

#[test]
fn an_online_client_is_seen_now() {
    let events = [
        connected("dev1", "s1", Some(1), T0),
        connected("dev2", "s2", Some(1), T0 + 60_000),
    ];
    in_every_order(&events, "dev1", |p| {
        assert!(p.online);
        assert_eq!(p.last_seen, Some(T0 + 60_000), "now, the newest event time");
    });
}

#[test]
fn a_refused_connection_is_no_sighting() {
    let events = [
        connected("dev1", "s1", Some(1), T0),
        disconnected(
            "dev1",
            "s1",
            Some(1),
            T0 + 5_000,
            "CLIENT_INITIATED_DISCONNECT",
        ),
        connect_failed("dev1", T0 + 9_000),
    ];
    in_every_order(&events, "dev1", |p| {
        assert!(!p.online);
        assert_eq!(p.last_seen, Some(T0 + 5_000));
    });
    assert_eq!(given(&[connect_failed("dev1", T0)], "dev1").last_seen, None);
}

#[test]
fn a_late_older_session_disconnect_keeps_the_newest_sighting() {
    // Seed 003: the older session's disconnect, stamped earlier, arrives last.
    let events = [
        connected("core", "new", Some(2), T0 + 25_000),
        disconnected("core", "old", Some(0), T0, "CONNECTION_LOST"),
        disconnected(
            "core",
            "new",
            Some(2),
            T0 + 40_000,
            "CLIENT_INITIATED_DISCONNECT",
        ),
    ];
    in_every_order(&events, "core", |p| {
        assert!(!p.online);
        assert_eq!(p.last_seen, Some(T0 + 40_000));
    });
}

#[test]
fn a_websocket_client_was_last_seen_at_its_connections_last_record() {
    let events = [
        ws_connect("c1", "alice", T0),
        ws_message("c1", T0, T0 + 3_000, r#"{"action":"join","chatId":"1"}"#),
        ws_disconnect("c1", T0, T0 + 7_000),
        // Feedback that the connection is gone is no sighting.
        gone("c1", T0 + 30_000),
    ];
    in_every_order(&events, "alice", |p| {
        assert!(!p.online);
        assert_eq!(p.last_seen, Some(T0 + 7_000));
    });
}

#[test]
fn a_connection_past_api_gateways_two_hours_was_last_seen_at_its_last_record() {
    // Its `$disconnect` was lost: the connection ends with API Gateway's two hours.
    let events = [
        ws_connect("c1", "bob", T0),
        ws_message("c1", T0, T0 + 3_000, r#"{"action":"join","chatId":"1"}"#),
        connected("dev9", "s9", Some(1), T0 + 3 * HOUR),
    ];
    in_every_order(&events, "bob", |p| {
        assert!(!p.online);
        assert_eq!(p.last_seen, Some(T0 + 3_000));
    });
}
