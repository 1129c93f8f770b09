//! The sweeper: time and ghost connections on a quiet stream (docs/architecture.md, The
//! sweeper).
//!
//! API Gateway's `$disconnect` is best-effort, and the fold's now moves only with events, so a
//! connection closed without its `$disconnect` would stay live in the table until a record of its
//! own came. Each sweep, on a schedule (every minute by default):
//!
//! 1. puts a `tick` on every open shard ([`Feedback::tick_every_shard`]), so every shard's fold
//!    moves its now even when no other event comes;
//! 2. reads the open connections from the lobby (every connection's summary, one `Query` per
//!    partition);
//! 3. feeds `connection_gone` for each connection past API Gateway's two hours without asking,
//!    and asks API Gateway (`GetConnection`) about each connection that has shown no activity
//!    for `idle_after` (API Gateway's idle timeout, 10 minutes): a 410 feeds `connection_gone`.
//!
//! The records go on the stream like any other and the processor folds them, so the table shows
//! such a connection closed, and its client offline, within two sweeps of it becoming idle, and
//! replay gives the same answers. Activity is what API Gateway last reported (`lastActiveAt`,
//! pings included), remembered between sweeps in memory: a cold sweeper asks once about every
//! connection idle by its connect time, at most `max_probes` a sweep, the longest idle first.

pub mod probe;

use crate::feedback::{Feedback, FeedbackError};
use crate::store_port::{RevisionedStore, StoreError};
use futures_util::stream::{self, StreamExt};
use probe::{ConnectionProbe, Liveness};
use projections::{Entry, Key};
use schemas::ConnectionGone;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// How a sweep decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    /// Ask about a connection with no activity for this long (ms): API Gateway's idle timeout.
    pub idle_after_ms: u64,
    /// A connection older than this (ms) is gone without asking: API Gateway's maximum.
    pub max_age_ms: u64,
    /// At most this many questions a sweep; the rest wait for the next.
    pub max_probes: usize,
    /// Questions in flight at once.
    pub concurrency: usize,
}

/// API Gateway's idle timeout: 10 minutes.
pub const DEFAULT_IDLE_AFTER_MS: u64 = 10 * 60 * 1000;

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            idle_after_ms: DEFAULT_IDLE_AFTER_MS,
            max_age_ms: projections::config::DEFAULT_CONNECTION_MAX_AGE_MS,
            max_probes: 2_000,
            concurrency: 16,
        }
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Shards that got a tick.
    pub ticked: usize,
    /// Open connections in the lobby.
    pub open: usize,
    /// Connections fed as gone for being past API Gateway's two hours.
    pub expired: usize,
    /// Connections asked about.
    pub probed: usize,
    /// Of those, gone (410), fed as gone.
    pub gone: usize,
    /// Idle connections left for the next sweep (over `max_probes`).
    pub deferred: usize,
    /// Questions or feedback that failed (asked again next sweep), with why.
    pub failures: Vec<String>,
}

impl SweepReport {
    /// One log line of the sweep, and one warning per failure (asked again next time).
    pub fn log(&self) {
        tracing::info!(
            ticked = self.ticked,
            open = self.open,
            expired = self.expired,
            probed = self.probed,
            gone = self.gone,
            deferred = self.deferred,
            failures = self.failures.len(),
            "swept"
        );
        for failure in &self.failures {
            tracing::warn!(%failure, "sweep: asked again next time");
        }
    }
}

/// A sweep could not run: the lobby could not be read or the ticks not put.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SweepError {
    /// Reading the lobby failed.
    #[error("reading the open connections: {0}")]
    Lobby(#[from] StoreError),
    /// Putting the ticks failed.
    #[error("putting ticks: {0}")]
    Ticks(#[from] FeedbackError),
}

/// One connection the lobby says is open.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Open {
    id: String,
    connected_at: u64,
}

/// The sweeper over a store (the lobby), a probe (API Gateway) and the stream (feedback).
#[derive(Debug)]
pub struct Sweeper<S, P, F> {
    /// Where the lobby is.
    pub store: S,
    /// Who answers for connections.
    pub probe: P,
    /// Where ticks and `connection_gone` records go.
    pub feedback: F,
    /// How it decides.
    pub settings: SweepSettings,
    /// The latest activity API Gateway reported per connection still open.
    active: Mutex<HashMap<String, u64>>,
}

impl<S: RevisionedStore, P: ConnectionProbe, F: Feedback> Sweeper<S, P, F> {
    /// A sweeper that knows no activity yet.
    pub fn new(store: S, probe: P, feedback: F, settings: SweepSettings) -> Self {
        Sweeper {
            store,
            probe,
            feedback,
            settings,
            active: Mutex::new(HashMap::new()),
        }
    }

    /// One sweep at `now` (ms epoch, the sweeper's clock).
    ///
    /// # Errors
    /// The ticks could not be put or the lobby not read; a question or a `connection_gone` that
    /// failed is in the report instead, and is tried again next sweep.
    pub async fn sweep(&self, now: u64) -> Result<SweepReport, SweepError> {
        let mut report = SweepReport {
            ticked: self.feedback.tick_every_shard(now).await?,
            ..SweepReport::default()
        };
        let open = self.open_connections().await?;
        report.open = open.len();
        let (expired, idle) = self.classify(&open, now);
        report.expired = expired.len();
        report.deferred = idle.len().saturating_sub(self.settings.max_probes);
        let mut gone = expired;
        let answers: Vec<_> = stream::iter(idle.into_iter().take(self.settings.max_probes))
            .map(|id| async move {
                let answer = self.probe.probe(&id).await;
                (id, answer)
            })
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        report.probed = answers.len();
        for (id, answer) in answers {
            match answer {
                Ok(Liveness::Gone) => {
                    report.gone += 1;
                    gone.push(id);
                }
                Ok(Liveness::Alive { last_active_at }) => {
                    self.remember(&id, last_active_at.unwrap_or(now));
                }
                Err(e) => report.failures.push(e.to_string()),
            }
        }
        for id in gone {
            let record = ConnectionGone::new(id, now, None);
            if let Err(e) = self.feedback.connection_gone(record).await {
                report.failures.push(e.to_string());
            }
        }
        Ok(report)
    }

    /// The lobby's open connections: connected, not closed.
    async fn open_connections(&self) -> Result<Vec<Open>, StoreError> {
        let loaded = self.store.load_many(&[Key::Lobby]).await?;
        let Some(Entry::Lobby(lobby)) = loaded.into_iter().next().and_then(|l| l.entry) else {
            return Ok(Vec::new());
        };
        Ok(lobby
            .connections
            .into_iter()
            .filter_map(
                |(id, summary)| match (summary.connected_at.0, summary.closed_at.0) {
                    (Some(connected_at), None) => Some(Open { id, connected_at }),
                    _ => None,
                },
            )
            .collect())
    }

    /// The connections past their two hours, and the idle ones to ask about, longest idle
    /// first. Forgets the activity of connections no longer open.
    fn classify(&self, open: &[Open], now: u64) -> (Vec<String>, Vec<String>) {
        let mut active = self.active();
        let still_open: HashSet<&str> = open.iter().map(|o| o.id.as_str()).collect();
        active.retain(|id, _| still_open.contains(id.as_str()));
        let mut expired = Vec::new();
        let mut idle = Vec::new();
        for o in open {
            if now >= o.connected_at.saturating_add(self.settings.max_age_ms) {
                expired.push(o.id.clone());
                continue;
            }
            let last = active.get(&o.id).copied().unwrap_or(0).max(o.connected_at);
            if now >= last.saturating_add(self.settings.idle_after_ms) {
                idle.push((last, o.id.clone()));
            }
        }
        idle.sort();
        (expired, idle.into_iter().map(|(_, id)| id).collect())
    }

    fn remember(&self, connection_id: &str, at: u64) {
        let mut active = self.active();
        let slot = active.entry(connection_id.to_owned()).or_insert(at);
        *slot = (*slot).max(at);
    }

    /// The activity remembered. A sweep that panicked left it as whole as any: it is only a
    /// memory of answers, so it is used as it is rather than dropped.
    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
