//! Decode errors: what was wrong, where, and why. Every one of them means the record is poison
//! (retrying cannot help), so callers quarantine it.

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a JSON object.
    #[error("not a JSON object: {reason}")]
    NotJson {
        /// The parser's message, with line and column.
        reason: String,
    },
    /// A field has the wrong type or an invalid value.
    #[error("field `{field}`: expected {expected}, found {found}")]
    InvalidField {
        /// The field's JSON path.
        field: String,
        /// What the field must be.
        expected: String,
        /// What the record had.
        found: String,
    },
    /// A required field is absent.
    #[error("{kind} record: missing required field `{field}`")]
    MissingField {
        /// The record kind being decoded.
        kind: &'static str,
        /// The absent field.
        field: &'static str,
    },
    /// Nothing identifies the record's kind.
    #[error("unknown record kind: {found} (expected an IoT lifecycle `eventType`, a `kind` of websocket, connection_gone or tick, or telemetry with `deviceId` and `parameters`)")]
    UnknownKind {
        /// What the record had instead.
        found: String,
    },
    /// One of our own record kinds, written by a newer release.
    #[error(
        "{kind} record: unsupported schemaVersion {found} (this build reads up to {supported})"
    )]
    UnsupportedVersion {
        /// The record kind.
        kind: &'static str,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A MessagePack frame is damaged.
    #[error("bad frame at byte {offset}: {reason}")]
    BadFrame {
        /// Byte offset of the frame in its file or stream.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
}
