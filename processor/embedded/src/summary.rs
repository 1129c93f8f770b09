//! The end-of-run summary: what a run did and what it cost, printed on stderr.

use std::fmt;
use std::time::Duration;

/// Delivery channels, in the order the summary lists them.
pub const CHANNELS: [&str; 3] = ["websocket", "mqtt", "push"];

/// Counts and timings of one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Records from the input that were folded.
    pub events: u64,
    /// Records from the log, written by an earlier run that stopped before committing them.
    pub recovered: u64,
    /// Input lines quarantined.
    pub quarantined: u64,
    /// Deliveries printed, by channel (see [`CHANNELS`]).
    pub deliveries: [u64; 3],
    /// Deliveries not printed because their event had already been routed.
    pub duplicates: u64,
    /// Chat deliveries made to clients whose leave, folded after the message, came before it
    /// (`projections::World::late_leaves`).
    pub late_leaves: u64,
    /// Batches committed.
    pub batches: u64,
    /// Clients in the store after the run.
    pub clients: usize,
    /// Of those, online.
    pub online: usize,
    /// Time spent reading and folding (the rate's denominator).
    pub elapsed: Duration,
}

impl Summary {
    /// Counts a printed delivery on its channel.
    pub fn delivered(&mut self, channel: &str) {
        if let Some(i) = CHANNELS.iter().position(|c| *c == channel) {
            self.deliveries[i] += 1;
        }
    }

    /// Events folded per second of [`Summary::elapsed`].
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (self.events + self.recovered) as f64 / secs
        } else {
            0.0
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} events in {:.2} s ({:.0} events/s, {} batches)",
            self.events,
            self.elapsed.as_secs_f64(),
            self.rate(),
            self.batches
        )?;
        if self.recovered > 0 {
            write!(f, ", plus {} recovered from the log", self.recovered)?;
        }
        writeln!(f, "; {} quarantined", self.quarantined)?;
        writeln!(f, "clients: {} ({} online)", self.clients, self.online)?;
        let total: u64 = self.deliveries.iter().sum();
        write!(f, "deliveries: {total} (")?;
        for (i, (name, n)) in CHANNELS.iter().zip(self.deliveries).enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{name} {n}")?;
        }
        write!(f, ")")?;
        if self.duplicates > 0 {
            write!(f, "; {} skipped as already routed", self.duplicates)?;
        }
        if self.late_leaves > 0 {
            write!(
                f,
                "; {} to clients whose leave, before the message, came after it",
                self.late_leaves
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_count() {
        let mut s = Summary {
            events: 1000,
            quarantined: 2,
            clients: 10,
            online: 4,
            duplicates: 1,
            late_leaves: 2,
            batches: 1,
            elapsed: Duration::from_millis(500),
            ..Summary::default()
        };
        s.delivered("push");
        s.delivered("websocket");
        s.delivered("push");
        let text = s.to_string();
        assert!(
            text.contains("1000 events in 0.50 s (2000 events/s"),
            "{text}"
        );
        assert!(text.contains("2 quarantined"), "{text}");
        assert!(text.contains("clients: 10 (4 online)"), "{text}");
        assert!(
            text.contains("deliveries: 3 (websocket 1, mqtt 0, push 2); 1 skipped"),
            "{text}"
        );
        assert!(
            text.contains("; 2 to clients whose leave, before the message, came after it"),
            "{text}"
        );
    }
}
