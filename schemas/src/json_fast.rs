//! A hand-written fast path for the JSON record most of any stream is: a flat IoT lifecycle
//! event (`{"clientId":"...","timestamp":...,"eventType":"connected",...}`).
//!
//! It scans the object once, borrowing every string from the input, into the same [`Wire`]
//! that serde's derived decoder fills; `decode::classify` then builds the record from either.
//! serde_json spends most of a lifecycle record's decoding on its general machinery (a visitor
//! per value, a field-name match over every field of every kind); this path reads the dozen
//! fields a lifecycle event has and nothing else.
//!
//! It declines (returns `None`) whenever it is not certain to produce what serde would: a key
//! of another record kind, an escape sequence, a `null`, a nested value, a number that is not a
//! plain integer, a duplicate field, anything malformed. The general decoder then parses the
//! record as before and explains any error. A declined record costs one partial scan.
//! `tests::fast_path_agrees_with_serde` checks, over generated objects, that whatever this path
//! accepts serde decodes to the same `Wire`.

use crate::wire::Wire;
use std::borrow::Cow;

/// The `Wire` of a flat lifecycle record, or `None` when the general decoder must decide.
pub(crate) fn wire(text: &str) -> Option<Wire<'_>> {
    let mut scan = Scan { text, at: 0 };
    let mut wire = Wire::default();
    scan.skip_ws();
    scan.eat(b'{')?;
    scan.skip_ws();
    if scan.peek()? == b'}' {
        scan.at += 1;
    } else {
        loop {
            let key = scan.string()?;
            scan.skip_ws();
            scan.eat(b':')?;
            scan.skip_ws();
            scan.field(key, &mut wire)?;
            scan.skip_ws();
            match scan.next()? {
                b',' => scan.skip_ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    scan.skip_ws();
    // serde_json refuses anything after the object.
    (scan.at == text.len()).then_some(wire)
}

/// A cursor over the record's text.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

/// Stores `value` in an empty field; `None` when the field was set already (serde refuses a
/// duplicate field).
fn set<T>(field: &mut Option<T>, value: T) -> Option<()> {
    match field {
        Some(_) => None,
        None => {
            *field = Some(value);
            Some(())
        }
    }
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// A string without escapes, borrowed. Declines an escape (serde would unescape it) and a
    /// raw control character (serde refuses it).
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = self.text.as_bytes().get(start..)?;
        let len = stop(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // The quotes are ASCII, so both ends are character boundaries.
        self.text.get(start..start + len)
    }

    /// A non-negative integer that fits a `u64`, as serde reads one into a `u64`. A fraction or
    /// an exponent is left unread, and the caller, finding it where a `,` or `}` belongs,
    /// declines the record.
    fn u64(&mut self) -> Option<u64> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut value: u64 = 0;
        while let Some(&b) = bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.at += 1;
        }
        let digits = self.at - start;
        // JSON has no leading zeros ("01" is not a number).
        if digits == 0 || (digits > 1 && bytes[start] == b'0') {
            return None;
        }
        Some(value)
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.text.as_bytes().get(self.at..end)? == word.as_bytes()).then(|| self.at = end)
    }

    fn bool(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal("true").map(|()| true),
            b'f' => self.literal("false").map(|()| false),
            _ => None,
        }
    }

    fn str_value(&mut self) -> Option<Cow<'a, str>> {
        self.string().map(Cow::Borrowed)
    }

    /// `[ "a", "b" ]`: strings only.
    fn strings(&mut self) -> Option<Vec<Cow<'a, str>>> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        self.skip_ws();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(out);
        }
        loop {
            self.skip_ws();
            out.push(self.str_value()?);
            self.skip_ws();
            match self.next()? {
                b',' => {}
                b']' => return Some(out),
                _ => return None,
            }
        }
    }

    /// The value of a field serde ignores: a string, an integer, `true`, `false` or `null`.
    /// Anything nested declines (rare in lifecycle events, and serde skips it exactly).
    fn ignored(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' => {
                self.at += 1;
                self.u64().map(drop)
            }
            _ => self.u64().map(drop),
        }
    }

    /// Reads the value of `key` into `wire`. Declines any field of another record kind, so
    /// that serde's rules for it (types, duplicates) never have to be repeated here.
    fn field(&mut self, key: &str, w: &mut Wire<'a>) -> Option<()> {
        match key {
            "eventType" => set(&mut w.event_type, self.str_value()?),
            "timestamp" => set(&mut w.timestamp, self.u64()?),
            "clientId" => set(&mut w.client_id, self.str_value()?),
            "thingName" => set(&mut w.thing_name, self.str_value()?),
            "sessionIdentifier" => set(&mut w.session_identifier, self.str_value()?),
            "principalIdentifier" => set(&mut w.principal_identifier, self.str_value()?),
            "ipAddress" => set(&mut w.ip_address, self.str_value()?),
            "versionNumber" => set(&mut w.version_number, self.u64()?),
            "clientInitiatedDisconnect" => set(&mut w.client_initiated_disconnect, self.bool()?),
            "disconnectReason" => set(&mut w.disconnect_reason, self.str_value()?),
            "topics" => set(&mut w.topics, self.strings()?),
            "connectFailureReason" => set(&mut w.connect_failure_reason, self.str_value()?),
            _ if crate::wire::WIRE_FIELDS.contains(&key) => None,
            _ => self.ignored(),
        }
    }
}

/// Where a string's text stops: the first `"`, `\\` or control character in `bytes`.
///
/// Eight bytes at a time (SWAR): a record's strings are most of its bytes, and a byte loop
/// spent several cycles on each.
fn stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `x` that is zero (exact for the lowest such byte, which is
    // all that is used: a borrow can only mark bytes above a true zero).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let hits = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

#[cfg(test)]
mod tests;
