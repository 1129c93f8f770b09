//! The quarantine port: where records that cannot be decoded go, with why, so that nothing is
//! retried forever, blocks the shard, or is dropped silently (docs/architecture.md, The batch
//! protocol, step 1).
//!
//! The S3/SQS adapter lives beside the delivery sinks; [`MemoryQuarantine`] is for tests and
//! [`LogQuarantine`] writes each item as one JSON line to stderr (CloudWatch on Lambda).

use serde::Serialize;
use std::future::Future;
use std::sync::Mutex;

/// One record that could not be decoded (or a delivery that can never be sent), as it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoisonRecord {
    /// The bytes exactly as read from the stream.
    #[serde(serialize_with = "lossy_utf8")]
    pub raw: Vec<u8>,
    /// Why it was rejected (for a decoding error: which field, expected and found).
    pub error: String,
    /// The shard it was read from.
    pub shard: String,
    /// Its sequence number in the shard.
    pub sequence_number: String,
    /// When it was quarantined, ms epoch (wall clock: an operator's record, not part of the fold).
    pub at_ms: u64,
    /// For an undeliverable delivery, its id: one record can cause several deliveries (a room
    /// message to many members), and each must be kept, not overwrite the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
}

fn lossy_utf8<S: serde::Serializer>(raw: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(raw))
}

/// Keeping a poison record failed; the record is not done and its batch must be retried from it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("quarantine: {message}")]
pub struct QuarantineError {
    /// Whether trying again may succeed (throttling, a 5xx, a timeout): the batch then fails from
    /// the poison record and is retried; otherwise the poison record cannot be kept at all.
    pub retryable: bool,
    /// What went wrong.
    pub message: String,
}

/// Somewhere to keep poison records. `put` returns only once the item is stored durably.
pub trait Quarantine: Send + Sync {
    /// Keeps one poison record.
    fn put(&self, item: PoisonRecord) -> impl Future<Output = Result<(), QuarantineError>> + Send;
}

/// A quarantine in memory, for tests: it keeps every item, and can be told to fail.
#[derive(Debug, Default)]
pub struct MemoryQuarantine {
    items: Mutex<Vec<PoisonRecord>>,
    fail: Mutex<bool>,
}

impl MemoryQuarantine {
    /// An empty quarantine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything put so far, in order.
    pub fn items(&self) -> Vec<PoisonRecord> {
        self.items.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Makes every following `put` fail (or succeed again).
    pub fn set_failing(&self, fail: bool) {
        if let Ok(mut f) = self.fail.lock() {
            *f = fail;
        }
    }
}

impl Quarantine for MemoryQuarantine {
    async fn put(&self, item: PoisonRecord) -> Result<(), QuarantineError> {
        if self.fail.lock().map(|f| *f).unwrap_or(false) {
            return Err(QuarantineError {
                retryable: true,
                message: "injected failure".into(),
            });
        }
        let mut items = self.items.lock().map_err(|_| QuarantineError {
            retryable: false,
            message: "poisoned lock".into(),
        })?;
        items.push(item);
        Ok(())
    }
}

/// A quarantine that logs each item as one JSON line on stderr: what a Lambda without a
/// configured quarantine bucket does, so poison records land in CloudWatch Logs, not nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogQuarantine;

impl Quarantine for LogQuarantine {
    async fn put(&self, item: PoisonRecord) -> Result<(), QuarantineError> {
        let line = serde_json::to_string(&item).map_err(|e| QuarantineError {
            retryable: false,
            message: e.to_string(),
        })?;
        tracing::error!(shard = %item.shard, seq = %item.sequence_number, quarantined = %line, "poison record");
        Ok(())
    }
}
