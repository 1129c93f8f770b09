//! What a run did that is probably not what was meant: a source with no records, a window no
//! record can be in, a client with no events. Said on stderr as `warning: ...`, once each, even
//! with `--quiet` (which silences per-record reports, not these); the run still succeeds.

use crate::cli::Input;
use crate::progress::Summary;
use projections::World;
use schemas::time::Rfc3339;

/// Prints a warning.
pub fn warn(message: &str) {
    eprintln!("warning: {message}");
}

/// Before reading: a `--since` after `--until` leaves an empty window.
pub fn window(input: &Input) {
    if let (Some(since), Some(until)) = (input.since, input.until) {
        if since > until {
            warn(&format!(
                "--since {} is after --until {}: no record can be in the window",
                Rfc3339(since),
                Rfc3339(until)
            ));
        }
    }
}

/// After reading: nothing was folded, and why.
pub fn nothing_read(input: &Input, summary: &Summary) {
    if summary.events > 0 {
        return;
    }
    let from = &input.from;
    if summary.outside_window > 0 {
        warn(&format!(
            "none of the {} records of {from} is in the time window",
            summary.outside_window
        ));
    } else if summary.corrupt > 0 {
        warn(&format!(
            "{from} holds no good record ({} corrupt)",
            summary.corrupt
        ));
    } else {
        warn(&format!("{from} holds no records"));
    }
}

/// A client asked for (`--client`) that has no events in the source and window, with a client
/// of the same name in another case if there is one.
pub fn no_such_client(world: &World, client: &str) {
    let mut message = format!("no events about client {client:?} in the source and window");
    if let Some(near) = did_you_mean(world.client_ids(), client) {
        message.push_str(&format!("; did you mean {near:?}?"));
    }
    warn(&message);
}

/// A client id equal to `wanted` but for case.
pub fn did_you_mean<'a>(ids: impl IntoIterator<Item = &'a str>, wanted: &str) -> Option<&'a str> {
    ids.into_iter()
        .find(|id| *id != wanted && id.eq_ignore_ascii_case(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_a_client_that_differs_only_in_case() {
        let ids = ["alice", "Bob", "carol"];
        assert_eq!(did_you_mean(ids, "bob"), Some("Bob"));
        assert_eq!(did_you_mean(ids, "ALICE"), Some("alice"));
        assert_eq!(did_you_mean(ids, "dave"), None);
        assert_eq!(did_you_mean(ids, "Bob"), None, "itself is no suggestion");
    }
}
