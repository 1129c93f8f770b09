//! Progress on long runs and the summary at the end.
//!
//! The bar (indicatif, on stderr) is shown only when stderr is a terminal and `--quiet` is not
//! given: bytes read of the known total, its rate and ETA, events and events/s. The summary line
//! is always printed.

use crate::source::Meter;
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt;
use std::io::{self, IsTerminal};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A progress bar, or nothing when nobody is watching.
pub struct Progress {
    bar: Option<ProgressBar>,
    meter: Meter,
    started: Instant,
}

impl Progress {
    /// Starts showing progress of `meter` (unless `quiet` or stderr is not a terminal).
    pub fn start(meter: Meter, quiet: bool) -> Self {
        let bar = (!quiet && io::stderr().is_terminal()).then(|| {
            let bar = match meter.total {
                Some(total) => ProgressBar::new(total),
                None => ProgressBar::no_length(),
            };
            let template = if meter.total.is_some() {
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}"
            } else {
                "{spinner} {bytes} {bytes_per_sec} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            meter,
            started: Instant::now(),
        }
    }

    /// Updates the bar with the events folded so far. Cheap enough to call every batch.
    pub fn update(&self, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(self.meter.read.load(Ordering::Relaxed));
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!(
                "{events} events, {:.0} events/s",
                events as f64 / secs
            ));
        }
    }

    /// Prints a line above the bar (or plainly, without one).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// What a run did, printed at its end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Records folded (or converted).
    pub events: u64,
    /// Records read but outside `--since` / `--until`.
    pub outside_window: u64,
    /// Corrupt records reported and skipped.
    pub corrupt: u64,
    /// Clients written (restricted by `--client`), when projections were derived.
    pub clients: Option<usize>,
    /// Of those, online ones.
    pub online: usize,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replay: {} events", self.events)?;
        if self.outside_window > 0 {
            write!(f, " ({} outside the time window)", self.outside_window)?;
        }
        if let Some(clients) = self.clients {
            let s = if clients == 1 { "" } else { "s" };
            write!(f, ", {clients} client{s}, {} online", self.online)?;
        }
        write!(f, ", {} corrupt skipped", self.corrupt)?;
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            ", {secs:.2} s, {:.0} events/s",
            self.events as f64 / secs.max(1e-6)
        )
    }
}
