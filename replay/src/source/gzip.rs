//! A gzipped file read as far as it goes: a stream cut short (a copy interrupted, a disk full)
//! keeps the records before the cut, and the cut is reported once, where it is, after them.

use super::detect::{FileError, FileRecords, Found};
use super::Location;
use flate2::read::MultiGzDecoder;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

/// Where a gzip stream broke off (bytes decompressed before it) and why.
type Cut = Arc<Mutex<Option<(u64, String)>>>;

/// The decompressed bytes of a gzip stream, ending cleanly where the stream breaks off.
pub struct Decompressed {
    inner: MultiGzDecoder<Box<dyn Read + Send>>,
    read: u64,
    cut: Cut,
    /// Broken off: the end, for good.
    ended: bool,
}

impl Decompressed {
    /// The decompressed stream of `compressed`, and where it will say it broke off, if it does.
    pub fn new(compressed: Box<dyn Read + Send>) -> (Self, Cut) {
        let cut = Cut::default();
        let reader = Decompressed {
            inner: MultiGzDecoder::new(compressed),
            read: 0,
            cut: cut.clone(),
            ended: false,
        };
        (reader, cut)
    }
}

impl Read for Decompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            // A stream that ends early, or bytes that are not deflate: it breaks off there. Any
            // other error is the file's own (a disk, a connection), for the caller to handle.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::InvalidData
                        | io::ErrorKind::InvalidInput
                ) =>
            {
                if let Ok(mut cut) = self.cut.lock() {
                    *cut = Some((self.read, format!("gzip stream cut short: {e}")));
                }
                self.ended = true;
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }
}

/// A file's records, then the cut of its gzip stream, if it broke off.
pub struct UntilCut {
    /// The records of the decompressed bytes.
    pub records: Box<dyn FileRecords>,
    /// Where the stream broke off.
    pub cut: Cut,
}

impl FileRecords for UntilCut {
    fn next_item(&mut self) -> Option<Result<Found, FileError>> {
        if let Some(item) = self.records.next_item() {
            return Some(item);
        }
        // Taken once: reported once.
        let (at, reason) = self.cut.lock().ok()?.take()?;
        Some(Err(FileError::Corrupt {
            at: Location::Offset(at),
            reason: format!("{reason}; the records before it are kept"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_cut_stream_keeps_what_came_before_and_says_where_once() {
        let lines: String = (0..2000)
            .map(|i| format!("{{\"kind\":\"tick\",\"schemaVersion\":1,\"shardId\":\"s{i}\",\"timestamp\":{i}}}\n"))
            .collect();
        let whole = gzip(lines.as_bytes());
        let cut = whole[..whole.len() / 2].to_vec();
        let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut records = super::super::detect::open(std::io::Cursor::new(cut), read)
            .ok()
            .flatten()
            .unwrap();
        let (mut kept, mut corrupt) = (0, Vec::new());
        while let Some(item) = records.next_item() {
            match item {
                Ok(_) => kept += 1,
                Err(FileError::Corrupt { at, reason }) => corrupt.push((at, reason)),
                Err(FileError::Io(e)) => panic!("{e}"),
            }
        }
        assert!(kept > 100 && kept < 2000, "{kept} kept");
        // The torn last line, then the cut, once.
        let cuts: Vec<_> = corrupt
            .iter()
            .filter(|(_, r)| r.contains("cut short"))
            .collect();
        assert_eq!(cuts.len(), 1, "{corrupt:?}");
        assert!(matches!(cuts[0].0, Location::Offset(n) if n > 0));
        assert!(records.next_item().is_none());
    }

    #[test]
    fn a_stream_cut_before_its_first_record_is_refused_whole() {
        let whole = gzip(b"{\"kind\":\"tick\"}\n");
        let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let outcome = super::super::detect::open(std::io::Cursor::new(whole[..10].to_vec()), read);
        match outcome {
            Err(Ok(reason)) => assert!(reason.contains("cut short"), "{reason}"),
            Err(Err(e)) => panic!("an I/O error: {e}"),
            Ok(_) => panic!("not refused"),
        }
    }
}
