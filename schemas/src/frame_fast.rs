//! The fast path of frame decoding, for IoT lifecycle records: most of any stream.
//!
//! The general decoder (rmp-serde through the mirrors of `frame_repr`) goes through
//! serde's visitors for every field and allocates every string anew. For the five lifecycle kinds
//! this reader walks the MessagePack bytes directly and writes the fields into an existing record,
//! reusing its strings' buffers, so that a reader decoding frame after frame into the same slots
//! ([`crate::FrameDecoder`]) allocates nothing at all in the steady state.
//!
//! It reads exactly what `frame_repr`'s encoder writes. Anything else, however valid as
//! MessagePack (a timestamp as a signed integer, a string as `bin`, extra trailing bytes), makes it
//! return `None`, and the caller falls back to the general decoder. So the fast path can change
//! how fast a frame decodes, never what it decodes to, nor which frames are accepted: a property
//! test holds the two decoders to the same answers on generated and mutated frames.

use crate::{
    ConnectFailed, Connected, DisconnectReason, Disconnected, Lifecycle, Record, Subscription,
};

/// The lifecycle kinds, as the record's tag bytes name them, in a fixed slot order.
pub(crate) const KINDS: usize = 5;

/// Which lifecycle kind a record payload holds (its slot, `0..KINDS`), if it is one: the payload
/// must start `{"L": {<kind>: ...}}`, as the encoder writes it.
pub(crate) fn lifecycle_kind(record: &[u8]) -> Option<usize> {
    match record {
        [0x81, 0xa1, b'L', 0x81, 0xa1, tag, ..] => match tag {
            b'c' => Some(0),
            b'd' => Some(1),
            b's' => Some(2),
            b'u' => Some(3),
            b'f' => Some(4),
            _ => None,
        },
        _ => None,
    }
}

/// An empty record of lifecycle kind `kind` (see [`lifecycle_kind`]), for a slot to fill.
pub(crate) fn empty(kind: usize) -> Record {
    let subscription = || Subscription {
        client_id: String::new(),
        thing_name: None,
        timestamp: 0,
        session_identifier: String::new(),
        principal_identifier: None,
        topics: Vec::new(),
    };
    Record::Lifecycle(match kind {
        0 => Lifecycle::Connected(Connected {
            client_id: String::new(),
            thing_name: None,
            timestamp: 0,
            session_identifier: String::new(),
            principal_identifier: None,
            ip_address: None,
            version_number: None,
        }),
        1 => Lifecycle::Disconnected(Disconnected {
            client_id: String::new(),
            thing_name: None,
            timestamp: 0,
            session_identifier: String::new(),
            principal_identifier: None,
            version_number: None,
            client_initiated_disconnect: None,
            disconnect_reason: None,
        }),
        2 => Lifecycle::Subscribed(subscription()),
        3 => Lifecycle::Unsubscribed(subscription()),
        _ => Lifecycle::ConnectFailed(ConnectFailed {
            client_id: String::new(),
            thing_name: None,
            timestamp: 0,
            connect_failure_reason: None,
            principal_identifier: None,
            session_identifier: None,
            ip_address: None,
        }),
    })
}

/// Overwrites `slot` with the lifecycle record in `record` (a frame's record bytes), reusing the
/// slot's buffers. `None` when the bytes are not exactly what the encoder writes for the slot's
/// kind; the slot's content is then unspecified (the caller must not use it).
pub(crate) fn fill(record: &[u8], slot: &mut Record) -> Option<()> {
    let mut r = Cursor {
        bytes: record.get(6..)?,
    };
    let Record::Lifecycle(event) = slot else {
        return None;
    };
    match event {
        Lifecycle::Connected(c) => {
            r.array(7)?;
            r.string(&mut c.client_id)?;
            r.opt_string(&mut c.thing_name)?;
            c.timestamp = r.u64()?;
            r.string(&mut c.session_identifier)?;
            r.opt_string(&mut c.principal_identifier)?;
            r.opt_string(&mut c.ip_address)?;
            c.version_number = r.opt(Cursor::u64)?;
        }
        Lifecycle::Disconnected(d) => {
            r.array(8)?;
            r.string(&mut d.client_id)?;
            r.opt_string(&mut d.thing_name)?;
            d.timestamp = r.u64()?;
            r.string(&mut d.session_identifier)?;
            r.opt_string(&mut d.principal_identifier)?;
            d.version_number = r.opt(Cursor::u64)?;
            d.client_initiated_disconnect = r.opt(Cursor::bool)?;
            d.disconnect_reason = r.opt(|r| r.str().map(DisconnectReason::parse))?;
        }
        Lifecycle::Subscribed(s) | Lifecycle::Unsubscribed(s) => {
            r.array(6)?;
            r.string(&mut s.client_id)?;
            r.opt_string(&mut s.thing_name)?;
            s.timestamp = r.u64()?;
            r.string(&mut s.session_identifier)?;
            r.opt_string(&mut s.principal_identifier)?;
            let n = r.array_len()?;
            s.topics.truncate(n);
            for i in 0..n {
                match s.topics.get_mut(i) {
                    Some(topic) => r.string(topic)?,
                    None => s.topics.push(r.str()?.to_owned()),
                }
            }
        }
        Lifecycle::ConnectFailed(f) => {
            r.array(7)?;
            r.string(&mut f.client_id)?;
            r.opt_string(&mut f.thing_name)?;
            f.timestamp = r.u64()?;
            r.opt_string(&mut f.connect_failure_reason)?;
            r.opt_string(&mut f.principal_identifier)?;
            r.opt_string(&mut f.session_identifier)?;
            r.opt_string(&mut f.ip_address)?;
        }
    }
    // Trailing bytes: not what the encoder writes; let the general decoder judge them.
    r.bytes.is_empty().then_some(())
}

/// A reader over MessagePack bytes that understands only what the encoder writes.
struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    /// A `nil`, consumed, or the value `read` reads.
    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.bytes.first() == Some(&0xc0) {
            self.bytes = &self.bytes[1..];
            return Some(None);
        }
        read(self).map(Some)
    }

    fn u64(&mut self) -> Option<u64> {
        match self.byte()? {
            b @ 0x00..=0x7f => Some(u64::from(b)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            _ => None,
        }
    }

    fn bool(&mut self) -> Option<bool> {
        match self.byte()? {
            0xc2 => Some(false),
            0xc3 => Some(true),
            _ => None,
        }
    }

    fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            b @ 0x90..=0x9f => Some(usize::from(b & 0x0f)),
            0xdc => self.be(2).map(|n| n as usize),
            0xdd => self.be(4).map(|n| n as usize),
            _ => None,
        }
    }

    fn array(&mut self, fields: usize) -> Option<()> {
        (self.array_len()? == fields).then_some(())
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = match self.byte()? {
            b @ 0xa0..=0xbf => usize::from(b & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return None,
        };
        crate::utf8::from_utf8(self.take(len)?).ok()
    }

    /// A string, written into `out` in place of what it held.
    fn string(&mut self, out: &mut String) -> Option<()> {
        let s = self.str()?;
        out.clear();
        out.push_str(s);
        Some(())
    }

    /// A `nil` or a string, written into `out` (reusing its buffer when it had one).
    fn opt_string(&mut self, out: &mut Option<String>) -> Option<()> {
        match (self.opt(Self::str)?, out.as_mut()) {
            (None, _) => *out = None,
            (Some(s), Some(buf)) => {
                buf.clear();
                buf.push_str(s);
            }
            (Some(s), None) => *out = Some(s.to_owned()),
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
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
            Some(p @ Record::Lifecycle(_)) if lifecycle_kind(&record_of(p)) == Some(kind) => {
                p.clone()
            }
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
}
