//! Where archived records come from: the [`RecordSource`] port and its adapters.
//!
//! A source is named on the command line by a [`SourceSpec`]: a local file or directory,
//! `s3://bucket/prefix` ([`s3`]) or `kinesis://stream` ([`kinesis`]). Local files are read one
//! after another ([`local`]); each file's format is detected from its first bytes ([`detect`]):
//! JSON lines ([`jsonl`]), concatenated JSON with no delimiter as Firehose writes it
//! ([`concat`](mod@concat)), or MessagePack frames as `processor local` logs them ([`frames`]), any
//! of them gzipped. JSON records may be bare or wrapped in Kinesis metadata ([`kinesis_wrap`]).
//! [`reader`] moves decoding onto its own thread, so the fold does not wait for it.

pub mod concat;
pub mod detect;
pub mod frames;
pub mod gzip;
pub mod jsonl;
pub mod kinesis;
pub mod kinesis_wrap;
pub mod local;
pub mod reader;
pub mod s3;
pub mod sequence;

use schemas::Record;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Where in its file a record or a corrupt record was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A line of a JSON-lines file (1-based).
    Line(u64),
    /// A byte offset: of a frame, or of an object in concatenated JSON (in the decompressed
    /// stream, for a gzipped file).
    Offset(u64),
    /// The whole file (e.g. its format was not recognised).
    File,
    /// The n-th record of a Kinesis shard (0-based), as read from the stream.
    Record(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Offset(n) => write!(f, "byte {n}"),
            Location::File => f.write_str("whole file"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// Where a record came from: the index of its file in [`RecordSource::files`], and where in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Index into the source's file list.
    pub file: u32,
    /// Where in the file.
    pub at: Location,
    /// When the record arrived on the stream (Kinesis's approximate arrival time, ms), where the
    /// source records it: `kinesis://` and Kinesis-wrapped archives. `None` elsewhere.
    pub arrived: Option<u64>,
}

/// A record that could not be read: which file, where, and why. Skipped and counted by default;
/// `--strict` stops at the first one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} ({at}): {reason}")]
pub struct Corrupt {
    /// The file.
    pub file: String,
    /// Where in it.
    pub at: Location,
    /// What is wrong.
    pub reason: String,
}

/// Why a source failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// One record is bad; the source can go on.
    #[error("corrupt record: {0}")]
    Corrupt(Corrupt),
    /// A file or directory could not be read: the run cannot go on.
    #[error("reading {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An AWS request failed (after the SDK's retries): the run cannot go on.
    #[error("{op}: {message}")]
    Aws {
        /// The operation, with what it was about (`GetObject s3://bucket/key`).
        op: String,
        /// What went wrong.
        message: String,
    },
}

/// A source as named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A local file or directory.
    Local(PathBuf),
    /// `s3://bucket/prefix`: a Firehose archive (objects chosen by the time range).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
    /// `kinesis://stream`: the stream itself, from a timestamp.
    Kinesis {
        /// The stream name.
        stream: String,
    },
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Local(path) => write!(f, "{}", path.display()),
            SourceSpec::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            SourceSpec::Kinesis { stream } => write!(f, "kinesis://{stream}"),
        }
    }
}

impl FromStr for SourceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("{s:?}: expected s3://bucket/prefix"));
            }
            return Ok(SourceSpec::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if let Some(stream) = s.strip_prefix("kinesis://") {
            if stream.is_empty() {
                return Err(format!("{s:?}: expected kinesis://stream-name"));
            }
            return Ok(SourceSpec::Kinesis {
                stream: stream.to_owned(),
            });
        }
        if s.is_empty() {
            return Err(
                "expected a file, a directory, s3://bucket/prefix or kinesis://stream".into(),
            );
        }
        Ok(SourceSpec::Local(PathBuf::from(
            s.strip_prefix("file://").unwrap_or(s),
        )))
    }
}

/// How far a source has read, for the progress bar: shared with the reading thread.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    /// Bytes read from the source's files so far (compressed bytes, for gzipped files).
    pub read: Arc<AtomicU64>,
    /// The total, when known.
    pub total: Option<u64>,
}

/// A stream of records in arrival order: the port every source implements.
///
/// An S3 (Firehose) or Kinesis adapter implements the same trait: it yields records with a
/// position, reports corrupt ones as [`ArchiveError::Corrupt`] and carries on.
pub trait RecordSource: Send {
    /// The next record and where it was, a corrupt record, a fatal error, or `None` at the end.
    fn next_record(&mut self) -> Option<Result<(Record, Position), ArchiveError>>;

    /// The names of the files (or objects, or shards) positions refer to.
    fn files(&self) -> &[String];

    /// How far the source has read.
    fn meter(&self) -> Meter;
}

/// Opens the source `input` names (`--from`), for its time window and endpoint.
///
/// # Errors
/// I/O errors listing a directory; AWS errors listing objects or shards.
pub fn open(input: &crate::cli::Input) -> Result<Box<dyn RecordSource>, ArchiveError> {
    let endpoint = input.endpoint_url.as_deref();
    match &input.from {
        SourceSpec::Local(path) => Ok(Box::new(local::LocalSource::open(path)?)),
        SourceSpec::S3 { bucket, prefix } => Ok(Box::new(s3::S3Source::open(
            bucket,
            prefix,
            input.since,
            input.until,
            endpoint,
        )?)),
        SourceSpec::Kinesis { stream } => Ok(Box::new(kinesis::KinesisSource::open(
            stream,
            input.since,
            endpoint,
        )?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(
            "s3://b/firehose/2024/".parse(),
            Ok(SourceSpec::S3 {
                bucket: "b".into(),
                prefix: "firehose/2024/".into()
            })
        );
        assert_eq!(
            "kinesis://raw".parse(),
            Ok(SourceSpec::Kinesis {
                stream: "raw".into()
            })
        );
        assert_eq!(
            "data/log".parse(),
            Ok(SourceSpec::Local(PathBuf::from("data/log")))
        );
        assert!("s3://".parse::<SourceSpec>().is_err());
    }
}
