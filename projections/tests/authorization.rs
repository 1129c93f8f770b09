//! Authorization in the fold: a record whose claims (the `$connect` authorizer's context, which
//! every record of the connection carries) do not grant its room, devices or broadcast is
//! refused with a `forbidden` error to its sender, and changes nothing, in any order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::Delivery;
use proptest::prelude::*;
use schemas::{Claims, Record};
use support::strategies::*;
use support::*;

/// The record as the authorizer's context for `claims` comes with it.
fn with(claims: &Claims, mut record: Record) -> Record {
    if let Record::WebSocket(ws) = &mut record {
        ws.authorizer = claims.to_context();
    }
    record
}

fn alice() -> Claims {
    Claims {
        rooms: vec!["team-7/*".into(), "lobby".into()],
        devices: vec!["d1".into()],
        broadcast: false,
    }
}

fn errors(deliveries: &[Delivery]) -> Vec<&serde_json::Value> {
    deliveries
        .iter()
        .filter(|d| d.payload["type"] == "error")
        .map(|d| &d.payload)
        .collect()
}

fn message(conn: &str, at: u64, body: &str) -> Record {
    ws_message(conn, T0, T0 + at, body)
}

#[test]
fn a_granted_room_is_joined_and_another_is_forbidden() {
    let claims = alice();
    let records = [
        with(&claims, ws_connect("a", "alice", T0)),
        with(
            &claims,
            message("a", 1, r#"{"action":"join","chatId":"team-7/ops"}"#),
        ),
        with(
            &claims,
            message("a", 2, r#"{"action":"join","chatId":"lobby"}"#),
        ),
        with(
            &claims,
            message("a", 3, r#"{"action":"join","chatId":"team-70"}"#),
        ),
    ];
    let (world, deliveries) = fold(&records);
    let view = world.client("alice").unwrap();
    assert_eq!(view.rooms, ["lobby", "team-7/ops"]);
    let errors = errors(&deliveries);
    assert_eq!(errors.len(), 1, "{deliveries:?}");
    assert_eq!(errors[0]["reason"], "forbidden");
    assert_eq!(errors[0]["action"], "join");
    assert_eq!(errors[0]["chatId"], "team-70");
    assert!(
        world.room_state("team-70").is_none(),
        "a refused join writes no room"
    );
}

#[test]
fn a_room_outside_the_claim_can_be_neither_sent_to_nor_read() {
    let claims = alice();
    let records = [
        ws_connect("b", "bob", T0),
        message("b", 1, r#"{"action":"join","chatId":"secret"}"#),
        message(
            "b",
            2,
            r#"{"action":"sendmessage","chatId":"secret","message":"plans"}"#,
        ),
        with(&claims, ws_connect("a", "alice", T0)),
        with(
            &claims,
            message(
                "a",
                3,
                r#"{"action":"sendmessage","chatId":"secret","message":"hi"}"#,
            ),
        ),
        with(
            &claims,
            message("a", 4, r#"{"action":"history","chatId":"secret"}"#),
        ),
        with(
            &claims,
            message("a", 5, r#"{"action":"presence","chatId":"secret"}"#),
        ),
    ];
    let (_, deliveries) = fold(&records);
    let to_bob: Vec<_> = deliveries
        .iter()
        .filter(|d| d.client_id.as_deref() == Some("bob"))
        .collect();
    assert!(
        to_bob.is_empty(),
        "bob hears nothing from alice: {to_bob:?}"
    );
    let refused: Vec<_> = errors(&deliveries)
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["chatId"].as_str().unwrap()))
        .collect();
    assert_eq!(
        refused,
        [
            ("sendmessage", "secret"),
            ("history", "secret"),
            ("presence", "secret")
        ]
    );
    assert!(
        !deliveries
            .iter()
            .any(|d| d.payload["type"] == "history" || d.payload["type"] == "presence_state"),
        "no history or presence of the room reaches alice"
    );
}

#[test]
fn a_watch_list_with_an_ungranted_device_is_refused_whole() {
    let claims = alice();
    let records = [
        with(&claims, ws_connect("a", "alice", T0)),
        with(
            &claims,
            message("a", 1, r#"{"action":"set_notify_list","devices":["d1"]}"#),
        ),
        with(
            &claims,
            message(
                "a",
                2,
                r#"{"action":"set_notify_list","devices":["d1","d2"]}"#,
            ),
        ),
        telemetry("d1", T0 + 3, serde_json::json!({"t": 1})),
        telemetry("d2", T0 + 4, serde_json::json!({"t": 2})),
    ];
    let (_, deliveries) = fold(&records);
    let errors = errors(&deliveries);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["action"], "set_notify_list");
    assert_eq!(errors[0]["devices"], serde_json::json!(["d2"]));
    let telemetry: Vec<_> = deliveries
        .iter()
        .filter(|d| d.payload["type"] == "telemetry")
        .map(|d| d.payload["deviceId"].as_str().unwrap())
        .collect();
    assert_eq!(telemetry, ["d1"], "the granted list stays: d1 only");
}

#[test]
fn sending_to_everyone_needs_the_broadcast_claim() {
    let mut claims = alice();
    let records = |claims: &Claims| {
        vec![
            ws_connect("b", "bob", T0),
            with(claims, ws_connect("a", "alice", T0)),
            with(
                claims,
                message("a", 1, r#"{"action":"sendmessage","message":"all"}"#),
            ),
        ]
    };
    let (_, refused) = fold(&records(&claims));
    assert_eq!(errors(&refused).len(), 1);
    assert!(!refused
        .iter()
        .any(|d| d.client_id.as_deref() == Some("bob")));
    claims.broadcast = true;
    let (_, sent) = fold(&records(&claims));
    assert!(errors(&sent).is_empty());
    assert!(sent.iter().any(|d| d.client_id.as_deref() == Some("bob")));
}

#[test]
fn a_record_without_claims_is_not_bounded_and_leave_needs_no_grant() {
    // No authorizer (anonymous development), or one that returns only a principal.
    let (world, deliveries) = fold(&[
        ws_connect("a", "alice", T0),
        message("a", 1, r#"{"action":"join","chatId":"anything"}"#),
    ]);
    assert!(errors(&deliveries).is_empty());
    assert_eq!(world.client("alice").unwrap().rooms, ["anything"]);
    // A token whose claims shrank may still leave a room it joined before.
    let (world, deliveries) = fold(&[
        ws_connect("a", "alice", T0),
        message("a", 1, r#"{"action":"join","chatId":"old"}"#),
        with(&alice(), ws_connect("a2", "alice", T0 + 2)),
        with(
            &alice(),
            message("a2", 3, r#"{"action":"leave","chatId":"old"}"#),
        ),
    ]);
    assert!(errors(&deliveries).is_empty());
    assert!(world.client("alice").unwrap().rooms.is_empty());
}

/// Claims for each generated connection: w1 holds r1 and d1, w2 nothing but broadcast, w3 none
/// (no authorizer context).
fn claimed(record: Record) -> Record {
    let claims = match &record {
        Record::WebSocket(ws) if ws.connection_id == "w1" => Some(Claims {
            rooms: vec!["r1".into()],
            devices: vec!["d1".into()],
            broadcast: false,
        }),
        Record::WebSocket(ws) if ws.connection_id == "w2" => Some(Claims {
            broadcast: true,
            ..Claims::default()
        }),
        _ => None,
    };
    match claims {
        Some(claims) => with(&claims, record),
        None => record,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn refused_records_change_nothing_in_any_order((events, again) in shuffled_with_duplicates()) {
        let events: Vec<Record> = events.into_iter().map(claimed).collect();
        let again: Vec<Record> = again.into_iter().map(claimed).collect();
        let allowed: Vec<Record> = events
            .iter()
            .filter(|r| !matches!(r, Record::WebSocket(ws) if projections::authorize::refusal(ws).is_some()))
            .cloned()
            .collect();
        let (with_refused, deliveries) = fold(&events);
        let (without, _) = fold(&allowed);
        // A refused record is still stamped by AWS: the fold's now moves to it.
        let state = |world: &projections::World| {
            let mut e = entries(world);
            e.retain(|(k, _)| *k != projections::Key::Watermark);
            e
        };
        prop_assert_eq!(state(&with_refused), state(&without));
        prop_assert_eq!(entries(&fold(&again).0), entries(&with_refused));
        let refused = events.len() - allowed.len();
        let told = deliveries.iter().filter(|d| d.payload["type"] == "error").count();
        prop_assert_eq!(told, refused, "each refused record tells its sender once");
    }
}
