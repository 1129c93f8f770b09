//! JSON lines: one record (bare or Kinesis-wrapped) per line; blank lines are skipped.
//!
//! A bad line is reported by its number and does not disturb the lines after it.

use super::detect::{Bytes, FileError, FileRecords, Found};
use super::kinesis_wrap::{decode_object, Decoded};
use super::Location;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};

/// Big reads: archives are read once, front to back.
const BUFFER: usize = 1 << 20;

/// Reads a JSON-lines file.
pub struct JsonLinesReader {
    reader: BufReader<Bytes>,
    line: Vec<u8>,
    number: u64,
    /// Records of a `Records` wrapper not yet handed out.
    pending: VecDeque<Result<Found, FileError>>,
}

impl JsonLinesReader {
    /// Reads `bytes` as JSON lines.
    pub fn new(bytes: Bytes) -> Self {
        JsonLinesReader {
            reader: BufReader::with_capacity(BUFFER, bytes),
            line: Vec::with_capacity(4096),
            number: 0,
            pending: VecDeque::new(),
        }
    }
}

impl FileRecords for JsonLinesReader {
    fn next_item(&mut self) -> Option<Result<Found, FileError>> {
        if let Some(item) = self.pending.pop_front() {
            return Some(item);
        }
        loop {
            self.line.clear();
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(FileError::Io(e))),
            }
            self.number += 1;
            let text = self.line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let at = Location::Line(self.number);
            return Some(match decode_object(text) {
                Ok(Decoded::One(record, arrived)) => Ok((record, at, arrived)),
                Ok(Decoded::Many(all)) => {
                    self.pending.extend(all.into_iter().map(|r| {
                        r.map(|(record, arrived)| (record, at, arrived))
                            .map_err(|reason| FileError::Corrupt { at, reason })
                    }));
                    match self.pending.pop_front() {
                        Some(item) => item,
                        None => continue,
                    }
                }
                Err(reason) => Err(FileError::Corrupt { at, reason }),
            });
        }
    }
}
