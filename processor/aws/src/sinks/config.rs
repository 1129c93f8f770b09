//! Typed, validated settings of the AWS adapters, read from the environment once at cold start.
//! A bad value fails with a message naming the variable (STYLE.md habit 5).
//!
//! | variable | meaning |
//! |---|---|
//! | `WEBSOCKET_API_ENDPOINT` | the `@connections` endpoint, `https://{domain}/{stage}` (or `http://127.0.0.1:PORT/{stage}` against a test server); wins over the next two |
//! | `WEBSOCKET_API_DOMAIN`, `WEBSOCKET_API_STAGE` | the WebSocket API's domain (`{api-id}.execute-api.{region}.amazonaws.com` or a custom domain) and stage; the endpoint is `https://{domain}/{stage}` |
//! | `IOT_DATA_ENDPOINT` | the account's IoT data endpoint, `https://{prefix}-ats.iot.{region}.amazonaws.com` (`aws iot describe-endpoint --endpoint-type iot:Data-ATS`); unset uses the SDK's default |
//! | `PUSH_TOPIC_ARN` | the SNS topic push deliveries are published to (see [`super::sns`]) |
//! | `QUARANTINE_URL` | where poison records go: `s3://bucket[/prefix]` (see [`crate::quarantine_aws`]) |
//!
//! Unset or empty means "not configured": deliveries on that channel fail (not retryable) with a
//! message naming the variable. Endpoints of SNS, S3 and Kinesis come from the SDK's standard
//! variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SNS`, ...), which `aws_config` reads; every
//! adapter's constructor also takes an explicit endpoint override.

use crate::quarantine_aws::QuarantineTarget;

/// A setting is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// An error about `variable`.
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            variable,
            message: message.into(),
        }
    }
}

/// Reads a `true`/`false` variable through `get`, `false` when unset.
///
/// # Errors
/// Any other value, named.
pub fn flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<bool, ConfigError> {
    match var(get, name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError::new(
            name,
            format!("expected true or false, found {other:?}"),
        )),
    }
}

/// Reads a variable through `get`, treating empty (or blank) as unset.
pub fn var(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Validates an `http(s)://host[...]` URL, returned without a trailing `/`.
pub fn endpoint_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                format!("expected an http:// or https:// URL, found {value:?}"),
            )
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(char::is_whitespace) {
        return Err(ConfigError::new(
            variable,
            format!("expected a URL with a host, found {value:?}"),
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// The delivery and quarantine adapters' settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SinksConfig {
    /// The `@connections` endpoint, `https://{domain}/{stage}`.
    pub websocket_endpoint: Option<String>,
    /// The IoT data endpoint; `None` uses the SDK's default.
    pub iot_data_endpoint: Option<String>,
    /// The SNS topic of push deliveries.
    pub push_topic_arn: Option<String>,
    /// Where poison records go.
    pub quarantine: Option<QuarantineTarget>,
}

impl SinksConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let websocket_endpoint = match var(&get, "WEBSOCKET_API_ENDPOINT") {
            Some(url) => Some(endpoint_url("WEBSOCKET_API_ENDPOINT", &url)?),
            None => websocket_from_parts(&get)?,
        };
        let iot_data_endpoint = var(&get, "IOT_DATA_ENDPOINT")
            .map(|url| endpoint_url("IOT_DATA_ENDPOINT", &url))
            .transpose()?;
        let push_topic_arn = var(&get, "PUSH_TOPIC_ARN")
            .map(|arn| sns_topic_arn("PUSH_TOPIC_ARN", arn))
            .transpose()?;
        let quarantine = var(&get, "QUARANTINE_URL")
            .map(|url| {
                url.parse::<QuarantineTarget>()
                    .map_err(|message| ConfigError::new("QUARANTINE_URL", message))
            })
            .transpose()?;
        Ok(SinksConfig {
            websocket_endpoint,
            iot_data_endpoint,
            push_topic_arn,
            quarantine,
        })
    }
}

fn websocket_from_parts(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    let domain = var(get, "WEBSOCKET_API_DOMAIN");
    let stage = var(get, "WEBSOCKET_API_STAGE");
    match (domain, stage) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::new(
            "WEBSOCKET_API_STAGE",
            "must be set with WEBSOCKET_API_DOMAIN",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "WEBSOCKET_API_DOMAIN",
            "must be set with WEBSOCKET_API_STAGE",
        )),
        (Some(domain), Some(stage)) => {
            if domain.contains(['/', ':']) {
                return Err(ConfigError::new(
                    "WEBSOCKET_API_DOMAIN",
                    format!("expected a bare domain name, found {domain:?}"),
                ));
            }
            if stage.contains('/') {
                return Err(ConfigError::new(
                    "WEBSOCKET_API_STAGE",
                    format!("expected a stage name, found {stage:?}"),
                ));
            }
            Ok(Some(format!("https://{domain}/{stage}")))
        }
    }
}

/// Validates `arn:{partition}:sns:{region}:{account}:{topic}`.
fn sns_topic_arn(variable: &'static str, arn: String) -> Result<String, ConfigError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "sns"
        && parts.iter().all(|p| !p.is_empty());
    if ok {
        Ok(arn)
    } else {
        Err(ConfigError::new(
            variable,
            format!("expected an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC), found {arn:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<SinksConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SinksConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_set_configures_nothing() {
        assert_eq!(config(&[]), Ok(SinksConfig::default()));
        assert_eq!(
            config(&[("PUSH_TOPIC_ARN", "  ")]),
            Ok(SinksConfig::default())
        );
    }

    #[test]
    fn websocket_endpoint_from_domain_and_stage() {
        let c = config(&[
            (
                "WEBSOCKET_API_DOMAIN",
                "abc123.execute-api.eu-west-1.amazonaws.com",
            ),
            ("WEBSOCKET_API_STAGE", "prod"),
        ]);
        assert_eq!(
            c.map(|c| c.websocket_endpoint),
            Ok(Some(
                "https://abc123.execute-api.eu-west-1.amazonaws.com/prod".into()
            ))
        );
    }

    #[test]
    fn websocket_endpoint_override_wins() {
        let c = config(&[
            ("WEBSOCKET_API_ENDPOINT", "http://127.0.0.1:4010/dev/"),
            ("WEBSOCKET_API_DOMAIN", "ignored"),
        ]);
        assert_eq!(
            c.map(|c| c.websocket_endpoint),
            Ok(Some("http://127.0.0.1:4010/dev".into()))
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("WEBSOCKET_API_ENDPOINT", "abc.com/prod")],
                "WEBSOCKET_API_ENDPOINT",
            ),
            (
                &[("WEBSOCKET_API_DOMAIN", "abc.com")],
                "WEBSOCKET_API_STAGE",
            ),
            (
                &[
                    ("WEBSOCKET_API_DOMAIN", "https://abc.com"),
                    ("WEBSOCKET_API_STAGE", "prod"),
                ],
                "WEBSOCKET_API_DOMAIN",
            ),
            (&[("IOT_DATA_ENDPOINT", "https://")], "IOT_DATA_ENDPOINT"),
            (&[("PUSH_TOPIC_ARN", "my-topic")], "PUSH_TOPIC_ARN"),
            (
                &[("PUSH_TOPIC_ARN", "arn:aws:sqs:eu-west-1:123456789012:q")],
                "PUSH_TOPIC_ARN",
            ),
            (&[("QUARANTINE_URL", "ftp://bucket")], "QUARANTINE_URL"),
        ];
        for (vars, variable) in cases {
            match config(vars) {
                Err(e) => {
                    assert_eq!(e.variable, *variable, "{vars:?}");
                    assert!(e.to_string().starts_with(variable), "{e}");
                }
                Ok(c) => unreachable!("{vars:?} accepted: {c:?}"),
            }
        }
    }

    #[test]
    fn push_topic_and_quarantine() {
        let c = config(&[
            ("PUSH_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:push"),
            ("QUARANTINE_URL", "s3://poison/records"),
            (
                "IOT_DATA_ENDPOINT",
                "https://a1-ats.iot.eu-west-1.amazonaws.com",
            ),
        ]);
        let Ok(c) = c else { unreachable!("{c:?}") };
        assert_eq!(
            c.push_topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:123456789012:push")
        );
        assert_eq!(
            c.quarantine,
            Some(QuarantineTarget::S3 {
                bucket: "poison".into(),
                prefix: "records".into()
            })
        );
        assert!(c.iot_data_endpoint.is_some());
    }
}
