//! [`InlineStr`]: a short string stored in place, for the keys the fold compares most.
//!
//! A session id (AWS's are 36-character UUIDs) or a topic (`app/{clientId}/chat/{chatId}`
//! is easily over the 24 bytes a `CompactString` keeps inline) held on the heap costs an
//! allocation when it is first seen and a cache miss every time a lookup compares it: the fold
//! is bound by such misses. Up to 40 bytes, this keeps the bytes in the slot the lookup reads
//! anyway. Room names, short and kept by the dozen per client, stay `CompactString`s.

use crate::vecmap::MapKey;
use std::fmt;

/// The longest string kept inline.
pub(crate) const INLINE: usize = 40;

/// A string: inline up to 40 bytes, on the heap beyond. It takes 48 bytes, twice a
/// `CompactString`: worth it only for keys that are often longer than 24 bytes.
#[derive(Clone)]
pub struct InlineStr(Repr);

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]`; the rest is zero.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A longer one.
    Heap(Box<str>),
}

impl MapKey for InlineStr {
    fn new(s: &str) -> Self {
        InlineStr(match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                Repr::Inline { len, bytes }
            }
            _ => Repr::Heap(s.into()),
        })
    }

    fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes were copied whole from a `&str`, so they are UTF-8: the empty fallback
            // is never taken.
            Repr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            Repr::Heap(s) => s,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(s) => s.as_bytes(),
        }
    }
}

impl PartialEq for InlineStr {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            // A string has one representation (inline iff it fits), and inline bytes past `len`
            // are zero: comparing whole arrays is comparing the strings, in a few vector
            // compares instead of a call to `memcmp`.
            (Repr::Inline { len, bytes }, Repr::Inline { len: l, bytes: b }) => {
                len == l && bytes == b
            }
            (Repr::Heap(a), Repr::Heap(b)) => a == b,
            _ => false,
        }
    }
}

/// A string to look for among [`InlineStr`]s, prepared once for a scan of many: see
/// [`InlineStr::matches`].
pub(crate) struct Probe<'a> {
    /// The string's inline form, when it has one.
    inline: Option<InlineStr>,
    text: &'a str,
}

impl<'a> Probe<'a> {
    /// A probe for `text`. It allocates nothing: a string too long to sit inline is compared
    /// as it is.
    pub(crate) fn new(text: &'a str) -> Self {
        let inline = (text.len() <= INLINE).then(|| InlineStr::new(text));
        Probe { inline, text }
    }
}

impl InlineStr {
    /// Whether this is the probe's string: [`PartialEq`] against a prepared copy.
    pub(crate) fn matches(&self, probe: &Probe<'_>) -> bool {
        match (&self.0, &probe.inline) {
            (Repr::Inline { .. }, Some(inline)) => self == inline,
            (Repr::Heap(s), None) => **s == *probe.text,
            _ => false,
        }
    }
}

impl Eq for InlineStr {}

impl fmt::Debug for InlineStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_any_string_whole_and_orders_like_str() {
        let long = "x".repeat(INLINE + 1);
        let edge = "y".repeat(INLINE);
        let all = [
            "",
            "a",
            "séance-😀",
            edge.as_str(),
            long.as_str(),
            "app/device-0000659/chat/room-212",
        ];
        for a in all {
            let s = InlineStr::new(a);
            assert_eq!(s.as_str(), a);
            assert_eq!(s.as_bytes(), a.as_bytes());
            assert_eq!(format!("{s:?}"), format!("{a:?}"));
            for b in all {
                let other = InlineStr::new(b);
                assert_eq!(s.as_bytes().cmp(other.as_bytes()), a.cmp(b), "{a} {b}");
                assert_eq!(s == InlineStr::new(b), a == b);
                assert_eq!(s.matches(&Probe::new(b)), a == b, "{a} {b}");
            }
        }
        assert!(matches!(InlineStr::new(&edge).0, Repr::Inline { .. }));
        assert!(matches!(InlineStr::new(&long).0, Repr::Heap(_)));
    }
}
