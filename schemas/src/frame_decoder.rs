//! [`FrameDecoder`]: frames decoded into records it keeps and reuses.

use crate::frame::{read_general, record_bytes};
use crate::frame_fast::{self, KINDS};
use crate::{DecodeError, Record};

/// Decodes frame after frame into records it owns and lends out, reusing their buffers.
///
/// [`crate::decode_frame`] returns a new record per frame: several strings allocated, then
/// freed by the caller. A fold or a filter only looks at each record once, so this decoder keeps
/// one record per lifecycle kind and overwrites it in place: after the first few frames, decoding
/// a lifecycle record allocates nothing. Other kinds are decoded afresh. The results are exactly
/// [`crate::decode_frame`]'s.
///
/// ```
/// use schemas::{decode_json, encode_frame, FrameDecoder};
/// let record = decode_json(br#"{"clientId":"c1","timestamp":1,"eventType":"connected","sessionIdentifier":"s1"}"#)?;
/// let mut log = Vec::new();
/// encode_frame(&record, &mut log);
/// encode_frame(&record, &mut log);
///
/// let mut decoder = FrameDecoder::new();
/// let mut at = 0;
/// while let Some((decoded, used)) = decoder.decode(&log[at..], at as u64)? {
///     assert_eq!(decoded, &record);
///     at += used;
/// }
/// assert_eq!(at, log.len());
/// # Ok::<(), schemas::DecodeError>(())
/// ```
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// One record per lifecycle kind, overwritten by each frame of that kind.
    lifecycle: [Option<Record>; KINDS],
    /// The last record of any other kind (or one the fast path declined).
    other: Option<Record>,
}

impl FrameDecoder {
    /// A decoder with no records yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes the frame at the start of `buf`, like [`crate::decode_frame`], into a record this
    /// decoder lends until its next call; `offset` is where `buf` starts, for error messages.
    ///
    /// # Errors
    /// As [`crate::decode_frame`].
    pub fn decode(
        &mut self,
        buf: &[u8],
        offset: u64,
    ) -> Result<Option<(&Record, usize)>, DecodeError> {
        let Some((record, used)) = record_bytes(buf, offset)? else {
            return Ok(None);
        };
        if let Some(kind) = frame_fast::lifecycle_kind(record) {
            let slot = self.lifecycle[kind].get_or_insert_with(|| frame_fast::empty(kind));
            if frame_fast::fill(record, slot).is_some() {
                return Ok(Some((slot, used)));
            }
            // A declined fill leaves the slot partly written, which is harmless: a fill that
            // succeeds writes every field.
        }
        let decoded = self.other.insert(read_general(record, offset)?);
        Ok(Some((decoded, used)))
    }
}
