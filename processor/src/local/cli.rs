//! `processor local`: its flags, their defaults and environment variables, and the fold
//! settings they make.

use clap::Args;
use fold_flags::{parse_duration_ms, FoldFlags};
use std::path::PathBuf;

/// Fold raw records from a file or stdin into an embedded store, printing deliveries.
///
/// Reads raw records (JSON lines, in arrival order) from INPUT, appends them to the local
/// append-only log in the store directory (`DIR/log/`), folds them into the embedded database
/// there (`DIR/projections.redb`) and prints each delivery as one JSON line on stdout. A summary
/// goes to stderr.
///
/// Running again on the same store continues from it. Feeding the same records twice changes
/// nothing: the fold is idempotent and deliveries already routed are not printed again. Lines that
/// do not decode are reported on stderr, kept in `DIR/quarantine.jsonl` and skipped.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  processor local --input events.jsonl --store ./data --projections-out clients.jsonl
  cat events.jsonl | processor local --input - --quiet > deliveries.jsonl

Exit codes:
  0  success, even if some lines were quarantined
  1  runtime failure: input, log or store I/O, a damaged or busy store
  2  usage error: unknown flag or invalid value")]
pub struct LocalArgs {
    /// Raw records, one JSON object per line; `-` reads stdin.
    #[arg(long, short, value_name = "FILE|-")]
    pub input: PathBuf,

    /// Directory of the log, the database and the quarantine; created if missing.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./data",
        env = "PRESENCE_STORE"
    )]
    pub store: PathBuf,

    /// Write every client's projection (all of the store's clients, not only this run's) to
    /// FILE, one JSON object per line, sorted by clientId.
    #[arg(long, value_name = "FILE")]
    pub projections_out: Option<PathBuf>,

    /// Records per batch: each batch is one log append (fsynced before it is folded) and one bulk
    /// load of the keys it touches. The database is committed every 2 seconds and at the end,
    /// whatever the batch size; after a crash the next run refolds the log from the last commit.
    #[arg(long, value_name = "N", default_value_t = 65536, env = "PRESENCE_BATCH_SIZE",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_size: u64,

    /// How records are folded.
    #[command(flatten)]
    pub fold: FoldFlags,

    /// How long routed event ids are remembered, before the newest event time, to skip
    /// duplicates' deliveries (Kinesis keeps records 24 h by default).
    #[arg(long, value_name = "DURATION", default_value = "24h",
          env = "PRESENCE_ROUTED_RETENTION", value_parser = parse_duration_ms)]
    pub routed_retention: u64,

    /// No per-line reports (quarantined lines) and no progress bar; the summary is still printed.
    #[arg(long, short)]
    pub quiet: bool,

    /// Start a new log segment once the current one reaches this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = embedded_store::log::DEFAULT_SEGMENT_BYTES,
          hide = true)]
    pub segment_bytes: u64,
}
