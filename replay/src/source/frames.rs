//! MessagePack frames (see `schemas::frame`): `processor local`'s log segments, or any archive
//! of frames.
//!
//! A damaged frame is reported with its byte offset. Frames carry their own length, so after a
//! damaged header the next frame's position is unknown: the rest of that file is skipped (and
//! the report says so), the next file is read as usual.

use super::detect::{Bytes, FileError, FileRecords, Found};
use super::Location;
use schemas::{DecodeError, FrameReader};

/// Reads a file of frames.
pub struct FramesReader {
    frames: FrameReader<Bytes>,
}

impl FramesReader {
    /// Reads `bytes` as frames.
    pub fn new(bytes: Bytes) -> Self {
        FramesReader {
            frames: FrameReader::new(bytes),
        }
    }
}

impl FileRecords for FramesReader {
    fn next_item(&mut self) -> Option<Result<Found, FileError>> {
        let start = self.frames.valid_up_to();
        Some(match self.frames.next()? {
            Ok(record) => Ok((record, Location::Offset(start), None)),
            Err(DecodeError::BadFrame { offset, reason }) if self.frames.torn_tail().is_some() => {
                Err(FileError::Corrupt {
                    at: Location::Offset(offset),
                    reason,
                })
            }
            Err(DecodeError::BadFrame { offset, reason }) => Err(FileError::Corrupt {
                at: Location::Offset(offset),
                reason: format!("{reason}; the rest of this file is skipped"),
            }),
            Err(other) => Err(FileError::Corrupt {
                at: Location::Offset(start),
                reason: format!("{other}; the rest of this file is skipped"),
            }),
        })
    }
}
