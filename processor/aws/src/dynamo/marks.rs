//! Dedup marks: `dedup#{eventId}` items that say which buckets of an event's deliveries are done
//! ([`crate::dedup`]), so a retried batch sends nothing twice.

use super::{DynamoStore, BATCH_WRITE_ITEMS, WRITES_IN_FLIGHT};
use crate::dedup::Sent;
use crate::item::{key_of, n, Item};
use crate::store_port::{DedupMark, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use schemas::EventId;
use std::collections::HashMap;

impl DynamoStore {
    /// What the dedup marks of `events` say is done.
    pub(super) async fn read_marks(
        &self,
        events: &[EventId],
    ) -> Result<HashMap<EventId, Sent>, StoreError> {
        let pks: Vec<String> = events.iter().map(|e| format!("dedup#{e}")).collect();
        let found = self.batch_get(pks.clone()).await?;
        let mut out = HashMap::new();
        for (event, pk) in events.iter().zip(&pks) {
            let Some(mark) = found.get(pk) else {
                continue;
            };
            // The ids an earlier release recorded one by one, and the buckets done.
            let mut sent = match mark.get("sent") {
                Some(AttributeValue::Ss(ids)) => Sent::from_ids(ids.iter().cloned()),
                _ => Sent::new(),
            };
            if let Some(AttributeValue::B(done)) = mark.get("done") {
                sent = sent.with_bytes(done.as_ref()).ok_or_else(|| StoreError {
                    retryable: false,
                    op: "decode",
                    message: format!("item {pk}: `done` is not a dedup record"),
                })?;
            }
            out.insert(*event, sent);
        }
        Ok(out)
    }

    /// Stores `marks` (25 to a `BatchWriteItem` call), each with its `ttl`.
    pub(super) async fn write_marks(&self, marks: &[DedupMark]) -> Result<(), StoreError> {
        let items: Vec<Item> = marks
            .iter()
            .filter(|m| !m.sent.is_empty())
            .map(|m| {
                let mut item = key_of(format!("dedup#{}", m.event_id));
                let done = m.sent.to_bytes();
                if !done.is_empty() {
                    item.insert("done".into(), AttributeValue::B(done.into()));
                }
                let ids: Vec<String> = m.sent.ids().map(str::to_owned).collect();
                if !ids.is_empty() {
                    item.insert("sent".into(), AttributeValue::Ss(ids));
                }
                item.insert("ttl".into(), n(m.expires_at_s));
                item
            })
            .collect();
        let permits = tokio::sync::Semaphore::new(WRITES_IN_FLIGHT);
        let calls: Vec<_> = items
            .chunks(BATCH_WRITE_ITEMS)
            .map(|chunk| self.batch_write(&permits, chunk.to_vec()))
            .collect();
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .collect()
    }
}
