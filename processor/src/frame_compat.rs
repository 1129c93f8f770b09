//! TEMPORARY stand-in for `schemas::frame` (being written on another branch), with exactly its
//! signatures, so the log compiles until it lands. Delete this file and use `schemas::frame`.

use schemas::{DecodeError, Record};

const HEADER: usize = 8;

/// Appends one frame, `[u32 LE len][u32 LE crc32][MessagePack payload]`, to `out`.
pub fn encode_frame(record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; HEADER]);
    // Encoding a typed value into a Vec cannot fail.
    // Named (map) encoding: the records skip absent optional fields, which positional arrays cannot express.
    let _ = rmp_serde::encode::write_named(out, record);
    let len = (out.len() - start - HEADER) as u32;
    let crc = crc32fast::hash(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the frame at the start of `buf`: `Ok(None)` if `buf` holds only part of one.
pub fn decode_frame(buf: &[u8], offset: u64) -> Result<Option<(Record, usize)>, DecodeError> {
    if buf.len() < HEADER {
        return Ok(None);
    }
    let bad = |reason: String| DecodeError::BadFrame { offset, reason };
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if buf.len() < HEADER + len {
        return Ok(None);
    }
    let payload = &buf[HEADER..HEADER + len];
    if crc32fast::hash(payload) != crc {
        return Err(bad("checksum mismatch".into()));
    }
    let record = rmp_serde::from_slice(payload).map_err(|e| bad(e.to_string()))?;
    Ok(Some((record, HEADER + len)))
}
