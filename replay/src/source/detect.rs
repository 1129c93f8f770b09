//! Format detection: what a file holds, from its first bytes, not its name.
//!
//! - `1f 8b`: gzip (one member or several, as concatenated gzip objects are); the format inside
//!   is detected the same way;
//! - otherwise, first non-blank byte `{`: JSON. If the first object is followed, on the same line,
//!   by the next `{`, the file is concatenated JSON (Firehose's default, no delimiter); otherwise
//!   JSON lines;
//! - a first frame that decodes with a good CRC, or byte 8 is `0x92` (a frame's
//!   `[version, record]` pair after the 8-byte header): MessagePack frames, as `processor local`
//!   writes its log (`DIR/log/*.seg`).

use super::gzip::{Decompressed, UntilCut};
use super::{concat::ConcatReader, frames::FramesReader, jsonl::JsonLinesReader, Location};
use schemas::Record;
use std::io::{self, Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How many bytes are looked at to tell formats apart.
const HEAD: u64 = 8 * 1024;

/// A file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    JsonLines,
    /// JSON objects one after another, with or without whitespace between them.
    ConcatenatedJson,
    /// MessagePack frames.
    Frames,
}

/// Why one file's record could not be read.
#[derive(Debug)]
pub enum FileError {
    /// A bad record; reading can go on (for frames, the rest of the file is lost).
    Corrupt {
        /// Where.
        at: Location,
        /// Why.
        reason: String,
    },
    /// The file could not be read.
    Io(io::Error),
}

/// A record read from a file: the record, where it was, and its arrival time (ms) when the file
/// records one (Kinesis-wrapped records).
pub type Found = (Record, Location, Option<u64>);

/// The records of one file, in order.
pub trait FileRecords: Send {
    /// The next record and where it was, a bad record, or `None` at the end.
    fn next_item(&mut self) -> Option<Result<Found, FileError>>;
}

/// The bytes of a file as its format readers see them: the head already read, then the rest.
pub type Bytes = io::Chain<Cursor<Vec<u8>>, Box<dyn Read + Send>>;

/// Counts bytes read from the file itself (compressed bytes, for gzip), for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a file (or any byte stream: an S3 object), detects its format (through gzip if need be)
/// and returns a reader of its records, or `Ok(None)` for an empty file.
///
/// # Errors
/// `Err(Ok(reason))` when the format is not recognised (a corrupt file); `Err(Err(io))` when the
/// file cannot be read.
pub fn open(
    file: impl Read + Send + 'static,
    read: Arc<AtomicU64>,
) -> Result<Option<Box<dyn FileRecords>>, Result<String, io::Error>> {
    let counted: Box<dyn Read + Send> = Box::new(Counting { inner: file, read });
    let (head, rest) = head(counted).map_err(Err)?;
    let (head, rest, cut) = if head.starts_with(&[0x1f, 0x8b]) {
        let (gz, cut) = Decompressed::new(Box::new(Cursor::new(head).chain(rest)));
        let (head, rest) = head_of(Box::new(gz)).map_err(|e| Ok(format!("gzip: {e}")))?;
        (head, rest, Some(cut))
    } else {
        (head, rest, None)
    };
    let Some(format) = detect(&head) else {
        if head.iter().all(u8::is_ascii_whitespace) {
            // Cut before its first record: nothing kept, and say so.
            if let Some((_, reason)) = cut.as_ref().and_then(|c| c.lock().ok()?.take()) {
                return Err(Ok(reason));
            }
            return Ok(None);
        }
        let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(Ok(format!(
            "not JSON, MessagePack frames or gzip (first bytes: {})",
            shown.join(" ")
        )));
    };
    let bytes: Bytes = Cursor::new(head).chain(rest);
    let records: Box<dyn FileRecords> = match format {
        Format::JsonLines => Box::new(JsonLinesReader::new(bytes)),
        Format::ConcatenatedJson => Box::new(ConcatReader::new(bytes)),
        Format::Frames => Box::new(FramesReader::new(bytes)),
    };
    Ok(Some(match cut {
        Some(cut) => Box::new(UntilCut { records, cut }),
        None => records,
    }))
}

fn head(mut r: Box<dyn Read + Send>) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(HEAD as usize);
    (&mut r).take(HEAD).read_to_end(&mut head)?;
    Ok((head, r))
}

fn head_of(r: Box<dyn Read + Send>) -> io::Result<(Vec<u8>, Box<dyn Read + Send>)> {
    head(r)
}

/// The format of a file that starts with `head`, if recognised.
pub fn detect(head: &[u8]) -> Option<Format> {
    // A whole first frame with a good CRC settles it; JSON never passes that check.
    if let Ok(Some(_)) = schemas::decode_frame(head, 0) {
        return Some(Format::Frames);
    }
    let first = head.iter().position(|b| !b.is_ascii_whitespace())?;
    if head[first] != b'{' {
        // A first frame longer than the head, or a damaged one: the frame reader says which.
        return (head.len() > 8 && head[8] == 0x92).then_some(Format::Frames);
    }
    let Some(end) = super::concat::object_end(&head[first..]) else {
        // The first object is longer than the head: either way the concatenated reader copes.
        return Some(Format::ConcatenatedJson);
    };
    let after = &head[first + end..];
    match after.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\r')) {
        Some(b'{') => Some(Format::ConcatenatedJson),
        _ => Some(Format::JsonLines),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_formats_apart() {
        assert_eq!(detect(b"{\"a\":1}\n{\"a\":2}\n"), Some(Format::JsonLines));
        assert_eq!(detect(b"{\"a\":\"}{\"}\n"), Some(Format::JsonLines));
        assert_eq!(
            detect(b"{\"a\":1}{\"a\":2}"),
            Some(Format::ConcatenatedJson)
        );
        assert_eq!(
            detect(b"  {\"a\":1} {\"a\":2}"),
            Some(Format::ConcatenatedJson)
        );
        assert_eq!(detect(b"{\"a\":1}"), Some(Format::JsonLines));
        let record =
            schemas::decode_json(br#"{"deviceId":"d","timestamp":1,"parameters":{}}"#).unwrap();
        let mut frame = Vec::new();
        schemas::encode_frame(&record, &mut frame);
        assert_eq!(detect(&frame), Some(Format::Frames));
        assert_eq!(detect(b"PK\x03\x04 a zip file"), None);
        assert_eq!(detect(b"   "), None);
    }
}
