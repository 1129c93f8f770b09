//! The presence rule (docs/architecture.md, The presence rule), over a client's [`Sessions`].
//!
//! Let `T` be the largest `last_ts` of a client's sessions; candidates are the sessions with
//! `last_ts >= T - H`; the current session is the candidate with the largest (version, with none
//! lowest; then `last_ts`; then id). The client is IoT-connected iff the current session has no
//! disconnect and has a connect or a subscription.

use crate::lattice::Min;
use crate::session::SessionRecord;
use crate::sessions::Sessions;
use serde::Serialize;

/// The presence rule applied to a client's sessions, with its reasoning (for `replay explain`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceDecision<'a> {
    /// `T`: the largest `last_ts`.
    pub newest: u64,
    /// `T - H`: sessions whose `last_ts` is older are not candidates.
    pub horizon_start: u64,
    /// The candidates, with their (version, last_ts).
    pub candidates: Vec<(&'a str, Option<u64>, u64)>,
    /// The winning session, if any.
    pub current: Option<&'a str>,
    /// Whether the client is IoT-connected.
    pub connected: bool,
}

/// The current session: the candidate with the largest (version, last_ts, id).
pub fn current_session(sessions: &Sessions, horizon_ms: u64) -> Option<(&str, &SessionRecord)> {
    let newest = sessions.values().map(|s| s.last_ts).max()?;
    let start = newest.saturating_sub(horizon_ms);
    sessions
        .iter()
        .filter(|(_, s)| s.last_ts >= start)
        .max_by(|(a, sa), (b, sb)| sa.rank(a).cmp(&sb.rank(b)))
}

/// The rule with its reasoning spelled out.
pub fn decide(sessions: &Sessions, horizon_ms: u64) -> PresenceDecision<'_> {
    let newest = sessions.values().map(|s| s.last_ts).max().unwrap_or(0);
    let horizon_start = newest.saturating_sub(horizon_ms);
    let candidates = sessions
        .sorted()
        .into_iter()
        .filter(|(_, s)| s.last_ts >= horizon_start)
        .map(|(id, s)| (id, s.version, s.last_ts))
        .collect();
    let current = current_session(sessions, horizon_ms);
    PresenceDecision {
        newest,
        horizon_start,
        candidates,
        current: current.map(|(id, _)| id),
        connected: current.is_some_and(|(_, s)| s.is_open()),
    }
}

/// Bounds a client's sessions without changing anything the rule can derive.
///
/// A closed session that is no longer a candidate keeps only what could still matter should a
/// late event make it a candidate again: its version, `last_ts` and how it ended (a closed
/// session never makes its client connected, so its topics and connect time no longer count).
/// A closed session older than `retention_ms` before the newest event is forgotten: AWS sends a
/// session's events before its disconnect, so any still to come would be that late, and no
/// Kinesis retry can bring back an event that old. An open session is kept however old, since
/// AWS sends nothing while a connection is quiet: forgetting one that then sends a late event
/// would make a new session of it, without its version, and could change which session is
/// current. (Only sessions whose disconnect never came stay for good; AWS loses few.)
pub fn compact(sessions: &mut Sessions, horizon_ms: u64, retention_ms: u64) {
    let Some(newest) = sessions.values().map(|s| s.last_ts).max() else {
        return;
    };
    let start = newest.saturating_sub(horizon_ms);
    // Never forget a candidate, whatever the settings say.
    let forget = newest.saturating_sub(retention_ms.max(horizon_ms));
    sessions.retain(|_, s| s.last_ts >= forget || s.disconnect.is_none());
    for s in sessions.values_mut() {
        if s.last_ts < start && s.disconnect.is_some() {
            s.topics.clear();
            s.connected_at = Min::default();
        }
    }
}
