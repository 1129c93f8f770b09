//! Concatenated JSON: objects one after another with no delimiter (`{...}{...}`), which is what
//! Firehose writes to S3 by default. Whitespace between objects is allowed, so pretty-printed
//! files and JSON lines read too.
//!
//! Objects are found by a small scanner that tracks nesting and strings (it does not parse: each
//! object's bytes then go to the record decoder). A bad object is reported by its byte offset.
//! Bytes that cannot start an object, or an object cut off by the end of the file, are reported
//! once and skipped up to the next `{`.

use super::detect::{Bytes, FileError, FileRecords, Found};
use super::kinesis_wrap::{decode_object, Decoded};
use super::Location;
use std::collections::VecDeque;
use std::io::{ErrorKind, Read};

const READ_CHUNK: usize = 1 << 20;

/// Where the object starting at `buf[0]` (a `{`) ends (one past its `}`), if it ends in `buf`.
pub fn object_end(buf: &[u8]) -> Option<usize> {
    let mut scan = Scan::default();
    scan.run(buf, 0).ok().flatten()
}

/// Scanner state, kept across reads so a long object is scanned once.
#[derive(Debug, Default, Clone, Copy)]
struct Scan {
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Scans `buf[from..]`; `Ok(Some(end))` when the object closes, `Ok(None)` when more bytes
    /// are needed, `Err(i)` at a raw control character inside a string (a cut-off record).
    fn run(&mut self, buf: &[u8], from: usize) -> Result<Option<usize>, usize> {
        for (i, &b) in buf.iter().enumerate().skip(from) {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                } else if b < 0x20 && b != b'\t' {
                    return Err(i);
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Ok(Some(i + 1));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

/// Reads a file of concatenated JSON objects.
pub struct ConcatReader {
    bytes: Bytes,
    buf: Vec<u8>,
    /// `buf[start..end]` is read but not consumed; `buf[start]` is at file offset `offset`.
    start: usize,
    end: usize,
    offset: u64,
    eof: bool,
    pending: VecDeque<Result<Found, FileError>>,
}

impl ConcatReader {
    /// Reads `bytes` as concatenated JSON.
    pub fn new(bytes: Bytes) -> Self {
        ConcatReader {
            bytes,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            pending: VecDeque::new(),
        }
    }

    /// Reads more, keeping `buf[start..end]`; false at the end of the file.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        loop {
            match self.bytes.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Skips to the next `{` after the current byte, reading as needed.
    fn resync(&mut self) -> std::io::Result<()> {
        if self.start < self.end {
            self.consume(1);
        }
        loop {
            if let Some(i) = self.buf[self.start..self.end]
                .iter()
                .position(|&b| b == b'{')
            {
                self.consume(i);
                return Ok(());
            }
            self.consume(self.end - self.start);
            if !self.fill()? {
                return Ok(());
            }
        }
    }

    fn step(&mut self) -> Result<Option<Found>, FileError> {
        loop {
            // Skip whitespace between objects.
            let ws = self.buf[self.start..self.end]
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            self.consume(ws);
            if self.start == self.end {
                if !self.fill().map_err(FileError::Io)? {
                    return Ok(None);
                }
                continue;
            }
            let at = Location::Offset(self.offset);
            if self.buf[self.start] != b'{' {
                let found = self.buf[self.start];
                self.resync().map_err(FileError::Io)?;
                return Err(FileError::Corrupt {
                    at,
                    reason: format!(
                        "unexpected byte {:?} between records (skipped to the next `{{`)",
                        char::from(found)
                    ),
                });
            }
            let mut scan = Scan::default();
            let mut scanned = 0;
            let end = loop {
                match scan.run(&self.buf[self.start..self.end], scanned) {
                    Ok(Some(end)) => break end,
                    Ok(None) => {
                        scanned = self.end - self.start;
                        if !self.fill().map_err(FileError::Io)? {
                            let cut = self.end - self.start;
                            self.consume(cut);
                            return Err(FileError::Corrupt {
                                at,
                                reason: format!(
                                    "the file ends inside a record ({cut} bytes, cut off)"
                                ),
                            });
                        }
                    }
                    Err(i) => {
                        self.consume(i);
                        self.resync().map_err(FileError::Io)?;
                        return Err(FileError::Corrupt {
                            at,
                            reason: "a string runs into a line break: a cut-off record \
                                     (skipped to the next `{`)"
                                .into(),
                        });
                    }
                }
            };
            let decoded = decode_object(&self.buf[self.start..self.start + end]);
            self.consume(end);
            return match decoded {
                Ok(Decoded::One(record, arrived)) => Ok(Some((record, at, arrived))),
                Ok(Decoded::Many(all)) => {
                    self.pending.extend(all.into_iter().map(|r| {
                        r.map(|(record, arrived)| (record, at, arrived))
                            .map_err(|reason| FileError::Corrupt { at, reason })
                    }));
                    match self.pending.pop_front() {
                        Some(item) => item.map(Some),
                        None => continue,
                    }
                }
                Err(reason) => Err(FileError::Corrupt { at, reason }),
            };
        }
    }
}

impl FileRecords for ConcatReader {
    fn next_item(&mut self) -> Option<Result<Found, FileError>> {
        if let Some(item) = self.pending.pop_front() {
            return Some(item);
        }
        self.step().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(text: &str) -> ConcatReader {
        let rest: Box<dyn Read + Send> = Box::new(std::io::empty());
        ConcatReader::new(Cursor::new(text.as_bytes().to_vec()).chain(rest))
    }

    const A: &str = r#"{"deviceId":"d{1}","timestamp":1,"parameters":{"t":"a\"}"}}"#;

    #[test]
    fn finds_objects_with_braces_and_quotes_in_strings() {
        assert_eq!(object_end(A.as_bytes()), Some(A.len()));
        assert_eq!(object_end(b"{\"a\":[1,{}]}x"), Some(12));
        assert_eq!(object_end(b"{\"a\":"), None);
    }

    #[test]
    fn reads_concatenated_objects_and_reports_bad_ones_by_offset() {
        let text = format!("{A}{A}\n  {{\"nope\":1}}garbage{A}{{\"deviceId\":\"x");
        let mut r = reader(&text);
        let mut got = Vec::new();
        while let Some(item) = r.next_item() {
            got.push(match item {
                Ok((_, at, _)) => format!("ok {at}"),
                Err(FileError::Corrupt { at, .. }) => format!("bad {at}"),
                Err(FileError::Io(e)) => panic!("{e}"),
            });
        }
        let n = A.len();
        let second_bad = 2 * n + 3 + 10;
        assert_eq!(
            got,
            [
                "ok byte 0".to_owned(),
                format!("ok byte {n}"),
                format!("bad byte {}", 2 * n + 3),
                format!("bad byte {second_bad}"),
                format!("ok byte {}", second_bad + 7),
                format!("bad byte {}", second_bad + 7 + n),
            ]
        );
    }
}
