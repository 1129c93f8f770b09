//! [`InlineStr`]: a short string stored in place, for the keys the fold compares most.
//!
//! A session id (AWS's are 36-character UUIDs) or a topic (`app/{clientId}/chat/{chatId}`
//! is easily over the 24 bytes a `CompactString` keeps inline) held on the heap costs an
//! allocation when it is first seen and a cache miss every time a lookup compares it: the fold
//! is bound by such misses. Up to 40 bytes, this keeps the bytes in the slot the lookup reads
//! anyway. Room names, short and kept by the dozen per client, stay `CompactString`s.

use std::cmp::Ordering;
use std::fmt;

/// The longest string kept inline.
pub(crate) const INLINE: usize = 40;

/// A string: inline up to 40 bytes, on the heap beyond. It takes 48 bytes, twice a
/// `CompactString`: worth it only for keys that are often longer than 24 bytes.
#[derive(Clone)]
pub(crate) struct InlineStr(Repr);

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]`; the rest is zero.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A longer one.
    Heap(Box<str>),
}

impl InlineStr {
    /// A copy of `s`.
    pub(crate) fn new(s: &str) -> Self {
        InlineStr(match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                Repr::Inline { len, bytes }
            }
            _ => Repr::Heap(s.into()),
        })
    }

    /// The string.
    pub(crate) fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes were copied whole from a `&str`, so they are UTF-8: the empty fallback
            // is never taken.
            Repr::Inline { .. } => schemas::utf8::from_utf8(self.as_bytes()).unwrap_or_default(),
            Repr::Heap(s) => s,
        }
    }

    /// The string's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(s) => s.as_bytes(),
        }
    }

    /// Whether this is `text`, compared without a call to `memcmp` (see [`short_eq`]).
    pub(crate) fn is(&self, text: &str) -> bool {
        short_eq(self.as_bytes(), text.as_bytes())
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

/// Whether two byte strings are equal, compared eight bytes at a time in registers: ids are a
/// few dozen bytes, where the call to `memcmp` that slice equality makes cost more than the
/// comparison itself, in every lookup the fold makes.
pub(crate) fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], at: usize| word_at(s, at).map(u64::from_ne_bytes);
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last eight bytes, overlapping the word before when `n` is not a multiple of eight.
    word(a, n - 8) == word(b, n - 8)
}

/// The eight bytes of `s` from `at`, if it has them: the unit [`short_eq`] and [`short_cmp`]
/// compare in.
fn word_at(s: &[u8], at: usize) -> Option<[u8; 8]> {
    s.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok())
}

/// How two byte strings order, as slices do (byte by byte, a prefix first), compared eight bytes
/// at a time in registers as in [`short_eq`]: sorted maps of a few short keys (a client's rooms,
/// a session's topics) search on every subscription, and a call to `memcmp` per probe cost more
/// than the comparison.
pub(crate) fn short_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    // Big-endian, so that words order as their bytes do.
    let word = |s: &[u8], at: usize| word_at(s, at).map(u64::from_be_bytes);
    let mut at = 0;
    while at + 8 <= n {
        let (x, y) = (word(a, at), word(b, at));
        if x != y {
            return x.cmp(&y);
        }
        at += 8;
    }
    for (x, y) in a[at..n].iter().zip(&b[at..n]) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
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

    /// Few byte values, so that long shared prefixes are common, on both sides of 0x80.
    fn byte() -> impl proptest::strategy::Strategy<Value = u8> {
        proptest::sample::select(vec![0u8, 1, 2, 0x7f, 0x80, 0xff])
    }

    proptest::proptest! {
        #[test]
        fn short_cmp_orders_as_slices_do(
            a in proptest::collection::vec(byte(), 0..40),
            b in proptest::collection::vec(byte(), 0..40),
            prefix in 0usize..40,
        ) {
            // Shared prefixes of every length, so that words and tails both decide.
            let mut b2 = a[..prefix.min(a.len())].to_vec();
            b2.extend(&b);
            for (x, y) in [(&a, &b), (&a, &b2), (&b2, &a), (&a, &a)] {
                proptest::prop_assert_eq!(short_cmp(x, y), x.as_slice().cmp(y.as_slice()));
            }
        }

        #[test]
        fn short_eq_is_slice_equality(
            a in proptest::collection::vec(0u8..4, 0..50),
            flip in proptest::option::of((0usize..50, 1u8..4)),
            cut in 0usize..2,
        ) {
            // Equal strings, strings one byte apart anywhere, and a prefix.
            let mut b = a.clone();
            if let Some((at, by)) = flip {
                if let Some(x) = b.get_mut(at) {
                    *x = x.wrapping_add(by);
                }
            }
            b.truncate(b.len().saturating_sub(cut));
            proptest::prop_assert_eq!(short_eq(&a, &b), a == b);
            proptest::prop_assert!(short_eq(&a, &a));
        }
    }

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
                assert_eq!(s.is(b), a == b, "{a} {b}");
            }
        }
        assert!(matches!(InlineStr::new(&edge).0, Repr::Inline { .. }));
        assert!(matches!(InlineStr::new(&long).0, Repr::Heap(_)));
    }
}
