//! Reading a source for a subcommand: records in arrival order through the time window, corrupt
//! records reported (or, with `--strict`, fatal), progress shown, counts kept.

use crate::cli::Input;
use crate::error::Error;
use crate::progress::{Progress, Summary};
use crate::source::{self, reader, Position, SourceError};
use schemas::Record;

/// At most this many corrupt records are reported one by one; the summary counts them all.
const MAX_REPORTS: u64 = 100;

/// What a pass over a source found.
#[derive(Debug)]
pub struct Pass {
    /// Counts and time, for the summary (clients are filled in by the caller).
    pub summary: Summary,
    /// The source's file names, which [`Position::file`] indexes.
    pub files: Vec<String>,
}

/// Reads `input`'s source and calls `each` with every record in the window, in arrival order.
///
/// # Errors
/// The source cannot be opened or read, `--strict` met a corrupt record, or `each` failed.
pub fn each_record(
    input: &Input,
    mut each: impl FnMut(&Record, Position) -> Result<(), Error>,
) -> Result<Pass, Error> {
    let source = source::open(input)?;
    let files = source.files().to_vec();
    let progress = Progress::start(source.meter(), input.quiet);
    let reader = reader::spawn(source);
    let mut summary = Summary::default();
    let result = (|| -> Result<(), Error> {
        while let Some(mut batch) = reader.next_batch() {
            let mut errors = std::mem::take(&mut batch.errors).into_iter().peekable();
            for (i, (record, position)) in batch.records.iter().enumerate() {
                while let Some((_, e)) = errors.next_if(|(at, _)| *at <= i) {
                    report(e, input, &progress, &mut summary)?;
                }
                if input.in_window(input.clock(record.event_time(), position.arrived)) {
                    summary.events += 1;
                    each(record, *position)?;
                } else {
                    summary.outside_window += 1;
                }
            }
            for (_, e) in errors {
                report(e, input, &progress, &mut summary)?;
            }
            reader.give_back(batch);
            progress.update(summary.events);
        }
        Ok(())
    })();
    progress.finish();
    result?;
    if summary.corrupt > MAX_REPORTS && !input.quiet {
        eprintln!(
            "{} more corrupt records were not shown one by one",
            summary.corrupt - MAX_REPORTS
        );
    }
    summary.elapsed = progress.elapsed();
    Ok(Pass { summary, files })
}

/// Reports a corrupt record (or stops, with `--strict`); any other error is fatal.
fn report(
    e: SourceError,
    input: &Input,
    progress: &Progress,
    summary: &mut Summary,
) -> Result<(), Error> {
    match e {
        SourceError::Corrupt(c) if input.strict => Err(Error::Strict(c.clone())),
        SourceError::Corrupt(c) => {
            summary.corrupt += 1;
            if !input.quiet && summary.corrupt <= MAX_REPORTS {
                progress.println(&format!("corrupt record skipped: {c}"));
            }
            Ok(())
        }
        SourceError::Io { path, source } => Err(Error::Source(SourceError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        })),
        SourceError::Aws { op, message } => Err(Error::Source(SourceError::Aws { op, message })),
    }
}
