//! Robustness: no input makes a decoder panic, and a failure names a field or says "not JSON".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use proptest::prelude::*;
use schemas::{decode_frame, decode_json, encode_frame, DecodeError, FrameReader};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

fn fixtures() -> &'static [Vec<u8>] {
    static FIXTURES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    })
}

/// The decoder's promise: the error says what is wrong in terms of the record.
fn assert_explains(err: &DecodeError, input: &[u8]) {
    let text = err.to_string();
    let ok = match err {
        DecodeError::NotJson { .. } => text.starts_with("not a JSON object"),
        DecodeError::InvalidField { field, .. } => {
            !field.is_empty() && text.contains(field.as_str())
        }
        DecodeError::MissingField { field, .. } => text.contains(field),
        DecodeError::UnknownKind { .. } => text.contains("eventType") && text.contains("kind"),
        DecodeError::UnsupportedVersion { .. } => text.contains("schemaVersion"),
        DecodeError::BadFrame { .. } => false,
    };
    assert!(
        ok,
        "unhelpful error {err:?} for {}",
        String::from_utf8_lossy(input)
    );
}

fn frame_of(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match *m {
        Mutation::Flip(i, b) => {
            let i = i % bytes.len();
            bytes[i] ^= b;
        }
        Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Mutation::Delete(i) => {
            bytes.remove(i % bytes.len());
        }
    }
}

/// JSON values of every type, to put where a field's value was.
fn wrong_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z0-9 ]{0,8}".prop_map(Value::from),
        Just(serde_json::json!([1, "x"])),
        Just(serde_json::json!({"a": 1})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(err) = decode_json(&bytes) {
            assert_explains(&err, &bytes);
        }
        let _ = decode_frame(&bytes, 0);
        // With a valid header and CRC, the payload decoder itself sees the garbage.
        let _ = decode_frame(&frame_of(&bytes), 0);
        let _ = FrameReader::new(bytes.as_slice()).count();
    }

    #[test]
    fn arbitrary_payload_after_a_valid_version_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..256)
    ) {
        let mut payload = vec![0x92, schemas::FRAME_VERSION];
        payload.extend_from_slice(&bytes);
        let _ = decode_frame(&frame_of(&payload), 0);
    }

    #[test]
    fn mutated_fixtures_never_panic_and_explain_failures(
        which in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let fixtures = fixtures();
        let mut bytes = fixtures[which.index(fixtures.len())].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        match decode_json(&bytes) {
            Err(err) => assert_explains(&err, &bytes),
            // Whatever decodes must survive a frame round trip.
            Ok(record) => {
                let mut frame = Vec::new();
                encode_frame(&record, &mut frame);
                prop_assert_eq!(decode_frame(&frame, 0).unwrap().map(|(r, _)| r), Some(record));
            }
        }
    }

    #[test]
    fn mutated_frames_never_panic(
        which in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let fixtures = fixtures();
        let record = decode_json(&fixtures[which.index(fixtures.len())]).unwrap();
        let mut frame = Vec::new();
        encode_frame(&record, &mut frame);
        let mut payload = frame[8..].to_vec();
        for m in &mutations {
            apply(&mut payload, m);
        }
        let _ = decode_frame(&frame_of(&payload), 0);
        apply(&mut frame, &mutations[0]);
        let _ = decode_frame(&frame, 0);
    }

    #[test]
    fn wrong_types_and_dropped_fields_name_the_field(
        which in any::<prop::sample::Index>(),
        field in any::<prop::sample::Index>(),
        value in wrong_value(),
        drop in any::<bool>(),
    ) {
        let fixtures = fixtures();
        let Value::Object(mut object) =
            serde_json::from_slice::<Value>(&fixtures[which.index(fixtures.len())]).unwrap()
        else {
            panic!("fixture is not an object")
        };
        let name = object.keys().nth(field.index(object.len())).unwrap().clone();
        let original = object[&name].clone();
        if drop {
            object.remove(&name);
        } else {
            object.insert(name.clone(), value);
        }
        let bytes = serde_json::to_vec(&object).unwrap();
        if let Err(err) = decode_json(&bytes) {
            assert_explains(&err, &bytes);
            let text = err.to_string();
            // Changing `kind` or `eventType` changes what the record is; the error then says
            // which kinds exist (and so names those fields) rather than the field itself.
            prop_assert!(
                text.contains(&name) || matches!(err, DecodeError::UnknownKind { .. }),
                "error for `{}` (was {}) does not name it: {}", name, original, text
            );
        }
    }
}
