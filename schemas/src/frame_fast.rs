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
mod tests;
