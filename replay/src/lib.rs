//! Replay: rebuild presence projections from archived raw records, and explain them.
//!
//! The same pure fold as the processor ([`projections::World`]) runs over an archive, so replay
//! derives the projections live processing derived from the same events, whatever their order or
//! duplication. Records come from a [`source`] (local files of JSON lines, concatenated JSON or
//! MessagePack frames, gzipped or not, bare or Kinesis-wrapped), read on their own thread and
//! filtered by the time window in [`stream`]; projections go to a [`sink`] (JSON lines or
//! `processor local`'s embedded store). [`rebuild`] wires source, fold and sink, folding on two
//! threads ([`parallel`]); [`explain`]
//! follows one client through the fold; [`convert`] re-encodes an archive as frames.
//! [`cli`] is the command line, [`progress`] the bar and summary,
//! [`error`] what can fail and its exit code.
//!
//! Sources and sinks are small traits ([`source::RecordSource`], [`sink::ProjectionSink`]); the
//! AWS adapters (`s3://` and `kinesis://` sources, the `dynamodb://` sink) implement them, and
//! [`diff`] compares a replay with the live table.
//! Replay never sends a delivery: it has no delivery sink.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod aws;
pub mod cli;
pub mod convert;
pub mod diff;
pub mod error;
pub mod explain;
pub mod output;
pub mod parallel;
pub mod progress;
pub mod rebuild;
pub mod sink;
pub mod source;
pub mod stream;
pub mod warnings;

pub use error::Error;

use cli::Command;
use progress::Summary;

/// Runs a parsed command line.
///
/// # Errors
/// See [`Error`]; [`Error::exit_code`] gives the process exit code.
pub fn run(command: &Command) -> Result<Summary, Error> {
    match command {
        Command::Rebuild(args) => rebuild::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Diff(args) => diff::run(args),
    }
}
