//! Golden fixtures: every record kind as its source writes it (AWS's documented examples, seed
//! 003's real payloads, our own WebSocket and feedback records) decodes to the expected value and
//! round-trips through JSON and through frames.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use schemas::{
    decode_frame, decode_json, encode_frame, encode_json, Action, DisconnectReason, Lifecycle,
    Record, WsEventType,
};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Record {
    let bytes = std::fs::read(dir().join(name)).unwrap();
    decode_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn all_fixtures() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect()
}

fn lifecycle(name: &str) -> Lifecycle {
    match fixture(name) {
        Record::Lifecycle(l) => l,
        other => panic!("{name}: not lifecycle: {other:?}"),
    }
}

fn websocket(name: &str) -> schemas::WebSocketRecord {
    match fixture(name) {
        Record::WebSocket(w) => *w,
        other => panic!("{name}: not websocket: {other:?}"),
    }
}

#[test]
fn every_fixture_round_trips_through_json_and_frames() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 21, "fixtures missing: {}", fixtures.len());
    for (name, bytes) in fixtures {
        let record = decode_json(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let json = encode_json(&record);
        assert_eq!(
            decode_json(&json).as_ref(),
            Ok(&record),
            "{name}: JSON round trip"
        );

        let mut frame = Vec::new();
        encode_frame(&record, &mut frame);
        let (back, consumed) = decode_frame(&frame, 0).unwrap().unwrap();
        assert_eq!(back, record, "{name}: frame round trip");
        assert_eq!(consumed, frame.len(), "{name}: frame length");
        assert_eq!(back.event_id(), record.event_id(), "{name}: event id");
    }
}

#[test]
fn seed_003_connected() {
    let Lifecycle::Connected(c) = lifecycle("seed003_connected.json") else {
        panic!("not connected")
    };
    assert_eq!(c.client_id, "greengrass_connected_test_Core");
    assert_eq!(c.timestamp, 1_558_330_955_711);
    assert_eq!(c.session_identifier, "6b77c891-576f-47dd-b44c-XXXXXXXXXXXX");
    assert_eq!(c.version_number, Some(2));
    assert_eq!(c.ip_address, None);
    assert_eq!(c.thing_name, None);
}

#[test]
fn seed_003_disconnected_has_no_reason_and_an_earlier_session() {
    let Lifecycle::Disconnected(d) = lifecycle("seed003_disconnected.json") else {
        panic!("not disconnected")
    };
    assert_eq!(d.timestamp, 1_558_330_930_654);
    assert_eq!(d.session_identifier, "d2dbdeca-3cce-4e83-XXXXXXXXXXX");
    assert_eq!(d.client_initiated_disconnect, Some(false));
    assert_eq!(d.disconnect_reason, None);
    assert_eq!(d.version_number, Some(0));
}

#[test]
fn aws_documented_connected() {
    let Lifecycle::Connected(c) = lifecycle("aws_connected.json") else {
        panic!("not connected")
    };
    assert_eq!(c.client_id, "186b5");
    assert_eq!(c.thing_name.as_deref(), Some("exampleThing"));
    assert_eq!(c.ip_address.as_deref(), Some("192.0.2.0"));
    assert_eq!(
        c.principal_identifier.as_deref(),
        Some("12345678901234567890123456789012")
    );
    assert_eq!(c.version_number, Some(0));
}

#[test]
fn aws_documented_disconnected() {
    let Lifecycle::Disconnected(d) = lifecycle("aws_disconnected.json") else {
        panic!("not disconnected")
    };
    assert_eq!(d.timestamp, 1_573_002_340_451);
    assert_eq!(d.client_initiated_disconnect, Some(true));
    assert_eq!(
        d.disconnect_reason,
        Some(DisconnectReason::ClientInitiatedDisconnect)
    );
}

#[test]
fn aws_documented_subscribed_and_unsubscribed() {
    let topics = ["foo/bar", "device/data", "dog/cat"];
    let Lifecycle::Subscribed(s) = lifecycle("aws_subscribed.json") else {
        panic!("not subscribed")
    };
    assert_eq!(s.topics, topics);
    assert_eq!(s.session_identifier, "00000000-0000-0000-0000-000000000000");
    let Lifecycle::Unsubscribed(u) = lifecycle("aws_unsubscribed.json") else {
        panic!("not unsubscribed")
    };
    assert_eq!(u.topics, topics);
    assert_eq!(u.thing_name.as_deref(), Some("exampleThing"));
}

#[test]
fn aws_documented_connect_failed() {
    let Lifecycle::ConnectFailed(f) = lifecycle("aws_connect_failed.json") else {
        panic!("not connect_failed")
    };
    assert_eq!(
        f.connect_failure_reason.as_deref(),
        Some("AUTHORIZATION_FAILED")
    );
    assert_eq!(f.ip_address.as_deref(), Some("192.0.2.0"));
    assert_eq!(
        f.session_identifier.as_deref(),
        Some("00000000-0000-0000-0000-000000000000")
    );
}

#[test]
fn unknown_disconnect_reason_is_kept_as_data() {
    let Lifecycle::Disconnected(d) = lifecycle("disconnected_unknown_reason.json") else {
        panic!("not disconnected")
    };
    assert_eq!(
        d.disconnect_reason,
        Some(DisconnectReason::Other("QUANTUM_DECOHERENCE".into()))
    );
    assert_eq!(d.version_number, Some(7));
}

#[test]
fn extra_fields_are_ignored() {
    let Lifecycle::Connected(c) = lifecycle("connected_extra_fields.json") else {
        panic!("not connected")
    };
    assert_eq!(c.client_id, "sensor-42");
    assert_eq!(c.ip_address.as_deref(), Some("2001:db8::1"));
}

#[test]
fn websocket_connect_with_query_client_id() {
    let w = websocket("ws_connect_query_client_id.json");
    assert_eq!(w.event_type, WsEventType::Connect);
    assert_eq!(w.route_key, "$connect");
    assert_eq!(w.connection_id, "L0SM9cOFvHcCIhw=");
    assert_eq!(w.query_string_parameters["clientId"], "user-7");
    assert_eq!(w.resolved_client_id(), Some("user-7"));
    assert_eq!(w.action(), Action::Connect);
}

#[test]
fn websocket_connect_with_authorizer_principal() {
    let w = websocket("ws_connect_authorizer.json");
    assert_eq!(w.authorizer["principalId"], "alice");
    assert_eq!(w.authorizer["tenant"], "acme");
    assert_eq!(w.resolved_client_id(), Some("alice"));
}

#[test]
fn websocket_disconnect() {
    let w = websocket("ws_disconnect.json");
    assert_eq!(w.event_type, WsEventType::Disconnect);
    assert_eq!(w.disconnect_status_code, Some(1001));
    assert_eq!(w.disconnect_reason.as_deref(), Some("Going away"));
    assert_eq!(w.action(), Action::Disconnect);
}

#[test]
fn websocket_default_with_non_json_body() {
    let w = websocket("ws_default_non_json.json");
    assert_eq!(w.route_key, "$default");
    assert_eq!(w.body.as_deref(), Some("hello there, not json"));
    assert!(matches!(w.action(), Action::Default { action: None, .. }));
}

#[test]
fn websocket_sendmessage_to_a_room_and_to_everyone() {
    let room = websocket("ws_sendmessage_chat.json");
    assert_eq!(
        room.action(),
        Action::SendMessage {
            message: "hi room".into(),
            chat_id: Some("c1".into())
        }
    );
    let all = websocket("ws_sendmessage_broadcast.json");
    assert_eq!(all.request_id, None);
    assert_eq!(
        all.action(),
        Action::SendMessage {
            message: "hi everyone".into(),
            chat_id: None
        }
    );
}

#[test]
fn websocket_set_notify_list_join_and_leave() {
    assert_eq!(
        websocket("ws_set_notify_list.json").action(),
        Action::SetNotifyList {
            devices: vec!["d1".into(), "d2".into()]
        }
    );
    assert_eq!(
        websocket("ws_join.json").action(),
        Action::Join {
            chat_id: "c1".into()
        }
    );
    assert_eq!(
        websocket("ws_leave.json").action(),
        Action::Leave {
            chat_id: "c1".into()
        }
    );
}

#[test]
fn websocket_v1_is_upcast_with_its_client_id_resolved() {
    let w = websocket("ws_v1_connect.json");
    assert_eq!(w.schema_version, 2);
    assert_eq!(w.client_id.as_deref(), Some("legacy-user"));
    assert_eq!(w.api_id, None);
}

#[test]
fn telemetry() {
    let Record::Telemetry(t) = fixture("telemetry.json") else {
        panic!("not telemetry")
    };
    assert_eq!(t.device_id, "d1");
    assert_eq!(t.timestamp, 1_700_000_020_000);
    assert_eq!(t.parameters["temperature"], 21.5);
    assert_eq!(t.parameters["door"], "open");
    assert_eq!(t.parameters["fw"]["version"], "1.2.3");
}

#[test]
fn tick() {
    let Record::Tick(t) = fixture("tick.json") else {
        panic!("not a tick")
    };
    assert_eq!(t.shard_id, "shardId-000000000001");
    assert_eq!(t.timestamp, 1_700_000_060_000);
    assert_eq!(Record::Tick(t).partition_key(), "shardId-000000000001");
}

#[test]
fn connection_gone() {
    let Record::ConnectionGone(g) = fixture("connection_gone.json") else {
        panic!("not connection_gone")
    };
    assert_eq!(g.connection_id, "L0SM9cOFvHcCIhw=");
    assert_eq!(g.timestamp, 1_700_000_030_000);
    assert_eq!(
        g.delivery_id.as_deref(),
        Some("7c9e6679-7425-40de-944b-e07fc1f90ae7")
    );
}
