//! [`Error`]: why a replay run failed, grouped by what the caller does next, which is also the
//! exit code: 1 for a failed run (or differences found by `replay diff`), 2 for a usage error.

use crate::sink::ProjectionSinkError;
use crate::source::{ArchiveError, Corrupt};
use std::path::PathBuf;

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The source failed (an unreadable file or directory, a failed AWS request).
    #[error(transparent)]
    Source(#[from] ArchiveError),
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] ProjectionSinkError),
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
    /// The fold's helper thread panicked (a bug).
    #[error(transparent)]
    Fold(#[from] crate::parallel::HelperPanicked),
    /// The arguments ask for something that does not fit together.
    #[error("{0}")]
    Usage(String),
    /// `replay diff` found differences (the report is on stdout).
    #[error("{different} of {clients} clients differ from the live table")]
    Different {
        /// Clients that differ or are missing on one side.
        different: usize,
        /// Clients on either side.
        clients: usize,
    },
}

impl Error {
    /// The process exit code: 2 for usage errors, 1 for everything else (a failed run, or
    /// `replay diff` finding differences).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}
