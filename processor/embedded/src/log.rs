//! The local stream: an append-only log of MessagePack frames in segment files under `DIR/log/`.
//!
//! Positions are global byte offsets: a segment is named by the position of its first byte
//! (`00000000000000000000.seg`), like Kafka's, so a position says which file and where without an
//! index. The store commits the log position it has folded up to in the same transaction as the
//! projections, so on open everything after that position is either a batch that was written but
//! never committed (it is folded again, see [`LogReader`]) or a torn write from a crash, which is
//! cut off: it was never acknowledged.

use schemas::frame::{decode_frame, encode_frame};
use schemas::Record;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A new segment is started once the current one reaches this size (at a batch boundary).
pub const DEFAULT_SEGMENT_BYTES: u64 = 128 * 1024 * 1024;

const SUFFIX: &str = ".seg";
/// How much of a segment the reader holds in memory at a time.
const READ_CHUNK: usize = 1 << 20;

/// What can go wrong with the log. All of it is fatal for a run: the log is the source of truth.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file operation failed.
    #[error("log {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A frame could not be read back.
    #[error("log damaged at position {position}: {reason}")]
    Damaged {
        /// Global position of the damaged frame.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The store says it folded more of the log than there is.
    #[error("the store has folded the log up to position {committed}, but the log ends at {end}: the log was truncated or belongs to another store")]
    StoreAhead {
        /// The store's checkpoint.
        committed: u64,
        /// The log's end.
        end: u64,
    },
    /// Segment files do not follow each other.
    #[error("log segments are not contiguous: {path} should start at position {expected}")]
    Gap {
        /// The segment that does not fit.
        path: PathBuf,
        /// Where it should start.
        expected: u64,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The log, open for appending.
#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    segment_bytes: u64,
    /// The current (last) segment's first position, and the file.
    base: u64,
    file: File,
    path: PathBuf,
    /// Bytes in the current segment.
    len: u64,
    /// Reused frame buffer: one allocation for the whole run, not one per batch.
    buf: Vec<u8>,
}

/// What [`Log::open`] found.
#[derive(Debug)]
pub struct Opened {
    /// The log, positioned at its end.
    pub log: Log,
    /// Bytes of a torn or damaged tail that were cut off (0 after a clean shutdown).
    pub truncated: u64,
}

impl Log {
    /// Opens (or creates) the log in `dir`. Frames after `committed`, the position the store has
    /// folded up to, are checked; the first incomplete or damaged one and everything after it is
    /// truncated, since no batch containing it was ever committed.
    ///
    /// # Errors
    /// I/O errors, a store checkpoint beyond the log's end, or segments that do not follow each
    /// other.
    pub fn open(dir: &Path, committed: u64, segment_bytes: u64) -> Result<Opened, LogError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let segments = segments(dir)?;
        let Some(&(last_base, ref last_path)) = segments.last() else {
            if committed > 0 {
                return Err(LogError::StoreAhead { committed, end: 0 });
            }
            let log = Log::create_segment(dir, 0, segment_bytes)?;
            return Ok(Opened { log, truncated: 0 });
        };
        let last_len = fs::metadata(last_path).map_err(io_err(last_path))?.len();
        let end = last_base + last_len;
        if committed > end {
            return Err(LogError::StoreAhead { committed, end });
        }
        // Walk the uncommitted tail; the first frame that does not read back marks the cut.
        let mut cut = None;
        for item in LogReader::from_segments(segments.clone(), committed)? {
            if let Err(LogError::Damaged { position, .. }) = item {
                cut = Some(position);
                break;
            }
            item?;
        }
        let mut truncated = 0;
        if let Some(position) = cut {
            if position < last_base {
                // Only the last segment can have been mid-write when a process died.
                return Err(LogError::Damaged {
                    position,
                    reason: "damaged frame before the last segment".into(),
                });
            }
            truncated = end - position;
            let file = OpenOptions::new()
                .write(true)
                .open(last_path)
                .map_err(io_err(last_path))?;
            file.set_len(position - last_base)
                .map_err(io_err(last_path))?;
            file.sync_all().map_err(io_err(last_path))?;
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(last_path)
            .map_err(io_err(last_path))?;
        let len = file.seek(SeekFrom::End(0)).map_err(io_err(last_path))?;
        let log = Log {
            dir: dir.to_owned(),
            segment_bytes,
            base: last_base,
            file,
            path: last_path.clone(),
            len,
            buf: Vec::new(),
        };
        Ok(Opened { log, truncated })
    }

    fn create_segment(dir: &Path, base: u64, segment_bytes: u64) -> Result<Log, LogError> {
        let path = segment_path(dir, base);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        // Make the new file's directory entry durable too, or a crash could lose the segment.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir))?;
        Ok(Log {
            dir: dir.to_owned(),
            segment_bytes,
            base,
            file,
            path,
            len: 0,
            buf: Vec::new(),
        })
    }

    /// The position just after the last frame: what the store records as folded once the batch
    /// that ends here is committed.
    pub fn end(&self) -> u64 {
        self.base + self.len
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends the records' frames in one write and makes them durable (fsync) before returning,
    /// so a committed store never refers to log content a crash could lose.
    ///
    /// # Errors
    /// I/O errors.
    pub fn append<'a>(
        &mut self,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> Result<u64, LogError> {
        if self.len >= self.segment_bytes {
            let next = Log::create_segment(&self.dir, self.end(), self.segment_bytes)?;
            let buf = std::mem::take(&mut self.buf);
            *self = Log { buf, ..next };
        }
        self.buf.clear();
        for record in records {
            encode_frame(record, &mut self.buf);
        }
        if self.buf.is_empty() {
            return Ok(self.end());
        }
        self.file.write_all(&self.buf).map_err(io_err(&self.path))?;
        // Data only: the file's length is part of what fdatasync makes durable.
        self.file.sync_data().map_err(io_err(&self.path))?;
        self.len += self.buf.len() as u64;
        Ok(self.end())
    }
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}{SUFFIX}"))
}

/// The segment files in `dir`, by first position.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        let base = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(SUFFIX))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(base) = base {
            found.push((base, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Reads records back from a position: recovery of uncommitted batches, and tests.
///
/// Yields each record with the position just after it. A frame that is incomplete or fails its
/// checksum yields one [`LogError::Damaged`] and ends the iteration.
#[derive(Debug)]
pub struct LogReader {
    segments: std::vec::IntoIter<(u64, PathBuf)>,
    /// The segment being read: its path, file, and the position of `buf[0]`.
    current: Option<(PathBuf, File)>,
    buf: Vec<u8>,
    pos: usize,
    buf_start: u64,
    eof: bool,
    done: bool,
}

impl LogReader {
    /// A reader over the log in `dir`, starting at `from` (a frame boundary).
    ///
    /// # Errors
    /// I/O errors listing the directory.
    pub fn open(dir: &Path, from: u64) -> Result<LogReader, LogError> {
        LogReader::from_segments(segments(dir)?, from)
    }

    fn from_segments(mut all: Vec<(u64, PathBuf)>, from: u64) -> Result<LogReader, LogError> {
        // Skip whole segments that end before `from`: the one holding `from` is the last whose
        // base is at or below it.
        let first = all.iter().rposition(|(base, _)| *base <= from).unwrap_or(0);
        all.drain(..first);
        let mut reader = LogReader {
            segments: all.into_iter(),
            current: None,
            buf: Vec::with_capacity(READ_CHUNK),
            pos: 0,
            buf_start: from,
            eof: true,
            done: false,
        };
        if let Some((base, path)) = reader.segments.next() {
            let mut file = File::open(&path).map_err(io_err(&path))?;
            file.seek(SeekFrom::Start(from.saturating_sub(base)))
                .map_err(io_err(&path))?;
            reader.buf_start = base + from.saturating_sub(base);
            reader.current = Some((path, file));
            reader.eof = false;
        }
        Ok(reader)
    }

    /// Reads more of the current segment, keeping the unread part; false at its end.
    fn fill(&mut self) -> Result<bool, LogError> {
        let Some((path, file)) = self.current.as_mut() else {
            return Ok(false);
        };
        self.buf.drain(..self.pos);
        self.buf_start += self.pos as u64;
        self.pos = 0;
        let have = self.buf.len();
        self.buf.resize(have + READ_CHUNK, 0);
        let n = file.read(&mut self.buf[have..]).map_err(io_err(path))?;
        self.buf.truncate(have + n);
        Ok(n > 0)
    }

    /// Moves to the next segment, which must start where this one ended.
    fn next_segment(&mut self) -> Result<bool, LogError> {
        let end = self.buf_start + self.pos as u64;
        let Some((base, path)) = self.segments.next() else {
            self.current = None;
            return Ok(false);
        };
        if base != end {
            return Err(LogError::Gap {
                path,
                expected: end,
            });
        }
        let file = File::open(&path).map_err(io_err(&path))?;
        self.current = Some((path, file));
        self.buf.clear();
        self.pos = 0;
        self.buf_start = base;
        Ok(true)
    }

    fn step(&mut self) -> Result<Option<(Record, u64)>, LogError> {
        loop {
            let position = self.buf_start + self.pos as u64;
            match decode_frame(&self.buf[self.pos..], position) {
                Ok(Some((record, used))) => {
                    self.pos += used;
                    return Ok(Some((record, position + used as u64)));
                }
                Ok(None) => {
                    if self.eof {
                        return Ok(None);
                    }
                    if self.fill()? {
                        continue;
                    }
                    if self.pos < self.buf.len() {
                        return Err(LogError::Damaged {
                            position,
                            reason: format!(
                                "incomplete frame: {} bytes at the end of the segment",
                                self.buf.len() - self.pos
                            ),
                        });
                    }
                    if !self.next_segment()? {
                        self.eof = true;
                    }
                }
                Err(e) => {
                    return Err(LogError::Damaged {
                        position,
                        reason: e.to_string(),
                    })
                }
            }
        }
    }
}

impl Iterator for LogReader {
    type Item = Result<(Record, u64), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

#[cfg(test)]
mod tests;
