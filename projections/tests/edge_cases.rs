//! The named ordering edge cases of docs/architecture.md (The presence rule), each as a
//! given-events / expect-projection test, checked in every arrival order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use support::*;

#[test]
fn takeover_disconnect_arriving_after_the_new_connect_keeps_the_client_connected() {
    let events = [
        connected("dev1", "old", Some(5), T0),
        subscribed("dev1", "old", &["app/dev1/chat/1"], T0 + 1_000),
        connected("dev1", "new", Some(6), T0 + 10_000),
        disconnected("dev1", "old", Some(5), T0 + 11_000, "DUPLICATE_CLIENTID"),
    ];
    in_every_order(&events, "dev1", |p| {
        assert!(p.connected && p.online);
        assert_eq!(p.session_id.as_deref(), Some("new"));
        assert_eq!(p.version_number, Some(6));
        assert!(
            p.topics.is_empty(),
            "the old session's topics ended with it"
        );
    });
}

#[test]
fn seed_003_older_session_disconnect_with_earlier_timestamp_arriving_last() {
    let connected_json = br#"{"clientId":"greengrass_connected_test_Core","timestamp":1558330955711,"eventType":"connected","sessionIdentifier":"6b77c891-576f-47dd-b44c-XXXXXXXXXXXX","principalIdentifier":"89024a381377baXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX","versionNumber":2}"#;
    let disconnected_json = br#"{"clientId":"greengrass_connected_test_Core","timestamp":1558330930654,"eventType":"disconnected","clientInitiatedDisconnect":false,"sessionIdentifier":"d2dbdeca-3cce-4e83-XXXXXXXXXXX","principalIdentifier":"89024a381377ba91136fbaXXXXXXXXXXXXXXXXXXXXXXXX","versionNumber":0}"#;
    let events = [
        schemas::decode_json(connected_json).unwrap(),
        schemas::decode_json(disconnected_json).unwrap(),
    ];
    in_every_order(&events, "greengrass_connected_test_Core", |p| {
        assert!(p.connected, "seed 003's handler would say offline here");
        assert_eq!(
            p.session_id.as_deref(),
            Some("6b77c891-576f-47dd-b44c-XXXXXXXXXXXX")
        );
    });
}

#[test]
fn version_reset_after_more_than_an_hour_offline_lets_version_zero_win() {
    let events = [
        connected("dev1", "s1", Some(7), T0),
        disconnected("dev1", "s1", Some(7), T0 + 5 * MIN, "CONNECTION_LOST"),
        connected("dev1", "s2", Some(0), T0 + 70 * MIN),
    ];
    in_every_order(&events, "dev1", |p| {
        assert!(p.connected);
        assert_eq!(p.session_id.as_deref(), Some("s2"));
        assert_eq!(p.version_number, Some(0));
    });
    // Within the horizon, the higher version still wins, whatever its timestamp.
    let close = [
        connected("dev1", "s1", Some(7), T0 + MIN),
        disconnected("dev1", "s0", Some(3), T0 + 2 * MIN, "CONNECTION_LOST"),
    ];
    in_every_order(&close, "dev1", |p| {
        assert_eq!(p.session_id.as_deref(), Some("s1"))
    });
}

#[test]
fn duplicates_change_nothing() {
    let events = vec![
        connected("dev1", "s1", Some(1), T0),
        subscribed("dev1", "s1", &["a/b"], T0 + 1),
        ws_connect("c1", "dev1", T0 + 2),
    ];
    let twice: Vec<_> = events.iter().chain(events.iter()).cloned().collect();
    assert_eq!(entries(&fold(&twice).0), entries(&fold(&events).0));
    assert_eq!(given(&twice, "dev1"), given(&events, "dev1"));
}

#[test]
fn equal_timestamps_are_decided_by_version_then_session_id_and_unsubscribe_wins() {
    let by_version = [
        connected("d", "b", Some(1), T0),
        connected("d", "a", Some(2), T0),
    ];
    in_every_order(&by_version, "d", |p| {
        assert_eq!(p.session_id.as_deref(), Some("a"))
    });
    let by_id = [
        connected("d", "a", Some(1), T0),
        connected("d", "b", Some(1), T0),
    ];
    in_every_order(&by_id, "d", |p| {
        assert_eq!(p.session_id.as_deref(), Some("b"))
    });
    let tie = [
        connected("d", "s", Some(1), T0),
        subscribed("d", "s", &["x/y"], T0 + 5),
        unsubscribed("d", "s", &["x/y"], T0 + 5),
    ];
    in_every_order(&tie, "d", |p| {
        assert!(p.topics.is_empty(), "unsubscribe wins a tie")
    });
}

#[test]
fn subscription_churn_converges_on_the_latest_state_per_topic() {
    let events = [
        connected("d", "s", Some(1), T0),
        subscribed("d", "s", &["t/a", "t/b"], T0 + 1_000),
        unsubscribed("d", "s", &["t/a"], T0 + 2_000),
        subscribed("d", "s", &["t/a"], T0 + 3_000),
        unsubscribed("d", "s", &["t/b"], T0 + 4_000),
        subscribed("d", "s", &["t/c"], T0 + 5_000),
    ];
    in_every_order(&events, "d", |p| assert_eq!(p.topics, ["t/a", "t/c"]));
}

#[test]
fn subscriptions_end_with_their_session() {
    let events = [
        connected("d", "s1", Some(1), T0),
        subscribed("d", "s1", &["t/a"], T0 + 1_000),
        disconnected(
            "d",
            "s1",
            Some(1),
            T0 + 2_000,
            "CLIENT_INITIATED_DISCONNECT",
        ),
    ];
    in_every_order(&events, "d", |p| {
        assert!(!p.connected && !p.online);
        assert!(p.topics.is_empty());
        assert_eq!(
            p.last_disconnect_reason.as_deref(),
            Some("CLIENT_INITIATED_DISCONNECT")
        );
        assert_eq!(p.since, Some(T0 + 2_000));
    });
    let mut next = events.to_vec();
    next.push(connected("d", "s2", Some(2), T0 + 3_000));
    in_every_order(&next, "d", |p| {
        assert!(p.connected);
        assert!(
            p.topics.is_empty(),
            "a new session starts with no subscriptions"
        );
    });
}

#[test]
fn a_lost_disconnect_expires_after_two_hours() {
    // Any AWS-stamped event moves the fold's clock: here another client's lifecycle event.
    let open = [
        ws_connect("c1", "web", T0),
        connected("other", "s", Some(1), T0 + 119 * MIN),
    ];
    let p = given(&open, "web");
    assert!(p.online);
    assert_eq!(p.connections, ["c1"]);
    // Time comes only from events: any event past the 2-hour bound ends the connection.
    let later = [
        ws_connect("c1", "web", T0),
        connected("other", "s", Some(1), T0 + 2 * HOUR),
    ];
    in_every_order(&later, "web", |p| {
        assert!(!p.online);
        assert!(p.connections.is_empty());
    });
}

#[test]
fn a_tick_moves_time_on_a_quiet_stream() {
    // No other event comes: the sweeper's tick is the clock.
    let quiet = [ws_connect("c1", "web", T0), tick("shard-1", T0 + 119 * MIN)];
    assert!(given(&quiet, "web").online);
    let later = [ws_connect("c1", "web", T0), tick("shard-1", T0 + 2 * HOUR)];
    in_every_order(&later, "web", |p| {
        assert!(!p.online);
        assert!(p.connections.is_empty());
    });
    // A tick is about no client and delivers nothing.
    let (world, deliveries) = fold(&[tick("shard-1", T0)]);
    assert!(deliveries.is_empty());
    assert!(world.client("shard-1").is_none());
}

#[test]
fn connection_gone_ends_the_connection() {
    let events = [
        ws_connect("c1", "web", T0),
        ws_connect("c2", "web", T0 + 1),
        gone("c1", T0 + 5_000),
    ];
    in_every_order(&events, "web", |p| {
        assert!(p.online);
        assert_eq!(p.connections, ["c2"]);
    });
    let both = [
        ws_connect("c1", "web", T0),
        gone("c1", T0 + 5_000),
        ws_disconnect("c1", T0, T0 + 6_000),
    ];
    in_every_order(&both, "web", |p| assert!(!p.online));
}

#[test]
fn connect_failed_does_not_change_presence() {
    let failed = |ts| {
        schemas::decode_json(
            format!(r#"{{"clientId":"d","timestamp":{ts},"eventType":"connect_failed","connectFailureReason":"AUTHORIZATION_FAILED","principalIdentifier":"p","sessionIdentifier":"x9","ipAddress":"1.2.3.4"}}"#)
                .as_bytes(),
        )
        .unwrap()
    };
    let online = [connected("d", "s1", Some(3), T0), failed(T0 + 1_000)];
    in_every_order(&online, "d", |p| {
        assert!(p.connected);
        assert_eq!(p.session_id.as_deref(), Some("s1"));
    });
    let offline = [
        connected("d", "s1", Some(3), T0),
        disconnected("d", "s1", Some(3), T0 + 500, "CONNECTION_LOST"),
        failed(T0 + 1_000),
    ];
    in_every_order(&offline, "d", |p| assert!(!p.connected && !p.online));
}

#[test]
fn websocket_and_iot_presence_combine_into_online() {
    let events = [
        connected("u", "s1", Some(1), T0),
        disconnected("u", "s1", Some(1), T0 + 1_000, "CONNECTION_LOST"),
        ws_connect("c1", "u", T0 + 2_000),
    ];
    in_every_order(&events, "u", |p| {
        assert!(!p.connected, "IoT session ended");
        assert!(p.online, "but a WebSocket connection is live");
    });
}

#[test]
fn a_join_folded_before_the_connections_client_is_known_still_counts() {
    let events = [
        ws_connect("c1", "u", T0),
        ws_message("c1", T0, T0 + 1_000, r#"{"action":"join","chatId":"r1"}"#),
    ];
    in_every_order(&events, "u", |p| assert_eq!(p.rooms, ["r1"]));
}
