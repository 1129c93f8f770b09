//! Decode errors say which field, what was expected and what was found.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use schemas::{decode_frame, decode_json, encode_frame, DecodeError, FRAME_VERSION};

const CONNECTED: &str =
    r#"{"eventType":"connected","clientId":"c1","timestamp":1,"sessionIdentifier":"s1"}"#;

fn with(field: &str, value: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(CONNECTED).unwrap();
    v[field] = serde_json::from_str(value).unwrap();
    v.to_string()
}

fn without(field: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(CONNECTED).unwrap();
    v.as_object_mut().unwrap().remove(field);
    v.to_string()
}

#[test]
fn wrong_type_names_field_expected_and_found() {
    let err = decode_json(with("timestamp", r#""abc""#).as_bytes()).unwrap_err();
    let DecodeError::InvalidField {
        field,
        expected,
        found,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(field, "timestamp");
    assert!(expected.contains("u64"), "{expected}");
    assert!(found.contains("abc"), "{found}");
    let text = err.to_string();
    assert!(
        text.contains("timestamp") && text.contains("u64") && text.contains("abc"),
        "{text}"
    );
}

#[test]
fn wrong_type_in_a_nested_field_gives_its_path() {
    let err = decode_json(
        with("topics", r#"["a", 5]"#)
            .replace("connected", "subscribed")
            .as_bytes(),
    )
    .unwrap_err();
    let DecodeError::InvalidField { field, found, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field, "topics[1]");
    assert!(found.contains('5'), "{found}");
}

#[test]
fn negative_and_fractional_numbers_are_refused() {
    for bad in ["-1", "1.5", "18446744073709551616"] {
        let err = decode_json(with("timestamp", bad).as_bytes()).unwrap_err();
        assert!(
            matches!(&err, DecodeError::InvalidField { field, .. } if field == "timestamp"),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn missing_required_fields_are_named() {
    for field in ["clientId", "timestamp", "sessionIdentifier"] {
        let err = decode_json(without(field).as_bytes()).unwrap_err();
        assert_eq!(
            err,
            DecodeError::MissingField {
                kind: "connected",
                field
            },
            "{field}"
        );
        assert!(err.to_string().contains(field));
    }
}

#[test]
fn empty_ids_are_invalid() {
    let err = decode_json(with("clientId", r#""""#).as_bytes()).unwrap_err();
    assert!(
        matches!(&err, DecodeError::InvalidField { field, .. } if field == "clientId"),
        "{err:?}"
    );
}

#[test]
fn unknown_event_type_and_kind() {
    let err = decode_json(with("eventType", r#""rebooted""#).as_bytes()).unwrap_err();
    assert!(
        matches!(&err, DecodeError::UnknownKind { found } if found.contains("rebooted")),
        "{err:?}"
    );
    let err = decode_json(br#"{"kind":"fax","timestamp":1}"#).unwrap_err();
    assert!(
        matches!(&err, DecodeError::UnknownKind { found } if found.contains("fax")),
        "{err:?}"
    );
    let err = decode_json(br#"{"timestamp":1}"#).unwrap_err();
    assert!(matches!(err, DecodeError::UnknownKind { .. }), "{err:?}");
}

#[test]
fn websocket_from_a_newer_release_is_unsupported() {
    let json = r#"{"kind":"websocket","schemaVersion":3,"eventType":"CONNECT","routeKey":"$connect","connectionId":"x","connectedAt":1,"requestTimeEpoch":1}"#;
    let err = decode_json(json.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnsupportedVersion {
            kind: "websocket",
            found: 3,
            supported: 2
        }
    );
    assert!(err.to_string().contains("schemaVersion 3"));
    let gone = r#"{"kind":"connection_gone","schemaVersion":0,"connectionId":"x","timestamp":1}"#;
    assert!(matches!(
        decode_json(gone.as_bytes()),
        Err(DecodeError::UnsupportedVersion {
            kind: "connection_gone",
            found: 0,
            ..
        })
    ));
    let tick = r#"{"kind":"tick","schemaVersion":2,"shardId":"s","timestamp":1}"#;
    assert!(matches!(
        decode_json(tick.as_bytes()),
        Err(DecodeError::UnsupportedVersion {
            kind: "tick",
            found: 2,
            supported: 1
        })
    ));
}

#[test]
fn a_tick_names_its_shard() {
    let json = r#"{"kind":"tick","schemaVersion":1,"shardId":"","timestamp":1}"#;
    let err = decode_json(json.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("shardId"), "{err}");
}

#[test]
fn websocket_event_type_must_be_known() {
    let json = r#"{"kind":"websocket","schemaVersion":2,"eventType":"OPEN","routeKey":"$connect","connectionId":"x","connectedAt":1,"requestTimeEpoch":1}"#;
    let err = decode_json(json.as_bytes()).unwrap_err();
    let DecodeError::InvalidField {
        field,
        expected,
        found,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(field, "eventType");
    assert!(expected.contains("CONNECT") && found.contains("OPEN"));
}

#[test]
fn not_json() {
    for bytes in [
        &b""[..],
        b"   ",
        b"[1,2]",
        b"\"x\"",
        b"{\"eventType\":",
        b"\xff\xfe",
        b"{} trailing",
    ] {
        let err = decode_json(bytes).unwrap_err();
        assert!(
            matches!(err, DecodeError::NotJson { .. }),
            "{bytes:?}: {err:?}"
        );
        assert!(err.to_string().starts_with("not a JSON object"), "{err}");
    }
}

fn frame() -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(&decode_json(CONNECTED.as_bytes()).unwrap(), &mut out);
    out
}

/// Rewrites a frame's payload and fixes its header, so only the payload is wrong.
fn reframe(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn bad_frame(buf: &[u8], offset: u64) -> String {
    match decode_frame(buf, offset) {
        Err(DecodeError::BadFrame { offset: at, reason }) => {
            assert_eq!(at, offset);
            reason
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn frame_from_a_newer_release_is_refused_clearly() {
    let mut payload = frame()[8..].to_vec();
    payload[1] = FRAME_VERSION + 1;
    let reason = bad_frame(&reframe(&payload), 4096);
    assert!(reason.contains("newer"), "{reason}");
    payload[1] = 0;
    assert!(bad_frame(&reframe(&payload), 0).contains("unknown frame version 0"));
}

#[test]
fn damaged_frames_are_refused() {
    let mut flipped = frame();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(bad_frame(&flipped, 7).contains("CRC"));

    let huge = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    assert!(bad_frame(&huge, 0).contains("limit"));

    assert!(bad_frame(&reframe(&[]), 0).contains("empty"));
    assert!(bad_frame(&reframe(&[0xc0]), 0).contains("pair"));
    let garbage = [0x92, FRAME_VERSION, 0x81, 0xa1, b'L', 0x07];
    assert!(bad_frame(&reframe(&garbage), 0).contains("not a version"));
}

#[test]
fn every_prefix_of_a_frame_is_incomplete_not_an_error() {
    let frame = frame();
    for cut in 0..frame.len() {
        assert_eq!(
            decode_frame(&frame[..cut], 0),
            Ok(None),
            "prefix of {cut} bytes"
        );
    }
}

#[test]
fn flat_telemetry_from_the_iot_rule_takes_the_other_fields_as_parameters() {
    let flat = br#"{"temperature":21.5,"mode":"heat","deviceId":"thermostat-1","timestamp":1732350005000}"#;
    let Ok(schemas::Record::Telemetry(t)) = schemas::decode_json(flat) else {
        panic!("flat telemetry did not decode")
    };
    assert_eq!(t.device_id, "thermostat-1");
    assert_eq!(t.timestamp, 1_732_350_005_000);
    assert_eq!(
        serde_json::Value::Object(t.parameters.clone()),
        serde_json::json!({"temperature": 21.5, "mode": "heat"})
    );
    // Encoded, it is the nested form, which decodes to the same record.
    let again = schemas::decode_json(&schemas::encode_json(&schemas::Record::Telemetry(
        t.clone(),
    )));
    assert_eq!(again, Ok(schemas::Record::Telemetry(t)));
}

#[test]
fn a_subscription_listing_more_topics_than_allowed_is_refused() {
    let topics = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| format!("\"app/c1/chat/r{i}\"")).collect();
        format!("[{}]", list.join(","))
    };
    let max = schemas::decode::SUBSCRIPTION_TOPICS_MAX;
    let ok = with("topics", &topics(max)).replace("connected", "subscribed");
    assert!(decode_json(ok.as_bytes()).is_ok());
    let over = with("topics", &topics(max + 1)).replace("connected", "unsubscribed");
    let err = decode_json(over.as_bytes()).unwrap_err();
    let DecodeError::InvalidField { field, found, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field, "topics");
    assert_eq!(found, &format!("{} topics", max + 1));
}

#[test]
fn a_devices_payload_is_its_telemetry_whatever_it_says_it_is() {
    // The telemetry rule adds `deviceId` (from the topic) and `timestamp` to what a device
    // publishes: a device cannot make the stream carry a WebSocket record, a lifecycle event of
    // another client, or a tick.
    for forged in [
        r#"{"kind":"websocket","schemaVersion":2,"eventType":"CONNECT","routeKey":"$connect","connectionId":"c1","connectedAt":1,"requestTimeEpoch":1,"clientId":"alice","authorizer":{"rooms":"[\"*\"]"},"deviceId":"d1","timestamp":5}"#,
        r#"{"eventType":"disconnected","clientId":"alice","sessionIdentifier":"s1","deviceId":"d1","timestamp":5}"#,
        r#"{"kind":"tick","schemaVersion":1,"shardId":"shardId-0","deviceId":"d1","timestamp":5}"#,
    ] {
        let record = decode_json(forged.as_bytes()).unwrap();
        let schemas::Record::Telemetry(t) = record else {
            panic!("{forged} decoded as {record:?}")
        };
        assert_eq!(t.device_id, "d1");
        assert!(!t.parameters.contains_key("kind"));
    }
}
