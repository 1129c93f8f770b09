//! Where `consume` reads: the [`ShardSource`] port, its Kinesis adapter, and an in-memory one
//! for tests (the emulator's resharding does not behave like Kinesis: after a split, moto puts
//! records, old and new, back into the closed parent).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

/// One record of a batch, as read from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InRecord {
    /// The shard.
    pub shard: String,
    /// Its sequence number.
    pub seq: String,
    /// The payload.
    pub data: Vec<u8>,
}

/// One shard of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    /// `shardId-...`.
    pub id: String,
    /// The parent and adjacent parent after a split or merge: read to their end first.
    pub parents: Vec<String>,
    /// Closed by a reshard: once read to its end it has nothing more.
    pub closed: bool,
    /// The lowest hash key the shard takes: a record put with it as explicit hash key lands on
    /// this shard (the sweeper's ticks). `None` where the source has no hash keys (memory).
    pub starting_hash_key: Option<String>,
}

/// Where to start reading a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// The oldest record kept.
    TrimHorizon,
    /// Just after this sequence number (a checkpoint).
    After(String),
}

/// One `GetRecords` page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The records, in order.
    pub records: Vec<InRecord>,
    /// The iterator for the next page; `None` at the end of a closed shard.
    pub next: Option<String>,
    /// How far this page is behind the shard's tip (Kinesis `MillisBehindLatest`), if known.
    /// An empty page with records behind it is not the end: GetRecords may return empty pages
    /// in the middle of a shard.
    pub behind_ms: Option<u64>,
}

/// Reading the stream failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op}: {message}")]
pub struct SourceError {
    /// The operation.
    pub op: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A stream's shards and records.
pub trait ShardSource: Send + Sync {
    /// Every shard, open or closed.
    fn shards(&self) -> impl Future<Output = Result<Vec<ShardInfo>, SourceError>> + Send;
    /// An iterator for `shard` at `from`.
    fn iterator(
        &self,
        shard: &str,
        from: &Position,
    ) -> impl Future<Output = Result<String, SourceError>> + Send;
    /// The page at `iterator`.
    fn records(
        &self,
        shard: &str,
        iterator: &str,
        limit: i32,
    ) -> impl Future<Output = Result<Page, SourceError>> + Send;
}

/// Kinesis through the SDK.
#[derive(Debug, Clone)]
pub struct KinesisSource {
    client: aws_sdk_kinesis::Client,
    stream: String,
}

impl KinesisSource {
    /// Reads `stream`.
    pub fn new(client: aws_sdk_kinesis::Client, stream: impl Into<String>) -> Self {
        KinesisSource {
            client,
            stream: stream.into(),
        }
    }
}

fn err<E: std::error::Error + 'static>(op: &'static str) -> impl Fn(E) -> SourceError {
    move |e| SourceError {
        op,
        message: aws_sdk_kinesis::error::DisplayErrorContext(e).to_string(),
    }
}

impl ShardSource for KinesisSource {
    async fn shards(&self) -> Result<Vec<ShardInfo>, SourceError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            // With a NextToken, ListShards must not also name the stream.
            let request = match &token {
                Some(t) => self.client.list_shards().next_token(t),
                None => self.client.list_shards().stream_name(&self.stream),
            };
            let page = request.send().await.map_err(err("ListShards"))?;
            for s in page.shards.unwrap_or_default() {
                let closed = s
                    .sequence_number_range
                    .as_ref()
                    .is_some_and(|r| r.ending_sequence_number.is_some());
                let parents = [s.parent_shard_id, s.adjacent_parent_shard_id]
                    .into_iter()
                    .flatten()
                    .collect();
                out.push(ShardInfo {
                    id: s.shard_id,
                    parents,
                    closed,
                    starting_hash_key: s.hash_key_range.map(|r| r.starting_hash_key),
                });
            }
            token = page.next_token;
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn iterator(&self, shard: &str, from: &Position) -> Result<String, SourceError> {
        use aws_sdk_kinesis::types::ShardIteratorType as T;
        let request = self
            .client
            .get_shard_iterator()
            .stream_name(&self.stream)
            .shard_id(shard);
        let request = match from {
            Position::TrimHorizon => request.shard_iterator_type(T::TrimHorizon),
            Position::After(seq) => request
                .shard_iterator_type(T::AfterSequenceNumber)
                .starting_sequence_number(seq),
        };
        let out = request.send().await.map_err(err("GetShardIterator"))?;
        out.shard_iterator.ok_or_else(|| SourceError {
            op: "GetShardIterator",
            message: "no iterator returned".into(),
        })
    }

    async fn records(&self, shard: &str, iterator: &str, limit: i32) -> Result<Page, SourceError> {
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit)
            .send()
            .await
            .map_err(err("GetRecords"))?;
        Ok(Page {
            records: out
                .records
                .into_iter()
                .map(|r| InRecord {
                    shard: shard.to_owned(),
                    seq: r.sequence_number,
                    data: r.data.into_inner(),
                })
                .collect(),
            next: out.next_shard_iterator,
            behind_ms: out
                .millis_behind_latest
                .and_then(|ms| u64::try_from(ms).ok()),
        })
    }
}

/// Shards in memory: records are appended per shard; sequence numbers are positions (1-based,
/// zero-padded so they sort as strings).
#[derive(Debug, Default)]
pub struct MemorySource {
    shards: Mutex<MemoryShards>,
    /// Empty pages still to answer, per shard, before its records (as Kinesis may).
    empty_pages: Mutex<BTreeMap<String, u32>>,
}

/// Each shard's description and records, by shard id.
type MemoryShards = BTreeMap<String, (ShardInfo, Vec<Vec<u8>>)>;

impl MemorySource {
    /// No shards.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a shard.
    pub fn add_shard(&self, id: &str, parents: &[&str], closed: bool) {
        if let Ok(mut s) = self.shards.lock() {
            let info = ShardInfo {
                id: id.to_owned(),
                parents: parents.iter().map(|p| (*p).to_owned()).collect(),
                closed,
                starting_hash_key: None,
            };
            s.insert(id.to_owned(), (info, Vec::new()));
        }
    }

    /// Appends a record to a shard.
    pub fn put(&self, shard: &str, data: &[u8]) {
        if let Ok(mut s) = self.shards.lock() {
            if let Some((_, records)) = s.get_mut(shard) {
                records.push(data.to_vec());
            }
        }
    }

    /// Makes the next `pages` reads of `shard` answer an empty page with records still behind
    /// it, as Kinesis may in the middle of a shard.
    pub fn inject_empty_pages(&self, shard: &str, pages: u32) {
        if let Ok(mut e) = self.empty_pages.lock() {
            e.insert(shard.to_owned(), pages);
        }
    }

    fn take_empty_page(&self, shard: &str) -> bool {
        let Ok(mut e) = self.empty_pages.lock() else {
            return false;
        };
        match e.get_mut(shard) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryShards>, SourceError> {
        self.shards.lock().map_err(|_| SourceError {
            op: "memory",
            message: "poisoned lock".into(),
        })
    }
}

fn seq(n: usize) -> String {
    format!("{n:020}")
}

impl ShardSource for MemorySource {
    async fn shards(&self) -> Result<Vec<ShardInfo>, SourceError> {
        Ok(self.lock()?.values().map(|(i, _)| i.clone()).collect())
    }

    async fn iterator(&self, shard: &str, from: &Position) -> Result<String, SourceError> {
        let next = match from {
            Position::TrimHorizon => 0,
            Position::After(s) => s.parse::<usize>().map_err(|_| SourceError {
                op: "iterator",
                message: format!("bad sequence number {s:?}"),
            })?,
        };
        Ok(format!("{shard}|{next}"))
    }

    async fn records(&self, shard: &str, iterator: &str, limit: i32) -> Result<Page, SourceError> {
        let bad = || SourceError {
            op: "records",
            message: format!("bad iterator {iterator:?}"),
        };
        let (_, from) = iterator.rsplit_once('|').ok_or_else(bad)?;
        let from: usize = from.parse().map_err(|_| bad())?;
        if self.take_empty_page(shard) {
            return Ok(Page {
                records: Vec::new(),
                next: Some(iterator.to_owned()),
                behind_ms: Some(1_000),
            });
        }
        let shards = self.lock()?;
        let (info, records) = shards.get(shard).ok_or_else(bad)?;
        let to = (from + usize::try_from(limit.max(1)).unwrap_or(1)).min(records.len());
        let page: Vec<InRecord> = (from..to)
            .map(|i| InRecord {
                shard: shard.to_owned(),
                seq: seq(i + 1),
                data: records[i].clone(),
            })
            .collect();
        let at_end = to >= records.len();
        Ok(Page {
            records: page,
            next: (!(info.closed && at_end)).then(|| format!("{shard}|{to}")),
            behind_ms: Some(if at_end { 0 } else { 1 }),
        })
    }
}
