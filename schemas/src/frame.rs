//! MessagePack frames: how records are stored in our local log and archive.
//!
//! A frame is self-delimiting, checksummed and versioned:
//!
//! ```text
//! [u32 LE payload length][u32 LE CRC-32 of payload][payload]
//! payload = MessagePack [FRAME_VERSION, record]   (a 2-array: 0x92, a positive fixint, the record)
//! ```
//!
//! The record inside is encoded positionally (structs as arrays) through the mirrors in
//! `frame_repr`, which explains why the record types' own derives cannot be used for this.
//! The length lets a reader skip to the next frame and tell a torn tail (a frame cut short by a
//! crash) from a complete one; the CRC tells a damaged frame from a good one; the version lets a
//! newer release change the payload while an older one refuses it with a clear error instead of
//! misreading it. [`crate::FrameReader`] reads a stream of frames.
//!
//! Decoding allocates nothing but the record itself: the header is read in place, the payload is
//! decoded from the borrowed slice and strings are copied straight into the record's fields.
//! Lifecycle records, most of any stream, take a hand-written fast path (`frame_fast`);
//! [`crate::FrameDecoder`] goes further and reuses the records it decodes into.

use crate::frame_fast;
use crate::frame_repr::{read_record, write_record};
use crate::{DecodeError, Record};

/// The payload version this build writes, and the newest it reads.
pub const FRAME_VERSION: u8 = 1;

/// Bytes before the payload: length and CRC-32, both little-endian `u32`.
pub const FRAME_HEADER_LEN: usize = 8;

/// The largest payload a reader accepts. Records are small (a WebSocket message is at most
/// 128 KB); a larger length means a damaged header, and refusing it keeps a reader from trying
/// to buffer gigabytes.
pub const MAX_FRAME_PAYLOAD: usize = 16 * 1024 * 1024;

/// A CRC-32 hasher with the CPU's fastest implementation already chosen: see [`crc32`].
static CRC: std::sync::LazyLock<crc32fast::Hasher> =
    std::sync::LazyLock::new(crc32fast::Hasher::new);

/// The CRC-32 of `bytes`, as `crc32fast::hash` computes it, from a clone of [`CRC`]:
/// `crc32fast::hash` asks about the CPU's features again every time, which was a sixth of the
/// instructions of checking a lifecycle frame's CRC.
fn crc32(bytes: &[u8]) -> u32 {
    let mut hasher = CRC.clone();
    hasher.update(bytes);
    hasher.finalize()
}

/// MessagePack marker of a 2-element array (the payload's `[version, record]`).
const PAIR: u8 = 0x92;

/// Appends one frame holding `record` to `out`.
///
/// Infallible: writing to a `Vec` cannot fail and every record type serializes to MessagePack.
pub fn encode_frame(record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    out.push(PAIR);
    out.push(FRAME_VERSION);
    let written = write_record(record, out);
    // Unreachable for our types (see above). Never leave half a frame behind: a reader would
    // take it for a torn tail and a writer would truncate everything after it.
    debug_assert!(written.is_ok(), "encode_frame: {written:?}");
    if written.is_err() {
        out.truncate(start);
        return;
    }
    let payload = &out[start + FRAME_HEADER_LEN..];
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let crc = crc32(payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + FRAME_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the frame at the start of `buf`; `offset` is where `buf` starts in its file or
/// stream, used only in error messages.
///
/// Returns `Ok(None)` when `buf` holds only part of a frame (read more, or at the end of a log,
/// a torn tail), and `Ok(Some((record, consumed)))` with the frame's total length otherwise.
///
/// # Errors
/// [`DecodeError::BadFrame`] when the length is impossible, the CRC does not match, the frame
/// version is unknown (e.g. written by a newer release) or the payload is not a record.
pub fn decode_frame(buf: &[u8], offset: u64) -> Result<Option<(Record, usize)>, DecodeError> {
    let Some((record, used)) = record_bytes(buf, offset)? else {
        return Ok(None);
    };
    // Lifecycle records take the fast path into a fresh record; anything it declines goes to
    // the general decoder (see `frame_fast`).
    if let Some(kind) = frame_fast::lifecycle_kind(record) {
        let mut slot = frame_fast::empty(kind);
        if frame_fast::fill(record, &mut slot).is_some() {
            return Ok(Some((slot, used)));
        }
    }
    let record = read_general(record, offset)?;
    Ok(Some((record, used)))
}

/// The record bytes of the frame at the start of `buf` (the payload after its version), checked
/// (length, CRC, version), and the frame's total length; `Ok(None)` for part of a frame.
pub(crate) fn record_bytes(buf: &[u8], offset: u64) -> Result<Option<(&[u8], usize)>, DecodeError> {
    let Some((len, expected_crc)) = header(buf, offset)? else {
        return Ok(None);
    };
    let Some(payload) = buf.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
        return Ok(None);
    };
    let actual_crc = crc32(payload);
    if actual_crc != expected_crc {
        return Err(bad(
            offset,
            format!(
                "CRC mismatch: header says {expected_crc:#010x}, payload has {actual_crc:#010x}"
            ),
        ));
    }
    let record = versioned(payload).map_err(|reason| bad(offset, reason))?;
    Ok(Some((record, FRAME_HEADER_LEN + len)))
}

/// A frame's record through the general (serde) decoder.
pub(crate) fn read_general(record: &[u8], offset: u64) -> Result<Record, DecodeError> {
    read_record(record).map_err(|e| {
        bad(
            offset,
            format!("payload is not a version {FRAME_VERSION} record: {e}"),
        )
    })
}

/// The payload length and CRC from a frame header at the start of `buf`, the length checked
/// against [`MAX_FRAME_PAYLOAD`]; `Ok(None)` if `buf` is shorter than a header.
pub(crate) fn header(buf: &[u8], offset: u64) -> Result<Option<(usize, u32)>, DecodeError> {
    let Some(&[l0, l1, l2, l3, c0, c1, c2, c3]) = buf.first_chunk::<FRAME_HEADER_LEN>() else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
    if len > MAX_FRAME_PAYLOAD {
        return Err(bad(
            offset,
            format!(
                "payload length {len} is over the {MAX_FRAME_PAYLOAD}-byte limit (a damaged header?)"
            ),
        ));
    }
    Ok(Some((len, u32::from_le_bytes([c0, c1, c2, c3]))))
}

/// The record inside a payload of this build's version; an error for any other version.
fn versioned(payload: &[u8]) -> Result<&[u8], String> {
    match payload {
        [PAIR, FRAME_VERSION, record @ ..] => Ok(record),
        [PAIR, version @ 0..=0x7f, ..] if *version > FRAME_VERSION => Err(format!(
            "frame version {version} is newer than this build reads (up to {FRAME_VERSION}); \
             upgrade to read it"
        )),
        [PAIR, version @ 0..=0x7f, ..] => Err(format!(
            "unknown frame version {version} (this build reads 1 to {FRAME_VERSION})"
        )),
        [] => Err("empty payload".into()),
        _ => Err("payload is not a [version, record] pair".into()),
    }
}

fn bad(offset: u64, reason: String) -> DecodeError {
    DecodeError::BadFrame { offset, reason }
}
