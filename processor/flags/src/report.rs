//! How the command-line tools word an error: what failed, then each cause once.
//!
//! Errors here carry their cause twice over: as text in their own message (so that a log line
//! or a `Display` alone says why) and as their `source()`. Printing the whole chain would then
//! say the cause twice (`input x: No such file or directory (os error 2): No such file or
//! directory (os error 2)`); [`error_chain`] leaves out a cause the text before it already says.

use std::error::Error;

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
