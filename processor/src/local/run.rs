//! `processor local`, end to end: open the store and the log, fold what an earlier run logged but
//! did not commit, then read the input batch by batch, and finish with the projections file and
//! the summary.

use crate::local::cli::LocalArgs;
use crate::local::ingest;
use crate::local::input::Lines;
use anyhow::{Context, Result};
use embedded_store::deliveries::{Deliveries, JsonLines};
use embedded_store::log::{Log, LogReader};
use embedded_store::pipeline::Pipeline;
use embedded_store::quarantine::Quarantine;
use embedded_store::redb_store::RedbStore;
use embedded_store::store::ProjectionStore;
use embedded_store::summary::Summary;
use embedded_store::{DB_FILE, LOG_DIR};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Instant;

/// Runs `processor local` with `args`, writing deliveries to stdout and reports to stderr.
///
/// # Errors
/// Input, log, store or output failures (exit code 1). Bad input lines are not errors: they are
/// quarantined.
pub fn run(args: &LocalArgs) -> Result<Summary> {
    let started = Instant::now();
    let dir = &args.store;
    // A missing input makes no store.
    let lines = Lines::open(&args.input)?;
    embedded_store::dir::store_dir(dir)?;
    let store = RedbStore::open(&dir.join(DB_FILE))?;
    let committed = store.log_position()?;
    let opened = Log::open(&dir.join(LOG_DIR), committed, args.segment_bytes)?;
    let log = opened.log;
    if opened.truncated > 0 {
        eprintln!(
            "log: cut {} bytes of a torn write at the end of the log (never committed)",
            opened.truncated
        );
    }
    let mut pipeline = Pipeline::new(store, args.fold.config(), args.routed_retention);
    let mut summary = Summary::default();
    let stdout = io::stdout();
    let mut out = JsonLines(BufWriter::with_capacity(1 << 16, stdout.lock()));
    let batch_size = usize::try_from(args.batch_size).unwrap_or(usize::MAX);

    // A previous run logged these records but stopped before committing their batch.
    if log.end() > committed {
        let mut batch = Vec::with_capacity(batch_size);
        let mut position = committed;
        for item in LogReader::open(log.dir(), committed)? {
            let (record, after) = item?;
            batch.push(record);
            position = after;
            if batch.len() == batch_size {
                pipeline.fold_batch(&batch, position, &mut out, &mut summary)?;
                summary.recovered += batch.len() as u64;
                batch.clear();
            }
        }
        pipeline.fold_batch(&batch, position, &mut out, &mut summary)?;
        summary.recovered += batch.len() as u64;
        eprintln!(
            "log: folded {} records an earlier run had logged but not committed",
            summary.recovered
        );
    }

    let quarantine = Quarantine::new(dir, lines.name());
    let progress = progress_bar(args, &lines);
    let options = ingest::Options {
        batch_size,
        quiet: args.quiet,
        progress: progress.clone(),
    };
    let (batches, ingest) = ingest::spawn(lines, quarantine, log, options);
    let mut folded = Ok(());
    for batch in &batches {
        folded = pipeline.fold_batch(&batch.records, batch.log_position, &mut out, &mut summary);
        if folded.is_err() {
            break;
        }
        summary.events += batch.records.len() as u64;
        if let Some(bar) = &progress {
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{} events, {:.0} events/s",
                summary.events,
                summary.events as f64 / secs
            ));
        }
    }
    // Stop ingest before waiting for it, if the fold failed.
    drop(batches);
    let ingested = ingest
        .join()
        .map_err(|_| anyhow::anyhow!("the ingest thread panicked"))?;
    folded?;
    let quarantine = ingested?.quarantine;
    if let Some(bar) = &progress {
        bar.set_message(format!("{} events, committing", summary.events));
    }
    pipeline.sync()?;
    out.flush().context("writing deliveries to stdout")?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    summary.quarantined = quarantine.count();
    summary.elapsed = started.elapsed();

    let clients = pipeline.all_clients()?;
    summary.clients = clients.len();
    summary.online = clients.iter().filter(|c| c.online).count();
    if let Some(path) = &args.projections_out {
        let file = File::create(path)
            .with_context(|| format!("creating the projections file {}", path.display()))?;
        let mut w = BufWriter::new(file);
        for client in &clients {
            serde_json::to_writer(&mut w, client)?;
            w.write_all(b"\n")?;
        }
        w.flush()
            .with_context(|| format!("writing the projections file {}", path.display()))?;
    }
    if summary.quarantined > 0 && !args.quiet {
        eprintln!(
            "{} lines quarantined in {}",
            summary.quarantined,
            quarantine.path().display()
        );
    }
    drop(pipeline.finish());
    Ok(summary)
}

/// A progress bar on stderr, for a file of known size when someone is watching: bytes read of
/// the total, their rate and the time left, then events folded and their rate, and `committing`
/// while the last batch is made durable.
fn progress_bar(args: &LocalArgs, lines: &Lines) -> Option<indicatif::ProgressBar> {
    let size = lines.size().filter(|s| *s > 0)?;
    if args.quiet || !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}
