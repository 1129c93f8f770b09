//! Reading a source for a subcommand: records in arrival order through the time window, corrupt
//! records reported (or, with `--strict`, fatal), progress shown, counts kept.

use crate::cli::Input;
use crate::error::Error;
use crate::progress::{Progress, Summary};
use crate::source::reader::{self, Batch};
use crate::source::{self, ArchiveError, Position};
use crate::warnings;
use fold_flags::report::Reports;
use schemas::Record;
use std::collections::VecDeque;
use std::sync::Arc;

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
    each_batch(input, |batch, window| {
        for &i in window {
            let (record, position) = &batch.records[i as usize];
            each(record, *position)?;
        }
        Ok(())
    })
}

/// Reads `input`'s source and calls `each` with every batch read, shared, and the indices of its
/// records in the window, in arrival order. Corrupt records of a batch are reported before it is
/// handed on.
///
/// A caller may keep a clone of the batch (to fold some of it on another thread) for as long as
/// it needs: a batch goes back to the reading thread, to be emptied and reused there, once the
/// caller has let go of it. Its records are thus freed on the thread that allocated them, which
/// is cheaper than freeing them from another.
///
/// # Errors
/// As [`each_record`].
pub fn each_batch(
    input: &Input,
    mut each: impl FnMut(&Arc<Batch>, &[u32]) -> Result<(), Error>,
) -> Result<Pass, Error> {
    warnings::window(input);
    let source = source::open(input)?;
    let files = source.files().to_vec();
    let progress = Progress::start(source.meter(), input.quiet);
    let reader = reader::spawn(source);
    let mut summary = Summary::default();
    let mut reports = Reports::default();
    // Batches handed on and maybe still held by the caller, oldest first.
    let mut lent: VecDeque<Arc<Batch>> = VecDeque::new();
    let mut window = Vec::with_capacity(reader::BATCH);
    let result = (|| -> Result<(), Error> {
        while let Some(mut batch) = reader.next_batch() {
            for e in std::mem::take(&mut batch.errors) {
                report(e, input, &progress, &mut reports, &mut summary)?;
            }
            window.clear();
            for (i, (record, position)) in batch.records.iter().enumerate() {
                if input.in_window(input.clock(record.event_time(), position.arrived)) {
                    window.push(i as u32);
                } else {
                    summary.outside_window += 1;
                }
            }
            summary.events += window.len() as u64;
            let batch = Arc::new(batch);
            each(&batch, &window)?;
            lent.push_back(batch);
            // The caller lets go of batches in order.
            while lent.front().is_some_and(|b| Arc::strong_count(b) == 1) {
                if let Some(batch) = lent.pop_front().and_then(Arc::into_inner) {
                    reader.give_back(batch);
                }
            }
            progress.update(summary.events);
        }
        Ok(())
    })();
    progress.finish();
    result?;
    if let Some(line) = reports.unshown("corrupt records").filter(|_| !input.quiet) {
        eprintln!("{line}");
    }
    summary.elapsed = progress.elapsed();
    warnings::nothing_read(input, &summary);
    Ok(Pass { summary, files })
}

/// Reports a corrupt record (or stops, with `--strict`); any other error is fatal.
fn report(
    e: ArchiveError,
    input: &Input,
    progress: &Progress,
    reports: &mut Reports,
    summary: &mut Summary,
) -> Result<(), Error> {
    match e {
        ArchiveError::Corrupt(c) if input.strict => Err(Error::Strict(c.clone())),
        ArchiveError::Corrupt(c) => {
            summary.corrupt += 1;
            if reports.show() && !input.quiet {
                progress.println(&format!("corrupt record skipped: {c}"));
            }
            Ok(())
        }
        ArchiveError::Io { path, source } => Err(Error::Source(ArchiveError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        })),
        ArchiveError::Aws { op, message } => Err(Error::Source(ArchiveError::Aws { op, message })),
    }
}
