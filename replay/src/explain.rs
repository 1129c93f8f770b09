//! `replay explain`: one client's timeline ([`explain::Timeline`]), built while folding the whole
//! archive, printed as text or JSON and with `--html` written as a page; each step names the file
//! and the place in it its record came from.

use crate::cli::{ExplainArgs, Format};
use crate::error::Error;
use crate::output::Output;
use crate::progress::Summary;
use crate::source::Position;
use crate::stream::each_record;
use crate::warnings;
use explain::{html, text, Step, Timeline};
use std::io::{self, Write};

/// Runs `replay explain`.
///
/// # Errors
/// Source, output and `--strict` failures.
pub fn run(args: &ExplainArgs) -> Result<Summary, Error> {
    let html_error = |path: &std::path::Path| {
        let path = path.to_owned();
        move |source| Error::Output { path, source }
    };
    // Checked before the fold: a path that cannot be written fails now, not after it.
    let page = match &args.html {
        Some(path) => Some(Output::open(path).map_err(html_error(path))?),
        None => None,
    };
    let (steps, mut summary) = timeline(args)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let err = |source| Error::Output {
        path: "-".into(),
        source,
    };
    match args.format {
        Format::Text => text::write_text(&mut out, &args.client, &steps).map_err(err)?,
        Format::Json => text::write_json(&mut out, &steps).map_err(err)?,
    }
    out.flush().map_err(err)?;
    match page {
        // No page about nothing: the warning said why.
        Some(page) if steps.is_empty() => page.abandon(),
        Some(mut page) => {
            let html = html::page(&args.client, &steps, args.input.until);
            page.write_with(|out| out.write_all(html.as_bytes()))
                .map_err(html_error(page.path()))?;
        }
        None => {}
    }
    summary.clients = Some(usize::from(!steps.is_empty()));
    summary.online = usize::from(
        steps
            .last()
            .and_then(|s| s.state.as_ref())
            .is_some_and(|s| s.online),
    );
    Ok(summary)
}

/// Folds the archive and collects the client's steps.
///
/// # Errors
/// Source and `--strict` failures.
pub fn timeline(args: &ExplainArgs) -> Result<(Vec<Step>, Summary), Error> {
    let mut timeline = Timeline::new(args.input.fold.config(), &args.client);
    let mut positions = Vec::new();
    let pass = each_record(&args.input, |record, position| {
        if timeline.record(record).is_some() {
            positions.push(position);
        }
        Ok(())
    })?;
    if timeline.steps().is_empty() && pass.summary.events > 0 {
        warnings::no_such_client(timeline.world(), &args.client);
    }
    let mut steps = timeline.take_steps();
    for (step, position) in steps.iter_mut().zip(positions) {
        step.source = describe(&pass.files, position);
    }
    // Freeing a whole world's small allocations one by one is a noticeable part of a run, and
    // the process is about to exit, which frees it all at once.
    std::mem::forget(timeline);
    Ok((steps, pass.summary))
}

fn describe(files: &[String], position: Position) -> String {
    let file = files
        .get(position.file as usize)
        .map_or("?", String::as_str);
    format!("{file} ({})", position.at)
}
