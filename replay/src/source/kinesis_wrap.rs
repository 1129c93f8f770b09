//! Records wrapped in Kinesis metadata: detected and unwrapped.
//!
//! Archives hold records bare (one JSON object as its source wrote it) or wrapped:
//! - a Lambda Kinesis event record,
//!   `{"kinesis":{"data":"<base64>",...},"eventSource":"aws:kinesis",...}`;
//! - a KCL / Firehose-style record, `{"data":"<base64>","partitionKey":...,"sequenceNumber":...}`
//!   (or `Data`, as `aws kinesis get-records` prints it);
//! - a whole saved event or response, `{"Records":[...]}`, each element one of the above.
//!
//! Detection costs nothing for bare records: they are decoded first, and only an object that is
//! no record kind at all (no `kind`, `eventType` or `deviceId`) is looked at as a wrapper.
//!
//! A wrapper's `approximateArrivalTimestamp` (Kinesis's arrival time: epoch seconds, or RFC 3339
//! as the CLI prints it) is kept with its record: `--until` cuts by arrival where it is known.

use base64::Engine;
use schemas::{decode_json, DecodeError, Record};
use serde_json::Value;

/// What one JSON object held.
#[derive(Debug)]
pub enum Decoded {
    /// A record (bare, or the one record of a wrapper), with its arrival time (ms) if recorded.
    One(Record, Option<u64>),
    /// A `Records` array: each element decoded with its arrival time, or why not.
    Many(Vec<Result<(Record, Option<u64>), String>>),
}

/// Decodes one JSON object: a bare record, or a wrapper of one or more.
///
/// # Errors
/// Why the object is neither a record nor a wrapper of records.
pub fn decode_object(bytes: &[u8]) -> Result<Decoded, String> {
    match decode_json(bytes) {
        Ok(record) => Ok(Decoded::One(record, None)),
        Err(DecodeError::UnknownKind { found }) => {
            unwrap(bytes).unwrap_or_else(|| Err(DecodeError::UnknownKind { found }.to_string()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// `None` when the object is no wrapper either, so the caller reports the original error.
fn unwrap(bytes: &[u8]) -> Option<Result<Decoded, String>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    if let Some(records) = value.get("Records").and_then(Value::as_array) {
        let each = records
            .iter()
            .enumerate()
            .map(|(i, r)| match payload(r) {
                Some(data) => inner(data)
                    .map(|record| (record, arrival(r)))
                    .map_err(|e| format!("Records[{i}]: {e}")),
                None => Err(format!("Records[{i}]: no kinesis.data, data or Data field")),
            })
            .collect();
        return Some(Ok(Decoded::Many(each)));
    }
    let data = payload(&value)?;
    Some(inner(data).map(|record| Decoded::One(record, arrival(&value))))
}

/// Kinesis's approximate arrival time of a wrapped record, in ms, if the wrapper has it.
fn arrival(value: &Value) -> Option<u64> {
    let stamp = value
        .get("kinesis")
        .and_then(|k| k.get("approximateArrivalTimestamp"))
        .or_else(|| value.get("approximateArrivalTimestamp"))
        .or_else(|| value.get("ApproximateArrivalTimestamp"))?;
    match stamp {
        // Epoch seconds with a fraction, as Lambda's event and the SDKs' JSON write it.
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            // Whole milliseconds of a realistic epoch: the cast cannot truncate.
            .map(|s| (s * 1000.0).round() as u64),
        Value::String(s) => schemas::time::parse_time(s).ok(),
        _ => None,
    }
}

/// The base64 payload of one wrapped record, if it is one.
fn payload(value: &Value) -> Option<&str> {
    value
        .get("kinesis")
        .and_then(|k| k.get("data"))
        .or_else(|| value.get("data"))
        .or_else(|| value.get("Data"))
        .and_then(Value::as_str)
}

fn inner(data: &str) -> Result<Record, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("Kinesis data is not base64: {e}"))?;
    decode_json(&bytes).map_err(|e| format!("inside Kinesis data: {e}"))
}

/// Wraps a raw record as a Lambda Kinesis event record would (for tests and fixtures).
pub fn wrap_lambda(record_json: &str, sequence: u64) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(record_json);
    serde_json::json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "pk",
            "sequenceNumber": sequence.to_string(),
            "data": data,
            "approximateArrivalTimestamp": 1_732_350_000.0,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:{sequence}"),
        "eventName": "aws:kinesis:record",
        "awsRegion": "eu-west-1",
    })
    .to_string()
}

/// Wraps a raw record as a KCL / Firehose-style `{"data": base64, ...}` object.
pub fn wrap_data(record_json: &str, sequence: u64) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(record_json);
    serde_json::json!({"data": data, "partitionKey": "pk", "sequenceNumber": sequence.to_string()})
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = r#"{"clientId":"c1","timestamp":5,"eventType":"connected","sessionIdentifier":"s1","versionNumber":1}"#;

    fn one(d: Result<Decoded, String>) -> Record {
        match d {
            Ok(Decoded::One(r, _)) => r,
            other => panic!("expected one record, got {other:?}"),
        }
    }

    #[test]
    fn bare_and_wrapped_records_decode_alike() {
        let bare = one(decode_object(RAW.as_bytes()));
        assert_eq!(one(decode_object(wrap_lambda(RAW, 1).as_bytes())), bare);
        assert_eq!(one(decode_object(wrap_data(RAW, 1).as_bytes())), bare);
        let event = format!(
            r#"{{"Records":[{},{}]}}"#,
            wrap_lambda(RAW, 1),
            wrap_data(RAW, 2)
        );
        match decode_object(event.as_bytes()) {
            Ok(Decoded::Many(all)) => assert_eq!(
                all,
                vec![
                    Ok((bare.clone(), Some(1_732_350_000_000))),
                    Ok((bare, None))
                ]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_arrival_time_comes_with_a_wrapped_record() {
        let arrived = |json: &str| match decode_object(json.as_bytes()) {
            Ok(Decoded::One(_, at)) => at,
            other => panic!("{other:?}"),
        };
        assert_eq!(arrived(RAW), None);
        assert_eq!(arrived(&wrap_lambda(RAW, 1)), Some(1_732_350_000_000));
        let data = base64::engine::general_purpose::STANDARD.encode(RAW);
        assert_eq!(
            arrived(&format!(
                r#"{{"Data":"{data}","ApproximateArrivalTimestamp":"2024-11-23T08:20:00.5Z"}}"#
            )),
            Some(1_732_350_000_500)
        );
        assert_eq!(
            arrived(&format!(
                r#"{{"data":"{data}","approximateArrivalTimestamp":1732350000.25}}"#
            )),
            Some(1_732_350_000_250)
        );
    }

    #[test]
    fn neither_record_nor_wrapper_keeps_the_original_error() {
        let err = decode_object(br#"{"hello":1}"#).unwrap_err();
        assert!(err.contains("unknown record kind"), "{err}");
        let err = decode_object(br#"{"data":"!!"}"#).unwrap_err();
        assert!(err.contains("base64"), "{err}");
        let err = decode_object(br#"{"clientId":"c","eventType":"connected","timestamp":"x"}"#)
            .unwrap_err();
        assert!(err.contains("timestamp"), "{err}");
    }
}
