//! Ingest: read the input, decode it, quarantine bad lines and append good records to the log,
//! one batch at a time, on its own thread, so it overlaps with folding and committing the batch
//! before (the machine this must run fast on has two cores).
//!
//! A batch is handed over only after its frames are synced to the log and its bad lines to the
//! quarantine, so the store never commits a position the log could lose.

use crate::local::input::{InputError, Lines};
use embedded_store::log::{Log, LogError};
use embedded_store::quarantine::{Quarantine, QuarantineFileError};
use fold_flags::report::Reports;
use schemas::Record;
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::{self, JoinHandle};

/// Batches decoded ahead of the fold: one being folded, one ready, one being read.
const AHEAD: usize = 1;

/// One batch of good records, in arrival order, already in the log.
#[derive(Debug)]
pub struct Batch {
    /// The records.
    pub records: Vec<Record>,
    /// The log position just after them.
    pub log_position: u64,
}

/// Why ingest stopped early.
#[derive(Debug, thiserror::Error)]
pub enum LocalIngestError {
    /// Reading the input failed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Appending to the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Writing the quarantine failed.
    #[error(transparent)]
    Quarantine(#[from] QuarantineFileError),
}

/// What ingest did, when it finished.
#[derive(Debug)]
pub struct Ingested {
    /// The quarantine, for its count and path.
    pub quarantine: Quarantine,
}

/// How ingest runs.
pub struct Options {
    /// Good records per batch.
    pub batch_size: usize,
    /// No per-line reports.
    pub quiet: bool,
    /// Updated with the bytes read.
    pub progress: Option<indicatif::ProgressBar>,
}

/// Starts ingest on its own thread. Batches arrive on the receiver in input order; the channel
/// closes at the end of the input or on an error, which the handle returns. Dropping the receiver
/// stops ingest at its next batch.
pub fn spawn(
    mut lines: Lines,
    mut quarantine: Quarantine,
    mut log: Log,
    options: Options,
) -> (
    Receiver<Batch>,
    JoinHandle<Result<Ingested, LocalIngestError>>,
) {
    let (tx, rx) = sync_channel::<Batch>(AHEAD);
    let handle = thread::spawn(move || {
        let name = lines.name().to_owned();
        let mut reports = Reports::default();
        loop {
            let mut records = Vec::with_capacity(options.batch_size);
            let more = read_batch(
                &mut lines,
                &name,
                &mut records,
                options.batch_size,
                &mut quarantine,
                &mut Reporter {
                    quiet: options.quiet,
                    progress: options.progress.as_ref(),
                    reports: &mut reports,
                },
            )?;
            if let Some(bar) = &options.progress {
                bar.set_position(lines.bytes_read());
            }
            if !records.is_empty() {
                let log_position = log.append(&records)?;
                quarantine.flush()?;
                if tx
                    .send(Batch {
                        records,
                        log_position,
                    })
                    .is_err()
                {
                    // The fold stopped; its error is the one to report.
                    break;
                }
            }
            if !more {
                break;
            }
        }
        quarantine.flush()?;
        if let Some(line) = reports
            .unshown("quarantined lines")
            .filter(|_| !options.quiet)
        {
            eprintln!("{line}");
        }
        Ok(Ingested { quarantine })
    });
    (rx, handle)
}

/// Where a quarantined line is reported: above the progress bar, if there is one; the first
/// [`fold_flags::report::MAX_REPORTS`] only; none with `--quiet`.
struct Reporter<'a> {
    quiet: bool,
    progress: Option<&'a indicatif::ProgressBar>,
    reports: &'a mut Reports,
}

impl Reporter<'_> {
    fn say(&mut self, line: impl FnOnce() -> String) {
        if !self.reports.show() || self.quiet {
            return;
        }
        match self.progress {
            Some(bar) => bar.println(line()),
            None => eprintln!("{}", line()),
        }
    }
}

/// Reads up to `max` good records into `batch`, quarantining bad lines and skipping blank ones.
/// Returns whether the input may have more.
fn read_batch(
    lines: &mut Lines,
    name: &str,
    batch: &mut Vec<Record>,
    max: usize,
    quarantine: &mut Quarantine,
    reporter: &mut Reporter<'_>,
) -> Result<bool, LocalIngestError> {
    while batch.len() < max {
        let Some((number, line)) = lines.next_line()? else {
            return Ok(false);
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match schemas::decode_json(line) {
            Ok(record) => batch.push(record),
            Err(e) => {
                let reason = e.to_string();
                reporter.say(|| format!("{name}:{number}: quarantined: {reason}"));
                quarantine.add(number, line, &reason)?;
            }
        }
    }
    Ok(true)
}
