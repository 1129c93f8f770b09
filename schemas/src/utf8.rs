//! UTF-8 validation with an ASCII fast path: [`from_utf8`].
//!
//! Nearly every string in our records is short ASCII: client and session ids, topics, hex
//! principals. `std::str::from_utf8` checks a short string a byte at a time (its
//! word-at-a-time loop starts only at an aligned address, with 16 bytes left), and that was a
//! fifth of the instructions of decoding and folding a lifecycle frame. `<[u8]>::is_ascii`
//! reads words from any address. The `ascii` crate turns bytes it has checked that way into a
//! `&str` without a second pass, which our own code could only do with `unsafe`.

use ascii::AsAsciiStr;

/// `bytes` as a `&str`, exactly as [`std::str::from_utf8`] answers for every input: ASCII is
/// UTF-8, and anything else is checked by the standard library.
///
/// # Errors
/// The standard library's [`std::str::Utf8Error`], when `bytes` is not UTF-8.
///
/// ```
/// assert_eq!(schemas::utf8::from_utf8(b"device-1"), Ok("device-1"));
/// assert_eq!(schemas::utf8::from_utf8("séance".as_bytes()), Ok("séance"));
/// assert!(schemas::utf8::from_utf8(b"\xff").is_err());
/// ```
#[inline]
pub fn from_utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match bytes.as_ascii_str() {
        Ok(ascii) => Ok(ascii.as_str()),
        Err(_) => std::str::from_utf8(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Byte strings of the kinds that reach the check: ASCII ids, any text, and random bytes,
    /// each sometimes with one byte, at any place, set to any value (a non-ASCII byte among
    /// ASCII ones, or an ASCII one in the middle of a character), starting at each of the eight
    /// offsets from a word boundary.
    fn bytes() -> impl Strategy<Value = (Vec<u8>, usize)> {
        let text = prop_oneof![
            "[a-z0-9/+#-]{0,70}".prop_map(String::into_bytes),
            "\\PC{0,40}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..70),
        ];
        (
            text,
            any::<prop::sample::Index>(),
            any::<u8>(),
            any::<bool>(),
            0..8usize,
        )
            .prop_map(|(mut b, at, byte, mutate, offset)| {
                if mutate && !b.is_empty() {
                    let i = at.index(b.len());
                    b[i] = byte;
                }
                let mut padded = vec![b'x'; offset];
                padded.extend(b);
                (padded, offset)
            })
    }

    proptest! {
        #[test]
        fn answers_as_the_standard_check_does((padded, offset) in bytes()) {
            let b = &padded[offset..];
            let ours = from_utf8(b);
            prop_assert_eq!(ours, std::str::from_utf8(b));
            // The same bytes, not a copy.
            if let Ok(s) = ours {
                prop_assert_eq!(s.as_ptr(), b.as_ptr());
            }
        }
    }
}
