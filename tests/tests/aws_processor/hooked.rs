//! The table with something happening before each commit: another shard's batch committing in
//! between (`racing`), or DynamoDB throttling (`failures`). One delegating store for both.

use aws_adapters::cost::Cost;
use aws_adapters::dedup::Sent;
use aws_adapters::dynamo::DynamoStore;
use aws_adapters::sink_port::RecordingSink;
use aws_adapters::source::InRecord;
use aws_adapters::store_port::{DedupMark, Loaded, RevisionedStore, StoreError, Write};
use projections::{CommitOutcome, Key};
use schemas::EventId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tests::aws::handler;

/// What happens before a commit.
pub enum BeforeCommit {
    /// Another writer handles these records whole, once, before the first commit.
    Racer(Mutex<Option<Vec<InRecord>>>),
    /// Every commit fails as throttled while this is true.
    Throttled(Mutex<bool>),
}

/// The fixture's table, with [`BeforeCommit`].
pub struct HookedStore {
    /// The table.
    pub inner: Arc<DynamoStore>,
    /// What happens before each commit.
    pub before_commit: BeforeCommit,
}

impl RevisionedStore for HookedStore {
    async fn load_many(&self, keys: &[Key]) -> Result<Vec<Loaded>, StoreError> {
        self.inner.load_many(keys).await
    }
    async fn commit(&self, writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        match &self.before_commit {
            BeforeCommit::Racer(racer) => {
                let records = racer.lock().ok().and_then(|mut r| r.take());
                if let Some(records) = records {
                    let other = handler(self.inner.clone(), RecordingSink::new());
                    let report = other.handle(&records).await;
                    assert_eq!(report.failed_at, None, "{:?}", report.failure);
                }
            }
            BeforeCommit::Throttled(throttled) => {
                if throttled.lock().is_ok_and(|t| *t) {
                    return Err(StoreError {
                        retryable: true,
                        op: "PutItem",
                        message: "ProvisionedThroughputExceededException".into(),
                    });
                }
            }
        }
        self.inner.commit(writes).await
    }
    async fn publish(&self, messages: &[Write]) -> Result<(), StoreError> {
        self.inner.publish(messages).await
    }
    async fn delivered(&self, events: &[EventId]) -> Result<HashMap<EventId, Sent>, StoreError> {
        self.inner.delivered(events).await
    }
    async fn mark_delivered(&self, marks: &[DedupMark]) -> Result<(), StoreError> {
        self.inner.mark_delivered(marks).await
    }
    fn cost(&self) -> Cost {
        self.inner.cost()
    }
}
