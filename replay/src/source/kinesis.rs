//! `kinesis://stream`: the stream itself, every shard from `--since` (`AT_TIMESTAMP`, the
//! approximate arrival time), or from the oldest record kept (`TRIM_HORIZON`) without it.
//!
//! Shards are read one after another, parents (and adjacent parents) before their children, as
//! `processor consume` reads them, each until it is drained: `GetRecords` returns no records and
//! `MillisBehindLatest` is 0 (an open shard), or no next iterator (a closed shard read to its
//! end). Records put after that are not read: replay reads what the stream held when it got
//! there. Each record's data is one JSON object, bare or Kinesis-wrapped
//! ([`super::kinesis_wrap`]); a record that does not decode is reported as corrupt with its
//! shard and index and skipped. (processor's `KinesisSource` has no `AT_TIMESTAMP` position and
//! hides `MillisBehindLatest`, so the few calls are made here.)

use super::kinesis_wrap::{decode_object, Decoded};
use super::{ArchiveError, Corrupt, Location, Meter, Position, RecordSource};
use crate::aws;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;
use schemas::Record;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering;
use tokio::runtime::Runtime;

/// Records per `GetRecords` call (the maximum).
const LIMIT: i32 = 10_000;
/// Empty pages of an open shard that is still behind before giving up on it (a guard against
/// a stream that never reports being caught up).
const MAX_EMPTY_BEHIND: u32 = 1_000;

/// Records from a Kinesis stream.
pub struct KinesisSource {
    runtime: Runtime,
    client: aws_sdk_kinesis::Client,
    stream: String,
    since: Option<u64>,
    shards: Vec<String>,
    names: Vec<String>,
    next_shard: usize,
    /// The shard being read: its index, iterator (None when its end was reached), records read.
    current: Option<(u32, Option<String>, u64)>,
    empty_behind: u32,
    pending: VecDeque<Result<(Record, Position), ArchiveError>>,
    meter: Meter,
}

impl KinesisSource {
    /// Lists the stream's shards, parents first.
    ///
    /// # Errors
    /// `ListShards` failed.
    pub fn open(
        stream: &str,
        since: Option<u64>,
        endpoint_url: Option<&str>,
    ) -> Result<KinesisSource, ArchiveError> {
        let runtime = aws::runtime().map_err(|e| ArchiveError::Aws {
            op: "starting the AWS runtime".into(),
            message: e.to_string(),
        })?;
        let client = runtime
            .block_on(async { aws_sdk_kinesis::Client::new(&aws::sdk_config(endpoint_url).await) });
        let listed = runtime.block_on(list_shards(&client, stream))?;
        let shards = parents_first(listed);
        let names = shards
            .iter()
            .map(|s| format!("kinesis://{stream}/{s}"))
            .collect();
        Ok(KinesisSource {
            runtime,
            client,
            stream: stream.to_owned(),
            since,
            shards,
            names,
            next_shard: 0,
            current: None,
            empty_behind: 0,
            pending: VecDeque::new(),
            meter: Meter::default(),
        })
    }

    fn aws_err(&self, op: &str, e: impl std::error::Error + 'static) -> ArchiveError {
        ArchiveError::Aws {
            op: format!("{op} kinesis://{}", self.stream),
            message: aws_sdk_kinesis::error::DisplayErrorContext(e).to_string(),
        }
    }

    fn iterator(&self, shard: &str) -> Result<String, ArchiveError> {
        let mut request = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(shard);
        request = match self.since {
            Some(ms) => request
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let out = self
            .runtime
            .block_on(request.send())
            .map_err(|e| self.aws_err("GetShardIterator", e))?;
        out.shard_iterator.ok_or_else(|| ArchiveError::Aws {
            op: format!("GetShardIterator kinesis://{}/{shard}", self.stream),
            message: "no iterator returned".into(),
        })
    }

    /// Reads the next page of the current shard into `pending`; ends the shard when drained.
    fn page(&mut self) -> Result<(), ArchiveError> {
        let Some((file, Some(iterator), read)) = self.current.clone() else {
            self.current = None;
            return Ok(());
        };
        let out = self
            .runtime
            .block_on(
                self.client
                    .get_records()
                    .shard_iterator(iterator)
                    .limit(LIMIT)
                    .send(),
            )
            .map_err(|e| self.aws_err("GetRecords", e))?;
        let behind = out.millis_behind_latest.unwrap_or(0);
        let empty = out.records.is_empty();
        let mut n = read;
        let name = self.names[file as usize].clone();
        for r in out.records {
            let data = r.data.into_inner();
            self.meter
                .read
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            let at = Location::Record(n);
            n += 1;
            let arrived = r
                .approximate_arrival_timestamp
                .and_then(|t| u64::try_from(t.to_millis().ok()?).ok());
            let position = Position { file, at, arrived };
            let corrupt = |reason: String| {
                ArchiveError::Corrupt(Corrupt {
                    file: format!("{name} seq {}", r.sequence_number),
                    at,
                    reason,
                })
            };
            match decode_object(&data) {
                // The stream's own arrival time, not one a wrapper inside the data may claim.
                Ok(Decoded::One(record, _)) => self.pending.push_back(Ok((record, position))),
                Ok(Decoded::Many(each)) => {
                    for one in each {
                        self.pending
                            .push_back(one.map(|(record, _)| (record, position)).map_err(&corrupt));
                    }
                }
                Err(reason) => self.pending.push_back(Err(corrupt(reason))),
            }
        }
        let next = match out.next_shard_iterator {
            // Caught up with an open shard: drained.
            Some(_) if empty && behind == 0 => None,
            Some(_) if empty => {
                self.empty_behind += 1;
                if self.empty_behind > MAX_EMPTY_BEHIND {
                    None
                } else {
                    out.next_shard_iterator
                }
            }
            next => {
                self.empty_behind = 0;
                next
            }
        };
        self.current = Some((file, next, n));
        if self.current.as_ref().is_some_and(|c| c.1.is_none()) && self.pending.is_empty() {
            self.current = None;
        }
        Ok(())
    }
}

/// Every shard of `stream`: id and parents.
async fn list_shards(
    client: &aws_sdk_kinesis::Client,
    stream: &str,
) -> Result<Vec<(String, Vec<String>)>, ArchiveError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // With a NextToken, ListShards must not also name the stream.
        let request = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(stream),
        };
        let page = request.send().await.map_err(|e| ArchiveError::Aws {
            op: format!("ListShards kinesis://{stream}"),
            message: aws_sdk_kinesis::error::DisplayErrorContext(e).to_string(),
        })?;
        for s in page.shards.unwrap_or_default() {
            let parents = [s.parent_shard_id, s.adjacent_parent_shard_id]
                .into_iter()
                .flatten()
                .collect();
            out.push((s.shard_id, parents));
        }
        token = page.next_token;
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// Shard ids ordered so that every shard comes after its parents (those still listed; parents
/// past the retention period are gone). Otherwise in id order.
pub fn parents_first(mut shards: Vec<(String, Vec<String>)>) -> Vec<String> {
    shards.sort();
    let listed: HashSet<String> = shards.iter().map(|(id, _)| id.clone()).collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut order = Vec::with_capacity(shards.len());
    while !shards.is_empty() {
        let before = shards.len();
        shards.retain(|(id, parents)| {
            let ready = parents
                .iter()
                .all(|p| done.contains(p) || !listed.contains(p));
            if ready {
                order.push(id.clone());
            }
            !ready
        });
        done.extend(order.iter().cloned());
        if shards.len() == before {
            // A cycle cannot happen in Kinesis; read what is left rather than loop.
            order.extend(shards.drain(..).map(|(id, _)| id));
        }
    }
    order
}

impl RecordSource for KinesisSource {
    fn next_record(&mut self) -> Option<Result<(Record, Position), ArchiveError>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.current.is_some() {
                if let Err(e) = self.page() {
                    self.current = None;
                    // A failed request is fatal: the reader stops after it.
                    self.next_shard = self.shards.len();
                    return Some(Err(e));
                }
                continue;
            }
            let index = self.next_shard;
            let shard = self.shards.get(index)?.clone();
            self.next_shard += 1;
            self.empty_behind = 0;
            match self.iterator(&shard) {
                Ok(iterator) => {
                    let file = u32::try_from(index).unwrap_or(u32::MAX);
                    self.current = Some((file, Some(iterator), 0));
                }
                Err(e) => {
                    self.next_shard = self.shards.len();
                    return Some(Err(e));
                }
            }
        }
    }

    fn files(&self) -> &[String] {
        &self.names
    }

    fn meter(&self) -> Meter {
        self.meter.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_come_before_children() {
        let s = |id: &str, parents: &[&str]| {
            (
                id.to_owned(),
                parents.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>(),
            )
        };
        let order = parents_first(vec![
            s("shard-0", &["shard-2", "shard-3"]),
            s("shard-3", &["shard-1"]),
            s("shard-2", &["shard-1"]),
            s("shard-1", &["gone-past-retention"]),
        ]);
        assert_eq!(order, ["shard-1", "shard-2", "shard-3", "shard-0"]);
    }
}
