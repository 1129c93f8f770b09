//! How the command-line tools report: an error as what failed, then each cause once; and
//! per-record reports (a corrupt or quarantined record) one by one up to [`MAX_REPORTS`], the
//! rest counted.
//!
//! Errors here carry their cause twice over: as text in their own message (so that a log line
//! or a `Display` alone says why) and as their `source()`. Printing the whole chain would then
//! say the cause twice (`input x: No such file or directory (os error 2): No such file or
//! directory (os error 2)`); [`error_chain`] leaves out a cause the text before it already says.

use std::error::Error;

/// At most this many records are reported one by one by `processor local` and `replay`; the
/// summary counts them all.
pub const MAX_REPORTS: u64 = 100;

/// Per-record reports of one kind: the first [`MAX_REPORTS`] shown, the rest counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reports {
    seen: u64,
}

impl Reports {
    /// Counts a report; whether it is to be shown.
    pub fn show(&mut self) -> bool {
        self.seen += 1;
        self.seen <= MAX_REPORTS
    }

    /// How many reports were counted.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The line that says how many `what` were not shown, if any were not.
    pub fn unshown(&self, what: &str) -> Option<String> {
        (self.seen > MAX_REPORTS).then(|| {
            format!(
                "{} more {what} were not shown one by one",
                self.seen - MAX_REPORTS
            )
        })
    }
}

/// The error and its causes, `: `-separated, each said once.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_first_reports_and_counts_the_rest() {
        let mut reports = Reports::default();
        assert_eq!(reports.unshown("corrupt records"), None);
        let shown = (0..MAX_REPORTS + 7).filter(|_| reports.show()).count() as u64;
        assert_eq!(shown, MAX_REPORTS);
        assert_eq!(reports.seen(), MAX_REPORTS + 7);
        assert_eq!(
            reports.unshown("corrupt records").as_deref(),
            Some("7 more corrupt records were not shown one by one")
        );
    }
    use std::fmt;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<dyn Error + 'static>>);

    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrap {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref()
        }
    }

    #[test]
    fn a_cause_already_said_is_not_said_again() {
        let io = Wrap("No such file or directory (os error 2)", None);
        let input = Wrap(
            "input x.jsonl: No such file or directory (os error 2)",
            Some(Box::new(io)),
        );
        let top = Wrap("reading the input", Some(Box::new(input)));
        assert_eq!(
            error_chain(&top),
            "reading the input: input x.jsonl: No such file or directory (os error 2)"
        );
        let bare = Wrap("store busy", Some(Box::new(Wrap("locked", None))));
        assert_eq!(error_chain(&bare), "store busy: locked");
    }
}
