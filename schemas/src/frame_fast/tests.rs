//! Unit tests of `frame_fast`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use super::*;
use crate::frame::{read_general, record_bytes};
use crate::{encode_frame, FrameDecoder};
use proptest::prelude::*;

/// Strings of every length class MessagePack has (fixstr, str8, str16), including non-ASCII.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z0-9/+#-]{0,12}",
        2 => "\\PC{0,40}",
        2 => "[a-f0-9-]{36}",
        1 => "[a-z]{250,300}",
    ]
    .boxed()
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

/// Every integer width the encoder may pick.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..128u64,
        128..70_000u64,
        any::<u32>().prop_map(u64::from),
        any::<u64>()
    ]
}

fn reason() -> impl Strategy<Value = DisconnectReason> {
    prop_oneof![
        Just(DisconnectReason::DuplicateClientId),
        Just(DisconnectReason::MqttKeepAliveTimeout),
        "[A-Z_]{1,20}".prop_map(|s| DisconnectReason::parse(&s)),
    ]
}

fn lifecycle() -> BoxedStrategy<Lifecycle> {
    let connected = (
        (text(), opt_text(), number(), text()),
        (opt_text(), opt_text(), proptest::option::of(number())),
    )
        .prop_map(|((c, t, ts, s), (p, ip, v))| {
            Lifecycle::Connected(Connected {
                client_id: c,
                thing_name: t,
                timestamp: ts,
                session_identifier: s,
                principal_identifier: p,
                ip_address: ip,
                version_number: v,
            })
        })
        .boxed();
    let disconnected = (
        (text(), opt_text(), number(), text(), opt_text()),
        proptest::option::of(number()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(reason()),
    )
        .prop_map(|((c, t, ts, s, p), v, ci, r)| {
            Lifecycle::Disconnected(Disconnected {
                client_id: c,
                thing_name: t,
                timestamp: ts,
                session_identifier: s,
                principal_identifier: p,
                version_number: v,
                client_initiated_disconnect: ci,
                disconnect_reason: r,
            })
        })
        .boxed();
    let subscription = (
        any::<bool>(),
        (text(), opt_text(), number(), text(), opt_text()),
        proptest::collection::vec(text(), 0..8),
    )
        .prop_map(|(sub, (c, t, ts, s, p), topics)| {
            let s = Subscription {
                client_id: c,
                thing_name: t,
                timestamp: ts,
                session_identifier: s,
                principal_identifier: p,
                topics,
            };
            if sub {
                Lifecycle::Subscribed(s)
            } else {
                Lifecycle::Unsubscribed(s)
            }
        })
        .boxed();
    let failed = (
        (text(), opt_text(), number()),
        (opt_text(), opt_text(), opt_text(), opt_text()),
    )
        .prop_map(|((c, t, ts), (r, p, s, ip))| {
            Lifecycle::ConnectFailed(ConnectFailed {
                client_id: c,
                thing_name: t,
                timestamp: ts,
                connect_failure_reason: r,
                principal_identifier: p,
                session_identifier: s,
                ip_address: ip,
            })
        })
        .boxed();
    prop_oneof![connected, disconnected, subscription, failed].boxed()
}

fn frame(record: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(record, &mut out);
    out
}

/// The fast path's answer for record bytes, filling a slot that held `previous`.
fn fast(bytes: &[u8], previous: Option<&Record>) -> Option<Record> {
    let kind = lifecycle_kind(bytes)?;
    let mut slot = match previous {
        Some(p @ Record::Lifecycle(_)) if lifecycle_kind(&record_of(p)) == Some(kind) => p.clone(),
        _ => empty(kind),
    };
    fill(bytes, &mut slot).map(|()| slot)
}

fn record_of(record: &Record) -> Vec<u8> {
    let f = frame(record);
    record_bytes(&f, 0).unwrap().unwrap().0.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Every lifecycle record the encoder writes takes the fast path, and decodes to itself,
    /// whatever the slot held before.
    #[test]
    fn the_fast_path_reads_what_the_encoder_writes(
        event in lifecycle(),
        before in lifecycle(),
    ) {
        let record = Record::Lifecycle(event);
        let bytes = record_of(&record);
        prop_assert_eq!(fast(&bytes, None), Some(record.clone()));
        prop_assert_eq!(fast(&bytes, Some(&Record::Lifecycle(before))), Some(record));
    }

    /// On damaged bytes the fast path either declines or agrees with the general decoder:
    /// it never accepts what the general decoder refuses, nor reads it differently.
    #[test]
    fn the_fast_path_agrees_with_the_general_decoder(
        event in lifecycle(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
    ) {
        let mut bytes = record_of(&Record::Lifecycle(event));
        for (at, byte, how) in edits {
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
            if bytes.is_empty() {
                break;
            }
        }
        if let Some(fast) = fast(&bytes, None) {
            prop_assert_eq!(Some(fast), read_general(&bytes, 0).ok());
        }
    }

    /// A decoder reusing its records returns what `decode_frame` returns, frame by frame.
    #[test]
    fn a_reusing_decoder_returns_what_decode_frame_returns(
        events in proptest::collection::vec(lifecycle(), 1..12),
    ) {
        let mut log = Vec::new();
        for e in events {
            encode_frame(&Record::Lifecycle(e), &mut log);
        }
        let mut decoder = FrameDecoder::new();
        let mut at = 0;
        while at < log.len() {
            let owned = crate::decode_frame(&log[at..], 0).unwrap().unwrap();
            let (lent, used) = decoder.decode(&log[at..], 0).unwrap().unwrap();
            prop_assert_eq!(lent, &owned.0);
            prop_assert_eq!(used, owned.1);
            at += used;
        }
    }
}

#[test]
fn other_encodings_of_the_same_values_are_left_to_the_general_decoder() {
    let record = Record::Lifecycle(Lifecycle::Connected(Connected {
        client_id: "c".into(),
        thing_name: None,
        timestamp: 5,
        session_identifier: "s".into(),
        principal_identifier: None,
        ip_address: None,
        version_number: Some(1),
    }));
    let bytes = record_of(&record);
    // The timestamp (a positive fixint, 5) as a signed int8: valid MessagePack, and the
    // general decoder reads it; the fast path declines it.
    let at = bytes.iter().position(|&b| b == 5).unwrap();
    let mut signed = bytes.clone();
    signed.splice(at..=at, [0xd0, 5]);
    assert_eq!(fast(&signed, None), None);
    assert_eq!(read_general(&signed, 0).unwrap(), record);
    // Trailing bytes are not the encoder's either.
    let mut trailing = bytes.clone();
    trailing.push(0xc0);
    assert_eq!(fast(&trailing, None), None);
}
