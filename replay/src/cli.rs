//! The command line: `replay rebuild | explain | diff | convert`, with clap derive. The `--help`
//! text is written to teach: what each source and sink is, with examples.

use crate::sink::SinkSpec;
use crate::source::SourceSpec;
use clap::{Args, Parser, Subcommand, ValueEnum};
use fold_flags::FoldFlags;
use schemas::time::parse_time;
use std::path::PathBuf;

/// Rebuild presence projections from archived events, and explain a client's timeline.
///
/// Replay reads the raw records the stream carried (a local archive: JSON lines, Firehose's
/// concatenated JSON, or `processor local`'s MessagePack log, any of them gzipped, records bare
/// or wrapped in Kinesis metadata) and folds them with the same pure fold as the processor, so it
/// derives the same projections. Replay never sends a delivery: it has no delivery sink at all.
#[derive(Debug, Parser)]
#[command(
    name = "replay",
    version,
    after_help = "\
Exit codes:
  0  success, even if corrupt records were skipped
  1  runtime failure: unreadable input, a failed sink, or a corrupt record with --strict
  1  (replay diff) the replayed projections differ from the live table
  2  usage error: unknown flag or invalid value"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fold an archive into projections and write them to a sink.
    ///
    /// Folds every record of SRC, in arrival order, with the processor's own fold into a complete
    /// in-memory world, and writes the projections to SINK. Replay never sends a delivery: the
    /// deliveries the fold decides are dropped, since replay has no delivery sink. The archive is
    /// streamed, never loaded: memory follows the number of clients, connections and rooms and
    /// their sessions of the last day of event time (older closed sessions are compacted, as the
    /// processor compacts them), not the archive's length.
    ///
    /// `--until` gives the projections as the processor had them at TIME: the records that had
    /// arrived on the stream by then, in arrival order. The arrival time is Kinesis's
    /// (`kinesis://`, and Kinesis-wrapped archives keep it); a bare record carries none, and its
    /// event time stands in (for presence the two agree up to IoT's clock skew of about 2
    /// minutes). `--event-time` gives the event-time view instead: every record whose event time
    /// is at or before TIME, whenever it arrived. `--since` drops records from before TIME, by the
    /// same clock, so the result is the projections of that window alone.
    Rebuild(RebuildArgs),
    /// One client's timeline, and why.
    ///
    /// Every event about the client (its lifecycle events, records of its WebSocket connections,
    /// messages that caused deliveries to it), in arrival order, with its event time, the state
    /// after it (connected, online, current session, topics), the presence rule's reasoning (T,
    /// the horizon, the candidate sessions and why the winner won), and the deliveries each
    /// message would have caused (socket or push, and why). Nothing is sent.
    Explain(ExplainArgs),
    /// Compare replayed projections with the live DynamoDB table, client by client.
    ///
    /// Folds SRC as `rebuild` does, reads every projection entry of the live table (a Scan of
    /// its `state` items, decoded with the processor's own item format), and compares the two
    /// views of every client: how many are equal, different, only replayed (missing live) and
    /// only live (missing in the replay), then the first differing clients field by field.
    /// Exit code 0 when everything is equal, 1 when anything differs.
    Diff(DiffArgs),
    /// Convert an archive (any supported format) to MessagePack frames.
    ///
    /// Reads any supported source and writes its records, in arrival order, as MessagePack frames
    /// (the format of `processor local`'s log): compact, checksummed and the fastest to replay.
    /// Corrupt records are reported and left out (or stop the run with `--strict`).
    Convert(ConvertArgs),
}

/// Flags every folding subcommand shares: the source, the time window, the fold's settings.
#[derive(Debug, Clone, Args)]
pub struct Input {
    /// The archive: a file, a directory (read recursively in sorted path order), a
    /// `processor local` store directory (its `log/` is read), `s3://bucket/prefix` (a Firehose
    /// archive in its `YYYY/MM/DD/HH/` layout; objects chosen by --since/--until) or
    /// `kinesis://stream` (every shard from --since, or from the oldest record kept).
    #[arg(long, value_name = "SRC")]
    pub from: SourceSpec,

    /// The AWS endpoint for `s3://`, `kinesis://` and `dynamodb://` (an emulator, e.g.
    /// `http://127.0.0.1:5000`; S3 is then addressed path-style). Credentials and region come
    /// from the SDK's default chain (environment, profile, instance role).
    #[arg(long, value_name = "URL", env = "REPLAY_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// Skip records that arrived before TIME (RFC 3339 or epoch ms); see --until for the clock.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<u64>,

    /// The projections as they were at TIME: only records that had arrived by TIME are folded,
    /// in arrival order. The arrival time is Kinesis's where the source keeps it (`kinesis://`,
    /// Kinesis-wrapped archives), else the record's event time. RFC 3339 or epoch ms.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<u64>,

    /// Cut --since/--until by event time instead (the event-time view): a record is folded iff
    /// its own timestamp is in the window, whenever it arrived; arrival order is still kept.
    #[arg(long)]
    pub event_time: bool,

    /// Stop at the first corrupt record (exit code 1) instead of reporting, skipping and
    /// counting it.
    #[arg(long)]
    pub strict: bool,

    /// No per-record reports and no progress bar; the summary is still printed.
    #[arg(long, short)]
    pub quiet: bool,

    /// How records are folded (must match what the processor used).
    #[command(flatten)]
    pub fold: FoldFlags,
}

impl Input {
    /// The time the window is cut by: the record's arrival where known (unless `--event-time`),
    /// else its event time.
    pub fn clock(&self, event_time: u64, arrived: Option<u64>) -> u64 {
        match arrived {
            Some(at) if !self.event_time => at,
            _ => event_time,
        }
    }

    /// Whether a record at `time` (see [`Input::clock`]) is in the window.
    pub fn in_window(&self, time: u64) -> bool {
        self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time <= u)
    }
}

/// The flags of `replay rebuild` (its help is on [`Command::Rebuild`]).
#[derive(Debug, Args)]
#[command(after_help = "\
Sources (--from):
  events.jsonl                 JSON lines, one raw record per line
  firehose/2024/11/23/         a directory of Firehose objects (concatenated JSON, maybe .gz)
  data/                        a processor local store: its log/ of MessagePack frames
  archive.frames.gz            MessagePack frames, gzipped (detected by content, not name)
  lambda-event.json            records wrapped as Kinesis event records (kinesis.data, base64)
  s3://bucket/firehose/        a Firehose archive in S3 (objects chosen by --since/--until)
  kinesis://raw-events         the stream, every shard from --since (or its oldest record)

Sinks (--to):
  jsonl:clients.jsonl          one client projection per line, sorted by clientId
  jsonl:-                      the same on stdout
  store:./rebuilt              processor local's embedded store (a new directory)
  dynamodb://table             the processor's table (idempotent: unchanged items are skipped)

Examples:
  replay rebuild --from firehose/ --to jsonl:- --client sensor-7
  replay rebuild --from s3://archive/firehose/ --to dynamodb://presence --client sensor-7
  replay rebuild --from data/ --to jsonl:at-1042.jsonl --until 2024-11-23T10:42:00Z
  replay rebuild --from archive/ --to store:./rebuilt && \\
    processor local --input /dev/null --store ./rebuilt --projections-out clients.jsonl")]
pub struct RebuildArgs {
    /// Source, window and fold settings.
    #[command(flatten)]
    pub input: Input,

    /// Where the projections go: `jsonl:PATH`, `jsonl:-`, `store:DIR` or `dynamodb://table`.
    #[arg(long, value_name = "SINK")]
    pub to: SinkSpec,

    /// Output only these clients (repeatable). Everything is still folded, since a client's
    /// projection depends on its connections and rooms. With `dynamodb://`, only the clients'
    /// own items are written (their `client#` and their connections' `conn#` items), to repair
    /// them in a live table; shared items (rooms, lobby) are left alone. Not with `store:`.
    #[arg(long = "client", value_name = "ID")]
    pub clients: Vec<String>,
}

/// The flags of `replay explain` (its help is on [`Command::Explain`]).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  replay explain --from data/ --client sensor-7
  replay explain --from firehose/ --client bob --until 2024-11-23T10:42:00Z --format json | jq .
  replay explain --from events.jsonl --client bob --html bob.html")]
pub struct ExplainArgs {
    /// Source, window and fold settings.
    #[command(flatten)]
    pub input: Input,

    /// The client to explain.
    #[arg(long, value_name = "ID")]
    pub client: String,

    /// `text` for people, `json` for one JSON object per event.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Also write one self-contained HTML page (inline CSS and SVG, no scripts, no external
    /// assets): a timeline chart of sessions, online intervals and deliveries, and the events.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Output formats of `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable blocks, one per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// The flags of `replay diff` (its help is on [`Command::Diff`]).
#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes (diff):
  0  every client's replayed projection equals the live one
  1  some differ or are missing on one side (the report is on stdout), or the run failed
  2  usage error

Examples:
  replay diff --from s3://archive/firehose/2024/11/23/ --table presence
  replay diff --from kinesis://raw-events --table dynamodb://presence --show 3")]
pub struct DiffArgs {
    /// Source, window and fold settings.
    #[command(flatten)]
    pub input: Input,

    /// The live table: `NAME` or `dynamodb://NAME`.
    #[arg(long, value_name = "TABLE")]
    pub table: String,

    /// How many differing clients to show field by field.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub show: usize,
}

/// The flags of `replay convert` (its help is on [`Command::Convert`]).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  replay convert --from firehose/2024/11/ --to archive.frames
  replay convert --from events.jsonl --to archive.frames.gz --gzip")]
pub struct ConvertArgs {
    /// Source, window and fold settings (the window applies; the fold settings are unused).
    #[command(flatten)]
    pub input: Input,

    /// The frames file to write (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,

    /// Gzip the output.
    #[arg(long)]
    pub gzip: bool,
}
