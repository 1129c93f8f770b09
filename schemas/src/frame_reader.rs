//! [`FrameReader`]: records from a stream of frames (a log file, an archive object).

use crate::frame::{decode_frame, header, FRAME_HEADER_LEN};
use crate::{DecodeError, Record};
use std::io::{ErrorKind, Read};

/// How much a reader asks its source for at a time. Large reads keep system calls rare; frames
/// are decoded in place from this buffer, so it is the only buffer a reader allocates (it grows
/// only for a frame larger than itself).
const READ_CHUNK: usize = 64 * 1024;

/// Reads frames (see [`crate::frame`]) from any [`Read`], yielding one record per frame.
///
/// Errors carry the byte offset of the frame they are about. After an error the reader stops:
/// a damaged header means the next frame's position is unknown, so nothing after it can be
/// trusted. A stream that ends part-way through a frame (a torn tail, left by a crash during a
/// write) yields one [`DecodeError::BadFrame`] and sets [`FrameReader::torn_tail`]; a writer
/// reopening the log truncates it to [`FrameReader::valid_up_to`] before appending.
///
/// ```
/// use schemas::{decode_json, encode_frame, FrameReader};
/// let record = decode_json(br#"{"deviceId":"d1","timestamp":1,"parameters":{}}"#)?;
/// let mut log = Vec::new();
/// encode_frame(&record, &mut log);
/// encode_frame(&record, &mut log);
/// log.extend_from_slice(&[7, 0, 0]); // a crash while writing the third frame
///
/// let mut reader = FrameReader::new(log.as_slice());
/// assert_eq!(reader.next(), Some(Ok(record.clone())));
/// assert_eq!(reader.next(), Some(Ok(record)));
/// assert!(reader.next().is_some_and(|r| r.is_err()));
/// assert_eq!(reader.next(), None);
/// assert_eq!(reader.torn_tail(), Some(3));
/// assert_eq!(reader.valid_up_to() as usize, log.len() - 3);
/// # Ok::<(), schemas::DecodeError>(())
/// ```
#[derive(Debug)]
pub struct FrameReader<R: Read> {
    inner: R,
    buf: Vec<u8>,
    /// First byte of `buf` not yet consumed by a complete frame.
    start: usize,
    /// End of the bytes read into `buf`.
    end: usize,
    /// Stream offset of `buf[start]`: the end of the last complete frame.
    offset: u64,
    eof: bool,
    done: bool,
    torn: Option<u64>,
}

impl<R: Read> FrameReader<R> {
    /// A reader of `inner` from its current position, which is taken as offset 0.
    pub fn new(inner: R) -> Self {
        Self::with_offset(inner, 0)
    }

    /// A reader of `inner` whose current position is byte `offset` of its file, so that offsets
    /// in errors and [`FrameReader::valid_up_to`] are positions in the file.
    pub fn with_offset(inner: R, offset: u64) -> Self {
        FrameReader {
            inner,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            offset,
            eof: false,
            done: false,
            torn: None,
        }
    }

    /// The offset just past the last complete, valid frame read so far: where a writer may
    /// truncate a torn or damaged tail and append.
    pub fn valid_up_to(&self) -> u64 {
        self.offset
    }

    /// After the stream ended part-way through a frame: how many bytes that partial frame had.
    pub fn torn_tail(&self) -> Option<u64> {
        self.torn
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Makes room for the frame at `start` (moving unconsumed bytes to the front, growing the
    /// buffer if the frame is larger than it) and reads once; returns the bytes read (0 at EOF).
    fn fill(&mut self) -> std::io::Result<usize> {
        let pending = &self.buf[self.start..self.end];
        let needed = match header(pending, self.offset) {
            Ok(Some((len, _))) => FRAME_HEADER_LEN + len,
            _ => FRAME_HEADER_LEN,
        };
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < needed.max(self.end + 1) {
            self.buf.resize(needed.max(self.end + READ_CHUNK), 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn stop(&mut self, error: DecodeError) -> Option<Result<Record, DecodeError>> {
        self.done = true;
        Some(Err(error))
    }
}

impl<R: Read> Iterator for FrameReader<R> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            match decode_frame(&self.buf[self.start..self.end], self.offset) {
                Ok(Some((record, consumed))) => {
                    self.start += consumed;
                    self.offset += consumed as u64;
                    return Some(Ok(record));
                }
                Ok(None) if self.eof => {
                    self.done = true;
                    let partial = (self.end - self.start) as u64;
                    if partial == 0 {
                        return None;
                    }
                    self.torn = Some(partial);
                    return Some(Err(DecodeError::BadFrame {
                        offset: self.offset,
                        reason: format!(
                            "torn tail: the stream ends {partial} bytes into a frame \
                             (truncate to byte {} to repair)",
                            self.offset
                        ),
                    }));
                }
                Ok(None) => match self.fill() {
                    Ok(0) => self.eof = true,
                    Ok(_) => {}
                    Err(e) => {
                        let offset = self.offset;
                        return self.stop(DecodeError::BadFrame {
                            offset,
                            reason: format!("read error: {e}"),
                        });
                    }
                },
                Err(error) => return self.stop(error),
            }
        }
    }
}
