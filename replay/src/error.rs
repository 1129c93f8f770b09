//! [`Error`]: why a replay run failed, grouped by what the caller does next, which is also the
//! exit code: 1 for a failed run, 2 for a request this build cannot serve.

use crate::sink::SinkError;
use crate::source::{Corrupt, SourceError};
use std::path::PathBuf;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source failed (unreadable file or directory), or is not supported in this build.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The sink failed, or is not supported in this build.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// `--strict`: the first corrupt record stops the run.
    #[error("corrupt record (--strict): {0}")]
    Strict(Corrupt),
    /// Writing an output file failed.
    #[error("writing {path}")]
    Output {
        /// The file (`-` for stdout).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The arguments ask for something that does not fit together.
    #[error("{0}")]
    Usage(String),
    /// A subcommand that needs the AWS adapter.
    #[error("replay {what} needs the live DynamoDB table, which needs the AWS adapter: not supported in this build yet")]
    NeedsAws {
        /// The subcommand.
        what: &'static str,
    },
}

impl Error {
    /// The process exit code: 2 for requests this build cannot serve (usage errors, sources and
    /// sinks that need the AWS adapter), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Source(SourceError::Unsupported { .. })
            | Error::Sink(SinkError::Unsupported { .. })
            | Error::Usage(_)
            | Error::NeedsAws { .. } => 2,
            _ => 1,
        }
    }
}
