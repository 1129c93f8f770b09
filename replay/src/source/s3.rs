//! `s3://bucket/prefix`: a Firehose archive, objects under `prefix` in its `YYYY/MM/DD/HH/`
//! layout (UTC hour of arrival at Firehose).
//!
//! Objects are chosen by the time window from their key's hour: an object of hour `H` holds the
//! records that arrived in `[H, H + 1h)`, and a record can arrive up to Firehose's buffer interval
//! (at most 15 minutes) after its event time, plus IoT's clock skew. So for `--since S` the hour
//! before `S`'s hour is read too, and for `--until U` every hour up to `U`'s own; objects whose
//! key has no hour path are always read. Records are still filtered by their event time (in
//! [`crate::stream`]), so the choice only saves reading, never changes the result.
//!
//! Each object is read whole (Firehose objects are at most 128 MB), in key order (which is
//! arrival order), through the same format detection as local files ([`super::detect`]): gzip,
//! JSON lines, concatenated JSON, MessagePack frames, bare or Kinesis-wrapped records.

use super::detect::{self, FileRecords};
use super::sequence::{FileSequence, Files, Unread};
use super::{ArchiveError, Meter, Position, RecordSource};
use crate::aws;
use schemas::Record;
use std::io::Cursor;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::runtime::Runtime;

const HOUR_MS: u64 = 3_600_000;

/// Records from the objects of a Firehose archive.
pub struct S3Source {
    objects: S3Objects,
    sequence: FileSequence,
    meter: Meter,
}

/// The chosen objects, and what reading them takes.
struct S3Objects {
    runtime: Runtime,
    client: aws_sdk_s3::Client,
    bucket: String,
    keys: Vec<String>,
    read: Arc<AtomicU64>,
}

impl S3Source {
    /// Lists the objects under `prefix` and keeps those the window `[since, until]` can need.
    ///
    /// # Errors
    /// The listing failed.
    pub fn open(
        bucket: &str,
        prefix: &str,
        since: Option<u64>,
        until: Option<u64>,
        endpoint_url: Option<&str>,
    ) -> Result<S3Source, ArchiveError> {
        let runtime = aws::runtime().map_err(|e| ArchiveError::Aws {
            op: "starting the AWS runtime".into(),
            message: e.to_string(),
        })?;
        let client = runtime.block_on(async {
            let sdk = aws::sdk_config(endpoint_url).await;
            aws::s3_client(&sdk, endpoint_url)
        });
        let listed = runtime.block_on(list(&client, bucket, prefix))?;
        let mut chosen: Vec<(String, u64)> = listed
            .into_iter()
            .filter(|(key, _)| wanted(hour_of(&key[prefix.len().min(key.len())..]), since, until))
            .collect();
        chosen.sort();
        let total = chosen.iter().map(|(_, size)| size).sum();
        let names = chosen
            .iter()
            .map(|(key, _)| format!("s3://{bucket}/{key}"))
            .collect();
        let meter = Meter {
            total: Some(total),
            ..Meter::default()
        };
        Ok(S3Source {
            objects: S3Objects {
                runtime,
                client,
                bucket: bucket.to_owned(),
                keys: chosen.into_iter().map(|(key, _)| key).collect(),
                read: meter.read.clone(),
            },
            sequence: FileSequence::new(names),
            meter,
        })
    }
}

impl S3Objects {
    fn get(&self, key: &str) -> Result<Vec<u8>, ArchiveError> {
        let aws_err = |e: String| ArchiveError::Aws {
            op: format!("GetObject s3://{}/{key}", self.bucket),
            message: e,
        };
        self.runtime.block_on(async {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| aws_err(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| aws_err(e.to_string()))?;
            Ok(body.into_bytes().to_vec())
        })
    }
}

impl Files for S3Objects {
    fn open(&mut self, index: usize) -> Result<Option<Box<dyn FileRecords>>, Unread> {
        let bytes = self.get(&self.keys[index]).map_err(Unread::Fatal)?;
        detect::open(Cursor::new(bytes), self.read.clone()).map_err(|e| {
            Unread::Skip(match e {
                Ok(reason) => reason,
                Err(e) => e.to_string(),
            })
        })
    }

    /// The object is already in memory: a failure reading it is a failure to decode it (a
    /// truncated gzip stream, say), so the object is skipped like any corrupt record.
    fn read_error(&self, _: usize, error: std::io::Error) -> Unread {
        Unread::Skip(error.to_string())
    }
}

/// Every object under `prefix`, with its size.
async fn list(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, u64)>, ArchiveError> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ArchiveError::Aws {
            op: format!("ListObjectsV2 s3://{bucket}/{prefix}"),
            message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
        })?;
        for object in page.contents.unwrap_or_default() {
            if let Some(key) = object.key {
                if key.ends_with('/') {
                    continue;
                }
                let size = object.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                out.push((key, size));
            }
        }
    }
    Ok(out)
}

/// The start (epoch ms) of the hour of the first `YYYY/MM/DD/HH/` run of path segments in `key`.
pub fn hour_of(key: &str) -> Option<u64> {
    let parts: Vec<&str> = key.split('/').collect();
    parts.windows(5).find_map(|w| {
        let num = |s: &str, len: usize| {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        };
        let (y, m, d, h) = (num(w[0], 4)?, num(w[1], 2)?, num(w[2], 2)?, num(w[3], 2)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 {
            return None;
        }
        Some((days_from_civil(y, m, d) * 24 + h) * HOUR_MS)
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// Whether an object of hour `hour` can hold records of the window: from the hour before
/// `since`'s hour up to the hour after `until`'s. Objects with no hour are always read.
pub fn wanted(hour: Option<u64>, since: Option<u64>, until: Option<u64>) -> bool {
    let Some(hour) = hour else { return true };
    let from = since.map_or(0, |s| (s / HOUR_MS).saturating_sub(1) * HOUR_MS);
    hour >= from && until.is_none_or(|u| hour <= u + HOUR_MS)
}

impl RecordSource for S3Source {
    fn next_record(&mut self) -> Option<Result<(Record, Position), ArchiveError>> {
        self.sequence.next_record(&mut self.objects)
    }

    fn files(&self) -> &[String] {
        self.sequence.names()
    }

    fn meter(&self) -> Meter {
        self.meter.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_hour_of_firehose_keys() {
        // 2024-11-23T08:00:00Z
        let h8 = 1_732_348_800_000;
        assert_eq!(
            hour_of("firehose/2024/11/23/08/raw-1-2024-11-23-08-00-00-abc.gz"),
            Some(h8)
        );
        assert_eq!(hour_of("2024/11/23/08/x"), Some(h8));
        assert_eq!(hour_of("1970/01/01/00/x"), Some(0));
        assert_eq!(hour_of("firehose/manifest.json"), None);
        assert_eq!(hour_of("2024/13/23/08/x"), None);
    }

    #[test]
    fn chooses_hours_by_the_window() {
        let h = |n: u64| n * HOUR_MS;
        // --since 10:30 reads 09 (records up to the buffer interval late) and later.
        let since = Some(h(10) + HOUR_MS / 2);
        assert!(!wanted(Some(h(8)), since, None));
        assert!(wanted(Some(h(9)), since, None));
        assert!(wanted(Some(h(10)), since, None));
        // --until 12:15 reads up to 13 (records of 12:14 can arrive at 13:05).
        let until = Some(h(12) + HOUR_MS / 4);
        assert!(wanted(Some(h(13)), since, until));
        assert!(!wanted(Some(h(14)), since, until));
        assert!(wanted(None, since, until));
    }
}
