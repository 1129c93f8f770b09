//! The feedback port: records the processor and the sweeper write back to their own stream.
//! `connection_gone`, after a delivery or the sweeper's `GetConnection` got 410 Gone (API
//! Gateway's `$disconnect` is best-effort, so this is how a dead connection ends): put with the
//! connection id as partition key, so it lands in the shard of the connection's other records.
//! `tick`, the sweeper's time, on every open shard: put with the shard's starting hash key as
//! explicit hash key, so it lands on that shard.

use crate::source::{KinesisSource, ShardSource};
use aws_sdk_kinesis::primitives::Blob;
use schemas::{ConnectionGone, EpochMillis, Record, Tick};
use std::future::Future;
use std::sync::Mutex;

/// Writing feedback failed; what caused it is not done.
#[derive(Debug, Clone, thiserror::Error)]
#[error("feedback ({about}): {message}")]
pub struct FeedbackError {
    /// What the record was about: `connection {id}`, `shard {id}`, or `shards`.
    pub about: String,
    /// What went wrong.
    pub message: String,
}

/// Somewhere to send feedback records.
pub trait Feedback: Send + Sync {
    /// Puts one `connection_gone` record.
    fn connection_gone(
        &self,
        gone: ConnectionGone,
    ) -> impl Future<Output = Result<(), FeedbackError>> + Send;

    /// Puts a `tick` stamped `at` on every open shard; returns how many shards got one.
    fn tick_every_shard(
        &self,
        at: EpochMillis,
    ) -> impl Future<Output = Result<usize, FeedbackError>> + Send;
}

/// Kinesis `PutRecord` on the processor's own stream.
#[derive(Debug, Clone)]
pub struct KinesisFeedback {
    client: aws_sdk_kinesis::Client,
    stream: String,
}

impl KinesisFeedback {
    /// Feedback to `stream`.
    pub fn new(client: aws_sdk_kinesis::Client, stream: impl Into<String>) -> Self {
        KinesisFeedback {
            client,
            stream: stream.into(),
        }
    }
}

impl Feedback for KinesisFeedback {
    async fn connection_gone(&self, gone: ConnectionGone) -> Result<(), FeedbackError> {
        let connection_id = gone.connection_id.clone();
        let data = schemas::encode_json(&Record::ConnectionGone(gone));
        self.client
            .put_record()
            .stream_name(&self.stream)
            .partition_key(&connection_id)
            .data(Blob::new(data))
            .send()
            .await
            .map_err(kinesis_error(format!("connection {connection_id}")))?;
        tracing::info!(connection_id = %connection_id, "connection_gone fed back");
        Ok(())
    }

    async fn tick_every_shard(&self, at: EpochMillis) -> Result<usize, FeedbackError> {
        let source = KinesisSource::new(self.client.clone(), &self.stream);
        let shards = source.shards().await.map_err(|e| FeedbackError {
            about: "shards".into(),
            message: e.to_string(),
        })?;
        let open: Vec<(String, String)> = shards
            .into_iter()
            .filter(|s| !s.closed)
            .filter_map(|s| Some((s.id, s.starting_hash_key?)))
            .collect();
        for (shard, start) in &open {
            let data = schemas::encode_json(&Record::Tick(Tick::new(shard.as_str(), at)));
            self.client
                .put_record()
                .stream_name(&self.stream)
                .partition_key(shard)
                .explicit_hash_key(start)
                .data(Blob::new(data))
                .send()
                .await
                .map_err(kinesis_error(format!("shard {shard}")))?;
        }
        Ok(open.len())
    }
}

fn kinesis_error<E: std::error::Error + 'static>(about: String) -> impl FnOnce(E) -> FeedbackError {
    move |e| FeedbackError {
        about,
        message: aws_sdk_kinesis::error::DisplayErrorContext(e).to_string(),
    }
}

/// Feedback kept in memory, for tests: a stream of one shard unless told otherwise.
#[derive(Debug, Default)]
pub struct MemoryFeedback {
    records: Mutex<Vec<ConnectionGone>>,
    shards: Vec<String>,
    ticks: Mutex<Vec<Tick>>,
}

impl MemoryFeedback {
    /// No feedback yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// No feedback yet, on a stream whose open shards are `shards`.
    pub fn with_shards(shards: &[&str]) -> Self {
        MemoryFeedback {
            shards: shards.iter().map(|s| (*s).to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Every tick put so far.
    pub fn ticks(&self) -> Vec<Tick> {
        self.ticks.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Everything fed back so far.
    pub fn records(&self) -> Vec<ConnectionGone> {
        self.records.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Feedback for MemoryFeedback {
    async fn connection_gone(&self, gone: ConnectionGone) -> Result<(), FeedbackError> {
        let mut records = self.records.lock().map_err(|_| FeedbackError {
            about: format!("connection {}", gone.connection_id),
            message: "poisoned lock".into(),
        })?;
        records.push(gone);
        Ok(())
    }

    async fn tick_every_shard(&self, at: EpochMillis) -> Result<usize, FeedbackError> {
        let mut ticks = self.ticks.lock().map_err(|_| FeedbackError {
            about: "shards".into(),
            message: "poisoned lock".into(),
        })?;
        let shards = if self.shards.is_empty() {
            vec!["shardId-000000000000".to_owned()]
        } else {
            self.shards.clone()
        };
        ticks.extend(shards.iter().map(|s| Tick::new(s.as_str(), at)));
        Ok(shards.len())
    }
}
