//! The quarantine on AWS: one S3 object per poison record.
//!
//! `QUARANTINE_URL=s3://bucket[/prefix]` (prefix `quarantine` by default) puts each record at
//! `{prefix}/{shard}/{sequenceNumber}.json`:
//!
//! ```json
//! {"shard":"shardId-000000000000","sequenceNumber":"4954...","error":"field `timestamp`: ...",
//!  "quarantinedAt":1732350004100,"rawBase64":"eyJ0aW1lc3RhbXAiOiJ5ZXN0ZXJkYXkifQ=="}
//! ```
//!
//! Why S3 and not SQS: a Kinesis record may be up to 1 MiB, which base64 makes bigger than an SQS
//! message may be (256 KiB), and the key (shard, sequence number) makes the write idempotent, so a
//! batch retried after a partial failure quarantines the same record onto the same object instead
//! of a duplicate. Operators list a shard's prefix, read an object, fix and re-put the record.

use crate::quarantine_port::{PoisonRecord, Quarantine, QuarantineError};
use crate::sinks::classify::quarantine_error;
use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use serde::Serialize;
use std::str::FromStr;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "quarantine";

/// Where poison records go, parsed from `QUARANTINE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuarantineTarget {
    /// `s3://bucket[/prefix]`.
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix, without leading or trailing `/`.
        prefix: String,
    },
}

impl FromStr for QuarantineTarget {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(format!(
                "expected s3://BUCKET[/PREFIX], found {url:?} (poison records go to S3: they may \
                 be bigger than an SQS message)"
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(format!(
                "expected an S3 bucket name (3-63 lowercase letters, digits, '-', '.'), found {bucket:?}"
            ));
        }
        let prefix = prefix.trim_matches('/');
        Ok(QuarantineTarget::S3 {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                DEFAULT_PREFIX.to_owned()
            } else {
                prefix.to_owned()
            },
        })
    }
}

/// The object written for one poison record.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<'a> {
    shard: &'a str,
    sequence_number: &'a str,
    error: &'a str,
    quarantined_at: u64,
    raw_base64: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_id: Option<&'a str>,
}

/// Puts poison records into S3.
#[derive(Debug, Clone)]
pub struct S3Quarantine {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Quarantine {
    /// A quarantine writing to `bucket` under `prefix`. `endpoint` overrides the S3 endpoint (an
    /// emulator); path-style addressing is used with an override, since an emulator on
    /// `127.0.0.1` has no per-bucket host names.
    pub fn new(sdk: &SdkConfig, endpoint: Option<&str>, bucket: &str, prefix: &str) -> Self {
        let mut conf = aws_sdk_s3::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            conf = conf.endpoint_url(url).force_path_style(true);
        }
        S3Quarantine {
            client: aws_sdk_s3::Client::from_conf(conf.build()),
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// A quarantine for a parsed `QUARANTINE_URL`.
    pub fn for_target(sdk: &SdkConfig, endpoint: Option<&str>, target: &QuarantineTarget) -> Self {
        match target {
            QuarantineTarget::S3 { bucket, prefix } => Self::new(sdk, endpoint, bucket, prefix),
        }
    }

    /// The object key of an item: `{prefix}/{shard}/{sequenceNumber}.json` for a poison record,
    /// `{prefix}/{shard}/{sequenceNumber}-{deliveryId}.json` for an undeliverable delivery (one
    /// record may cause several, and each keeps its own object).
    pub fn key(&self, item: &PoisonRecord) -> String {
        match &item.delivery_id {
            None => object_key(&self.prefix, &item.shard, &item.sequence_number),
            Some(id) => object_key(
                &self.prefix,
                &item.shard,
                &format!("{}-{id}", item.sequence_number),
            ),
        }
    }
}

/// `{prefix}/{shard}/{sequenceNumber}.json`, with anything but `[A-Za-z0-9._-]` in the shard and
/// sequence number replaced by `_`, so a strange shard id cannot escape its prefix.
pub fn object_key(prefix: &str, shard: &str, sequence_number: &str) -> String {
    fn clean(s: &str) -> String {
        let s: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if s.is_empty() || s.chars().all(|c| c == '.') {
            "_".to_owned()
        } else {
            s
        }
    }
    let file = format!("{}/{}.json", clean(shard), clean(sequence_number));
    if prefix.is_empty() {
        file
    } else {
        format!("{prefix}/{file}")
    }
}

/// The JSON object stored for `item`.
pub fn object_body(item: &PoisonRecord) -> Vec<u8> {
    let object = Object {
        shard: &item.shard,
        sequence_number: &item.sequence_number,
        error: &item.error,
        quarantined_at: item.at_ms,
        raw_base64: base64::engine::general_purpose::STANDARD.encode(&item.raw),
        delivery_id: item.delivery_id.as_deref(),
    };
    // Strings and a number: serializing cannot fail.
    serde_json::to_vec(&object).unwrap_or_default()
}

impl Quarantine for S3Quarantine {
    async fn put(&self, item: PoisonRecord) -> Result<(), QuarantineError> {
        let key = self.key(&item);
        let body = object_body(&item);
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| quarantine_error(&format!("s3://{}/{key}", self.bucket), &e))?;
        tracing::warn!(
            shard = %item.shard,
            seq = %item.sequence_number,
            bucket = %self.bucket,
            key = %key,
            error = %item.error,
            "record quarantined"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        assert_eq!(
            "s3://poison-bucket".parse(),
            Ok(QuarantineTarget::S3 {
                bucket: "poison-bucket".into(),
                prefix: DEFAULT_PREFIX.into()
            })
        );
        assert_eq!(
            "s3://poison-bucket/prod/q/".parse(),
            Ok(QuarantineTarget::S3 {
                bucket: "poison-bucket".into(),
                prefix: "prod/q".into()
            })
        );
    }

    #[test]
    fn rejects_other_urls() {
        for url in [
            "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
            "s3://",
            "s3://Upper",
            "poison",
        ] {
            assert!(url.parse::<QuarantineTarget>().is_err(), "{url}");
        }
    }

    #[test]
    fn key_is_prefix_shard_sequence() {
        assert_eq!(
            object_key("quarantine", "shardId-000000000001", "4959"),
            "quarantine/shardId-000000000001/4959.json"
        );
        assert_eq!(object_key("q", "../x", ".."), "q/.._x/_.json");
    }

    #[test]
    fn body_keeps_the_raw_bytes_exactly() {
        let item = PoisonRecord {
            raw: vec![0xff, b'{', 0],
            error: "not JSON".into(),
            shard: "shardId-000000000000".into(),
            sequence_number: "1".into(),
            at_ms: 7,
            delivery_id: None,
        };
        let value: serde_json::Value = serde_json::from_slice(&object_body(&item)).unwrap();
        assert_eq!(value["shard"], "shardId-000000000000");
        assert_eq!(value["sequenceNumber"], "1");
        assert_eq!(value["error"], "not JSON");
        assert_eq!(value["quarantinedAt"], 7);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(value["rawBase64"].as_str().unwrap())
            .unwrap();
        assert_eq!(raw, item.raw);
    }
}
