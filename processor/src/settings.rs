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
        if let Some(v) = get("DEDUP_TTL") {
            handler.dedup_ttl_ms = parse_duration_ms(&v).map_err(|e| err("DEDUP_TTL", e))?;
        }
        let int = |var: &'static str, v: String, max: usize| match v.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(err(
                var,
                format!("{v:?}: expected a whole number from 1 to {max}"),
            )),
        };
        if let Some(v) = get("DELIVERY_CONCURRENCY") {
            handler.delivery_concurrency = int("DELIVERY_CONCURRENCY", v, 256)?;
        }
        if let Some(v) = get("COMMIT_ATTEMPTS") {
            handler.commit_attempts = int("COMMIT_ATTEMPTS", v, 20)?;
        }
        Ok(AwsConfig {
            table,
            stream,
            endpoint_url,
            handler,
        })
    }
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
