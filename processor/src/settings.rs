//! The Lambda's typed configuration, read from the environment once at cold start. A bad value
//! fails the start with a message naming the variable, instead of failing every batch later.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `TABLE_NAME` | the DynamoDB table (required) | |
//! | `STREAM_NAME` | the Kinesis stream, for `connection_gone` feedback (required) | |
//! | `AWS_ENDPOINT_URL` | endpoint override for every client (an emulator) | AWS |
//! | `CHAT_TOPIC` | IoT topics that are chat rooms | `+/+/chat/{chatId}` |
//! | `RESET_HORIZON` | the presence rule's reset horizon (`30m`, `90s`) | `30m` |
//! | `DELIVERY_CONCURRENCY` | deliveries in flight at once (1-256) | 16 |
//! | `COMMIT_ATTEMPTS` | fold-and-write attempts on revision conflicts (1-20) | 5 |
//! | `DEDUP_TTL` | how long sent deliveries are remembered | `24h` |
//! | `PRESENCE_ROOMS` | presence rooms: ids starting with this (empty: every room) | `presence-` |
//! | `PRESENCE_GRACE` | an `offline` is announced only this long after the member was last seen (at most `10m`) | `0s` |
//! | `RATE_LIMIT` | messages a WebSocket connection may send per second (0: no limit) | 10 |
//! | `RATE_BURST` | messages it may send at once above the rate | 20 |
//! | `JOINS_PER_MINUTE` | joins it may send per minute (0: no limit) | 30 |
//! | `MESSAGE_MAX_BYTES` | the longest message (at most API Gateway's 131072) | 131072 |
//!
//! The sweeper (the same binary, `Handler: sweeper`) reads `TABLE_NAME`, `STREAM_NAME`,
//! `AWS_ENDPOINT_URL`, the `@connections` endpoint (`WEBSOCKET_API_ENDPOINT`, or
//! `WEBSOCKET_API_DOMAIN` and `WEBSOCKET_API_STAGE`) and:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `IDLE_AFTER` | ask API Gateway about a connection with no activity for this long | `10m` |
//! | `SWEEP_MAX_PROBES` | questions a sweep asks at most (1-100000) | 2000 |
//! | `SWEEP_CONCURRENCY` | questions in flight at once (1-256) | 16 |

use aws_adapters::sweep::SweepSettings;
use fold_flags::parse_duration_ms;
use projections::{Config, TopicPattern};

/// A setting that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var}: {reason}")]
pub struct SettingsError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// Everything the handler and its clients need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The single table.
    pub table: String,
    /// The stream (feedback goes back to it).
    pub stream: String,
    /// Endpoint override for every AWS client.
    pub endpoint_url: Option<String>,
    /// The handler's settings.
    pub handler: HandlerSettings,
}

/// How the batch handler behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerSettings {
    /// The fold's settings.
    pub fold: Config,
    /// Deliveries in flight at once.
    pub delivery_concurrency: usize,
    /// Fold-and-write attempts before a conflicting batch is reported as failed.
    pub commit_attempts: usize,
    /// How long sent deliveries are remembered (ms): the `dedup#` items' TTL, counted from the
    /// wall-clock time they are written (DynamoDB's TTL is wall-clock time too).
    pub dedup_ttl_ms: u64,
}

impl Default for HandlerSettings {
    fn default() -> Self {
        HandlerSettings {
            fold: Config::default(),
            delivery_concurrency: 16,
            commit_attempts: 5,
            dedup_ttl_ms: 24 * 3_600_000,
        }
    }
}

impl AwsConfig {
    /// Reads the process environment.
    ///
    /// # Errors
    /// The first missing or invalid variable.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (the environment, or a map in tests).
    ///
    /// # Errors
    /// The first missing or invalid variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let err = |var: &'static str, reason: String| SettingsError { var, reason };
        let required = |var: &'static str| {
            get(var)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| err(var, "required, not set".into()))
        };
        let table = required("TABLE_NAME")?;
        let stream = required("STREAM_NAME")?;
        let endpoint_url = match get("AWS_ENDPOINT_URL").filter(|v| !v.is_empty()) {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => Some(url),
            Some(url) => {
                return Err(err(
                    "AWS_ENDPOINT_URL",
                    format!("{url:?}: expected an http:// or https:// URL"),
                ))
            }
            None => None,
        };
        let mut handler = HandlerSettings::default();
        if let Some(v) = get("CHAT_TOPIC") {
            handler.fold.chat_topic =
                TopicPattern::parse(&v).map_err(|e| err("CHAT_TOPIC", e.to_string()))?;
        }
        if let Some(v) = get("RESET_HORIZON") {
            handler.fold.reset_horizon_ms =
                parse_duration_ms(&v).map_err(|e| err("RESET_HORIZON", e))?;
        }
        if let Some(v) = get("HISTORY") {
            handler.fold.history_ms = parse_duration_ms(&v).map_err(|e| err("HISTORY", e))?;
        }
        if let Some(v) = get("HISTORY_MAX") {
            handler.fold.history_max =
                fold_flags::parse_history_max(&v).map_err(|e| err("HISTORY_MAX", e))?;
        }
        if let Some(v) = get("PRESENCE_ROOMS") {
            handler.fold.presence_rooms = v;
        }
        if let Some(v) = get("PRESENCE_GRACE") {
            handler.fold.presence_grace_ms =
                fold_flags::parse_presence_grace(&v).map_err(|e| err("PRESENCE_GRACE", e))?;
        }
        let limits = &mut handler.fold.limits;
        if let Some(v) = get("RATE_LIMIT") {
            limits.messages_per_second =
                fold_flags::parse_rate(&v).map_err(|e| err("RATE_LIMIT", e))?;
        }
        if let Some(v) = get("RATE_BURST") {
            limits.message_burst = fold_flags::parse_burst(&v).map_err(|e| err("RATE_BURST", e))?;
        }
        if let Some(v) = get("JOINS_PER_MINUTE") {
            limits.joins_per_minute =
                fold_flags::parse_rate(&v).map_err(|e| err("JOINS_PER_MINUTE", e))?;
        }
        if let Some(v) = get("MESSAGE_MAX_BYTES") {
            limits.message_max_bytes =
                fold_flags::parse_message_max(&v).map_err(|e| err("MESSAGE_MAX_BYTES", e))?;
        }
        if let Some(v) = get("DEDUP_TTL") {
            handler.dedup_ttl_ms = parse_duration_ms(&v).map_err(|e| err("DEDUP_TTL", e))?;
        }
        if let Some(v) = get("DELIVERY_CONCURRENCY") {
            handler.delivery_concurrency = whole("DELIVERY_CONCURRENCY", &v, 256)?;
        }
        if let Some(v) = get("COMMIT_ATTEMPTS") {
            handler.commit_attempts = whole("COMMIT_ATTEMPTS", &v, 20)?;
        }
        Ok(AwsConfig {
            table,
            stream,
            endpoint_url,
            handler,
        })
    }
}

/// A whole number from 1 to `max`.
fn whole(var: &'static str, v: &str, max: usize) -> Result<usize, SettingsError> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(SettingsError {
            var,
            reason: format!("{v:?}: expected a whole number from 1 to {max}"),
        }),
    }
}

/// The sweeper's settings, read through `get` (the environment, or a map in tests).
///
/// # Errors
/// The first invalid variable.
pub fn sweep_settings(
    get: impl Fn(&str) -> Option<String>,
) -> Result<SweepSettings, SettingsError> {
    let mut settings = SweepSettings::default();
    if let Some(v) = get("IDLE_AFTER") {
        settings.idle_after_ms = parse_duration_ms(&v).map_err(|reason| SettingsError {
            var: "IDLE_AFTER",
            reason,
        })?;
    }
    if let Some(v) = get("SWEEP_MAX_PROBES") {
        settings.max_probes = whole("SWEEP_MAX_PROBES", &v, 100_000)?;
    }
    if let Some(v) = get("SWEEP_CONCURRENCY") {
        settings.concurrency = whole("SWEEP_CONCURRENCY", &v, 256)?;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<AwsConfig, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AwsConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn reads_settings_and_defaults() {
        let c = from(&[
            ("TABLE_NAME", "t"),
            ("STREAM_NAME", "s"),
            ("RESET_HORIZON", "10m"),
            ("DELIVERY_CONCURRENCY", "4"),
        ])
        .unwrap();
        assert_eq!(c.table, "t");
        assert_eq!(c.handler.fold.reset_horizon_ms, 600_000);
        assert_eq!(c.handler.delivery_concurrency, 4);
        assert_eq!(c.handler.commit_attempts, 5);
        assert_eq!(c.endpoint_url, None);
    }

    #[test]
    fn the_sweepers_settings_and_their_defaults() {
        let map: HashMap<&str, &str> = [("IDLE_AFTER", "5m"), ("SWEEP_MAX_PROBES", "10")].into();
        let s = sweep_settings(|k| map.get(k).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(
            (s.idle_after_ms, s.max_probes, s.concurrency),
            (300_000, 10, 16)
        );
        let e = sweep_settings(|k| (k == "SWEEP_CONCURRENCY").then(|| "0".to_owned())).unwrap_err();
        assert_eq!(e.var, "SWEEP_CONCURRENCY");
        let e = sweep_settings(|k| (k == "IDLE_AFTER").then(|| "soon".to_owned())).unwrap_err();
        assert_eq!(e.var, "IDLE_AFTER");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = from(&[("STREAM_NAME", "s")]).unwrap_err();
        assert_eq!(e.var, "TABLE_NAME");
        let e = from(&[
            ("TABLE_NAME", "t"),
            ("STREAM_NAME", "s"),
            ("DELIVERY_CONCURRENCY", "0"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("DELIVERY_CONCURRENCY"), "{e}");
        let e = from(&[
            ("TABLE_NAME", "t"),
            ("STREAM_NAME", "s"),
            ("RESET_HORIZON", "soon"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "RESET_HORIZON");
        let e = from(&[
            ("TABLE_NAME", "t"),
            ("STREAM_NAME", "s"),
            ("CHAT_TOPIC", "a/b"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "CHAT_TOPIC");
        let e = from(&[
            ("TABLE_NAME", "t"),
            ("STREAM_NAME", "s"),
            ("AWS_ENDPOINT_URL", "x"),
        ])
        .unwrap_err();
        assert_eq!(e.var, "AWS_ENDPOINT_URL");
    }
}
