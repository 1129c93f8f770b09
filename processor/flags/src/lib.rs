//! The fold's command-line flags, shared by `processor local`, `processor dev` and `replay`: one
//! definition, so that all three take the same names, defaults and environment variables (a replay
//! must fold with the settings the processor used). The variables are the Lambda's own
//! (`CHAT_TOPIC`, `RESET_HORIZON`, ..., see `processor::settings`), so that one environment
//! configures every command the same. [`report`] words their errors.

pub mod report;

use clap::Args;
use projections::limits::{Limits, API_GATEWAY_MESSAGE_BYTES};
use projections::{Config, TopicPattern};

/// How records are folded: which subscriptions are chat rooms, the presence rule's horizon, and
/// how much of each room's messages memberships processed late catch up on.
#[derive(Debug, Clone, Args)]
pub struct FoldFlags {
    /// IoT topics that are chat-room memberships; `+` matches one level, `{chatId}` names the
    /// room.
    #[arg(long, value_name = "PATTERN", default_value = "+/+/chat/{chatId}",
          env = "CHAT_TOPIC", value_parser = parse_topic)]
    pub chat_topic: TopicPattern,

    /// The presence rule's reset horizon: sessions whose last event is this much older than the
    /// client's newest event no longer count (e.g. `30m`, `90s`, `1h`).
    #[arg(long, value_name = "DURATION", default_value = "30m",
          env = "RESET_HORIZON", value_parser = parse_duration_ms)]
    pub reset_horizon: u64,

    /// How long a room's message history keeps a message after the room's newest (e.g. `10m`):
    /// a `join` or a subscription processed after later messages catches up on those it holds.
    #[arg(long, value_name = "DURATION", default_value = "10m",
          env = "HISTORY", value_parser = parse_duration_ms)]
    pub history: u64,

    /// How many messages a room's history keeps at most (0 keeps none: no catch-up).
    #[arg(long, value_name = "N", default_value_t = projections::config::DEFAULT_HISTORY_MAX,
          env = "HISTORY_MAX", value_parser = parse_history_max)]
    pub history_max: usize,

    /// Presence rooms: those whose id starts with this (`''`: every room). Their members hear
    /// each other join and leave, and a joiner gets the room's state.
    #[arg(long, value_name = "PREFIX", default_value = projections::config::DEFAULT_PRESENCE_ROOMS,
          env = "PRESENCE_ROOMS")]
    pub presence_rooms: String,

    /// Grace against flapping (e.g. `10s`; `0` for none): a member of presence rooms that goes
    /// offline is announced `offline` only if it is still offline this long after it was last
    /// seen, in event time; a reconnect within it announces nothing.
    #[arg(long, value_name = "DURATION", default_value = "0s",
          env = "PRESENCE_GRACE", value_parser = parse_presence_grace)]
    pub presence_grace: u64,

    /// Messages a WebSocket connection may send per second, sustained (0: no limit); over it,
    /// the sender gets `rate_limited` and the message goes nowhere.
    #[arg(long, value_name = "N", default_value = "10", env = "RATE_LIMIT",
          value_parser = parse_rate)]
    pub rate_limit: u32,

    /// Messages a connection may send at once above its rate.
    #[arg(long, value_name = "N", default_value = "20", env = "RATE_BURST",
          value_parser = parse_burst)]
    pub rate_burst: u32,

    /// Joins a connection may send per minute, sustained (0: no limit), ten at once above it.
    #[arg(long, value_name = "N", default_value = "30", env = "JOINS_PER_MINUTE",
          value_parser = parse_rate)]
    pub joins_per_minute: u32,

    /// The longest WebSocket message in bytes (API Gateway's quota, 131072, is the most).
    #[arg(long, value_name = "BYTES", default_value = "131072",
          env = "MESSAGE_MAX_BYTES", value_parser = parse_message_max)]
    pub message_max_bytes: usize,
}

impl FoldFlags {
    /// The fold's settings.
    pub fn config(&self) -> Config {
        Config {
            reset_horizon_ms: self.reset_horizon,
            chat_topic: self.chat_topic.clone(),
            history_ms: self.history,
            history_max: self.history_max,
            presence_rooms: self.presence_rooms.clone(),
            presence_grace_ms: self.presence_grace,
            limits: Limits {
                messages_per_second: self.rate_limit,
                message_burst: self.rate_burst,
                joins_per_minute: self.joins_per_minute,
                message_max_bytes: self.message_max_bytes,
                ..Limits::default()
            },
            ..Config::default()
        }
    }
}

/// The most messages a room's history may keep: a catch-up reads at most this many.
pub const HISTORY_MAX_LIMIT: usize = 10_000;

/// Parses a history length in messages, at most [`HISTORY_MAX_LIMIT`].
///
/// # Errors
/// A message saying what the number must be.
pub fn parse_history_max(s: &str) -> Result<usize, String> {
    whole_in(s, 0, HISTORY_MAX_LIMIT, "")
}

/// `s` as a whole number from `low` to `high`, or an error saying so (with `note` after it).
fn whole_in<T>(s: &str, low: T, high: T, note: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match s.trim().parse::<T>() {
        Ok(n) if low <= n && n <= high => Ok(n),
        _ => Err(format!(
            "{s:?}: expected a whole number from {low}{note} to {high}"
        )),
    }
}

/// Parses a chat-topic pattern such as `+/+/chat/{chatId}`.
///
/// # Errors
/// What is wrong with the pattern.
pub fn parse_topic(s: &str) -> Result<TopicPattern, String> {
    TopicPattern::parse(s).map_err(|e| e.to_string())
}

/// The longest presence grace: an `offline` put off longer would mostly tell of a member that
/// is back.
pub const PRESENCE_GRACE_LIMIT_MS: u64 = 10 * 60 * 1000;

/// Parses a presence grace (a duration), at most [`PRESENCE_GRACE_LIMIT_MS`].
///
/// # Errors
/// A message saying what the grace must be.
pub fn parse_presence_grace(s: &str) -> Result<u64, String> {
    match parse_duration_ms(s)? {
        ms if ms <= PRESENCE_GRACE_LIMIT_MS => Ok(ms),
        _ => Err(format!("{s:?}: a presence grace is at most 10m")),
    }
}

/// The highest rate a limit may name, per second or per minute.
pub const RATE_MAX: u32 = 10_000;

/// Parses a rate: a whole number from 0 (no limit) to [`RATE_MAX`].
///
/// # Errors
/// A message saying what the number must be.
pub fn parse_rate(s: &str) -> Result<u32, String> {
    whole_in(s, 0, RATE_MAX, " (no limit)")
}

/// Parses a burst: a whole number from 1 to [`RATE_MAX`].
///
/// # Errors
/// A message saying what the number must be.
pub fn parse_burst(s: &str) -> Result<u32, String> {
    whole_in(s, 1, RATE_MAX, "")
}

/// Parses a message size cap in bytes, from 1 to API Gateway's quota.
///
/// # Errors
/// A message saying what the number must be.
pub fn parse_message_max(s: &str) -> Result<usize, String> {
    whole_in(s, 1, API_GATEWAY_MESSAGE_BYTES, "").map_err(|e| e + " bytes (API Gateway's quota)")
}

/// Parses `1500ms`, `90s`, `30m`, `2h` or `1d` into milliseconds.
///
/// # Errors
/// A message saying what a duration looks like.
pub fn parse_duration_ms(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "{s:?}: expected a number and a unit: ms, s, m, h or d (e.g. 30m)"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit (e.g. 30m)"))?;
    n.checked_mul(unit_ms)
        .ok_or_else(|| format!("{s:?}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration_ms("30m"), Ok(1_800_000));
        assert_eq!(parse_duration_ms("1500ms"), Ok(1_500));
        assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
        assert!(parse_duration_ms("30").is_err());
        assert!(parse_duration_ms("m").is_err());
        assert!(parse_duration_ms("5 weeks").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(parse_rate("0"), Ok(0));
        assert!(parse_rate("10001").is_err());
        assert!(parse_burst("0").is_err());
        assert_eq!(parse_message_max("131072"), Ok(131_072));
        assert!(parse_message_max("131073").is_err());
    }

    #[test]
    fn a_history_keeps_at_most_the_limit() {
        assert_eq!(parse_history_max("0"), Ok(0));
        assert_eq!(parse_history_max("1000"), Ok(1000));
        assert!(parse_history_max("10001").is_err());
        assert!(parse_history_max("-1").is_err());
    }
}
