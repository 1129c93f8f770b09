//! Rate limits and bounds on what a WebSocket connection sends, decided in the fold on event
//! time (deterministic, replayable): messages per second with a burst, joins per minute, the
//! length of a watch list, the rooms a client may be in, the size of a message. Over a limit, the
//! sender gets `{"type":"error","reason":"rate_limited","retryAfterMs":...}` or
//! `{"type":"error","reason":"too_large",...}` and nothing changes or is delivered.
//!
//! Each rate is a GCRA bucket on the connection ([`RateState`]): a message at `t` conforms if the
//! bucket's theoretical arrival time is at most `t` plus the burst's tolerance, and moves it on
//! by one interval. A connection's records come in order (one partition key, one shard); a record
//! the buckets counted already (older than the newest they counted, or one of those at that time)
//! is a retry's copy and is let through without counting again, so that a retried batch does not
//! limit what it already let through.

use crate::authorize::{Reason, Refusal};
use crate::world::World;
use schemas::{Action, EventId, WebSocketRecord, WsEventType};
use serde::{Deserialize, Serialize};

/// The limits, part of the fold's settings ([`crate::Config::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Messages a connection may send per second, sustained (0: no limit).
    pub messages_per_second: u32,
    /// Messages a connection may send at once, above the rate.
    pub message_burst: u32,
    /// Joins a connection may send per minute, sustained (0: no limit); [`JOIN_BURST`] at once.
    pub joins_per_minute: u32,
    /// The longest message body in bytes (API Gateway's quota is 128 KB).
    pub message_max_bytes: usize,
    /// The most devices a watch list may name.
    pub watch_list_max: usize,
    /// The most rooms a client may be in by WebSocket `join`.
    pub rooms_per_client_max: usize,
}

/// Joins a connection may send at once, above its rate.
pub const JOIN_BURST: u32 = 10;
/// API Gateway's WebSocket message quota.
pub const API_GATEWAY_MESSAGE_BYTES: usize = 128 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            messages_per_second: 10,
            message_burst: 20,
            joins_per_minute: 30,
            message_max_bytes: API_GATEWAY_MESSAGE_BYTES,
            watch_list_max: 100,
            rooms_per_client_max: 100,
        }
    }
}

/// A connection's rate buckets: bookkeeping of what it sent, in the connection's entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateState {
    /// The message bucket's theoretical arrival time (ms).
    pub messages_tat: u64,
    /// The join bucket's theoretical arrival time (ms).
    pub joins_tat: u64,
    /// The newest event time the buckets counted.
    pub counted_to: u64,
    /// The records counted at `counted_to` (the low half of their event ids): at most a burst.
    pub counted_ids: Vec<u64>,
}

impl RateState {
    /// The join of two copies: the later of each.
    pub fn join(&mut self, other: &Self) {
        self.messages_tat = self.messages_tat.max(other.messages_tat);
        self.joins_tat = self.joins_tat.max(other.joins_tat);
        match self.counted_to.cmp(&other.counted_to) {
            std::cmp::Ordering::Less => self.counted_ids.clone_from(&other.counted_ids),
            std::cmp::Ordering::Equal => {
                for id in &other.counted_ids {
                    if !self.counted_ids.contains(id) {
                        self.counted_ids.push(*id);
                    }
                }
            }
            std::cmp::Ordering::Greater => {}
        }
        self.counted_to = self.counted_to.max(other.counted_to);
    }

    /// Whether the record at `ts` with this id was counted already.
    fn counted(&self, ts: u64, id: u64) -> bool {
        ts < self.counted_to || (ts == self.counted_to && self.counted_ids.contains(&id))
    }
}

/// One GCRA step: `Ok(new tat)` if a unit at `ts` conforms to `per` units per `window_ms` with
/// `burst`, else `Err(ms until it would)`.
fn conform(tat: u64, ts: u64, per: u32, window_ms: u64, burst: u32) -> Result<u64, u64> {
    let interval = window_ms / u64::from(per.max(1));
    let tolerance = interval.saturating_mul(u64::from(burst.max(1) - 1));
    if tat > ts.saturating_add(tolerance) {
        Err(tat - tolerance - ts)
    } else {
        Ok(tat.max(ts).saturating_add(interval))
    }
}

/// What `ws` exceeds, if anything; otherwise counts it in its connection's buckets.
pub(crate) fn exceeded(
    world: &mut World,
    ws: &WebSocketRecord,
    event_id: EventId,
) -> Option<Refusal> {
    if ws.event_type != WsEventType::Message {
        return None;
    }
    let limits = world.config.limits;
    let action = ws.action();
    let name = action.name();
    let too_large =
        |what: String, limit: usize| Refusal::new(name, Reason::TooLarge { limit }, what);
    let size = ws.body.as_ref().map_or(0, String::len);
    if size > limits.message_max_bytes {
        let what = format!(
            "a message of {size} bytes is over the {}-byte limit",
            limits.message_max_bytes
        );
        return Some(too_large(what, limits.message_max_bytes));
    }
    match &action {
        Action::SetNotifyList { devices } if devices.len() > limits.watch_list_max => {
            let what = format!(
                "a watch list of {} devices is over the limit of {}",
                devices.len(),
                limits.watch_list_max
            );
            return Some(too_large(what, limits.watch_list_max));
        }
        Action::Join { chat_id } => {
            if let Some(refused) = too_many_rooms(world, ws, chat_id, limits.rooms_per_client_max) {
                return Some(refused);
            }
        }
        _ => {}
    }
    let ts = ws.request_time_epoch;
    let conn = world
        .conns
        .entry_ref(ws.connection_id.as_str())
        .or_default();
    let rate = &mut conn.rate;
    // The low half of the id: enough to tell a connection's records at one millisecond apart.
    let id = event_id.0 as u64;
    if rate.counted(ts, id) {
        return None;
    }
    let mut next = rate.clone();
    let messages = Rate {
        per: limits.messages_per_second,
        window_ms: 1000,
        burst: limits.message_burst,
        what: "messages per second",
    };
    if let Err(refused) = messages.take(&mut next.messages_tat, ts, name) {
        return Some(refused);
    }
    if matches!(action, Action::Join { .. }) {
        let joins = Rate {
            per: limits.joins_per_minute,
            window_ms: 60_000,
            burst: JOIN_BURST,
            what: "joins per minute",
        };
        if let Err(refused) = joins.take(&mut next.joins_tat, ts, name) {
            return Some(refused);
        }
    }
    if ts > next.counted_to {
        next.counted_to = ts;
        next.counted_ids.clear();
    }
    next.counted_ids.push(id);
    *rate = next;
    None
}

/// A join that would put the client in more rooms than allowed (a room it is in already is fine).
fn too_many_rooms(world: &World, ws: &WebSocketRecord, room: &str, max: usize) -> Option<Refusal> {
    let client = world
        .connection_state(&ws.connection_id)
        .and_then(|c| c.summary.client_id.as_deref())?;
    let state = world.client_state(client)?;
    let mut rooms = state.joined_rooms();
    if rooms.any(|r| r == room) {
        return None;
    }
    let count = state.joined_rooms().count();
    (count >= max).then(|| {
        let why = format!("{client} is in {count} rooms, the most allowed: leave one first");
        Refusal::new("join", Reason::TooLarge { limit: max }, why).in_room(room.to_owned())
    })
}

/// One rate: `per` units every `window_ms` (0: no limit), `burst` at once.
struct Rate {
    per: u32,
    window_ms: u64,
    burst: u32,
    /// What it counts, for the error: `messages per second`.
    what: &'static str,
}

impl Rate {
    /// Counts one unit of `action` at `ts` in the bucket whose arrival time is `tat`, or refuses it.
    fn take(&self, tat: &mut u64, ts: u64, action: &'static str) -> Result<(), Refusal> {
        if self.per == 0 {
            return Ok(());
        }
        match conform(*tat, ts, self.per, self.window_ms, self.burst) {
            Ok(later) => {
                *tat = later;
                Ok(())
            }
            Err(wait) => Err(Refusal::new(
                action,
                Reason::RateLimited {
                    retry_after_ms: wait,
                },
                format!("over {} {}: try again in {wait} ms", self.per, self.what),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        // 10 per second, burst 20: twenty at once conform, the 21st waits one interval.
        let mut tat = 0;
        for _ in 0..20 {
            tat = conform(tat, 1_000, 10, 1000, 20).unwrap();
        }
        assert_eq!(conform(tat, 1_000, 10, 1000, 20), Err(100));
        let mut later = conform(tat, 1_100, 10, 1000, 20).unwrap();
        // After a quiet second, ten more.
        for _ in 0..10 {
            later = conform(later, 2_100, 10, 1000, 20).unwrap();
        }
        assert!(conform(later, 2_100, 10, 1000, 20).is_err());
    }
}
