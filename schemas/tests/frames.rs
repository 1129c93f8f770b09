//! Frames: why they use a positional mirror, and how [`FrameReader`] handles real logs (many
//! frames, torn tails, damage, large frames, short reads).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use schemas::{decode_json, encode_frame, DecodeError, FrameReader, Record};
use std::io::Read;

fn records() -> Vec<Record> {
    [
        r#"{"eventType":"connected","clientId":"c1","timestamp":1,"sessionIdentifier":"s1","ipAddress":"192.0.2.1","versionNumber":3}"#,
        r#"{"eventType":"connected","clientId":"c1","timestamp":1,"sessionIdentifier":"s1","principalIdentifier":"192.0.2.1","versionNumber":3}"#,
        r#"{"eventType":"disconnected","clientId":"c1","timestamp":2,"sessionIdentifier":"s1","disconnectReason":"DUPLICATE_CLIENTID"}"#,
        r#"{"deviceId":"d1","timestamp":3,"parameters":{"t":-1.25,"n":-7,"big":18446744073709551615}}"#,
    ]
    .iter()
    .map(|j| decode_json(j.as_bytes()).unwrap())
    .collect()
}

/// The reason frames do not use `rmp_serde::to_vec(&record)`: the derives skip absent options,
/// so positional decoding reads later fields into the wrong slots.
#[test]
fn derived_positional_encoding_does_not_round_trip() {
    let record = &records()[0];
    let bytes = rmp_serde::to_vec(record).unwrap();
    assert_ne!(
        rmp_serde::from_slice::<Record>(&bytes).ok().as_ref(),
        Some(record)
    );
}

#[test]
fn records_differing_only_in_which_option_is_set_have_different_ids() {
    let r = records();
    assert_ne!(r[0], r[1]);
    assert_ne!(r[0].event_id(), r[1].event_id());
    assert_eq!(r[0].event_id(), r[0].clone().event_id());
}

fn frames_of(records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        encode_frame(r, &mut out);
    }
    out
}

#[test]
fn reads_every_frame_then_stops_cleanly() {
    let records = records();
    let log = frames_of(&records);
    let mut reader = FrameReader::new(log.as_slice());
    let read: Vec<Record> = reader.by_ref().map(Result::unwrap).collect();
    assert_eq!(read, records);
    assert_eq!(reader.valid_up_to(), log.len() as u64);
    assert_eq!(reader.torn_tail(), None);
}

#[test]
fn torn_tail_is_reported_once_with_where_to_truncate() {
    let records = records();
    let full = frames_of(&records);
    let last = frames_of(&records[..3]).len();
    for cut in last + 1..full.len() {
        let mut reader = FrameReader::with_offset(&full[..cut], 100);
        for _ in 0..3 {
            reader.next().unwrap().unwrap();
        }
        let err = reader.next().unwrap().unwrap_err();
        let DecodeError::BadFrame { offset, reason } = err else {
            panic!()
        };
        assert_eq!(offset, 100 + last as u64);
        assert!(reason.contains("torn"), "{reason}");
        assert_eq!(reader.next(), None);
        assert_eq!(reader.valid_up_to(), 100 + last as u64);
        assert_eq!(reader.torn_tail(), Some((cut - last) as u64));
    }
}

#[test]
fn damage_mid_stream_stops_the_reader_at_that_frame() {
    let records = records();
    let mut log = frames_of(&records);
    let second = frames_of(&records[..1]).len();
    log[second + 12] ^= 0x40;
    let mut reader = FrameReader::new(log.as_slice());
    assert_eq!(reader.next(), Some(Ok(records[0].clone())));
    let err = reader.next().unwrap().unwrap_err();
    assert!(
        matches!(err, DecodeError::BadFrame { offset, ref reason }
        if offset == second as u64 && reason.contains("CRC")),
        "{err:?}"
    );
    assert_eq!(reader.next(), None);
    assert_eq!(reader.valid_up_to(), second as u64);
    assert_eq!(reader.torn_tail(), None);
}

/// A source that returns one byte per read, the worst case for buffering.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[test]
fn frames_larger_than_the_read_buffer_and_short_reads() {
    let big: String = "x".repeat(200_000);
    let json = format!(r#"{{"deviceId":"d1","timestamp":1,"parameters":{{"blob":"{big}"}}}}"#);
    let mut records = records();
    records.insert(1, decode_json(json.as_bytes()).unwrap());
    let log = frames_of(&records);
    let read: Vec<Record> = FrameReader::new(log.as_slice())
        .map(Result::unwrap)
        .collect();
    assert_eq!(read, records);
    let small = frames_of(&records[2..]);
    let read: Vec<Record> = FrameReader::new(Trickle(&small))
        .map(Result::unwrap)
        .collect();
    assert_eq!(read, records[2..]);
}
