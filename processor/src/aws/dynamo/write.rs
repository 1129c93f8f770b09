//! The writes of [`DynamoStore`]: conditional puts of entries other writers may change at the
//! same time, and `BatchWriteItem` calls for entries with one writer and for dedup marks.

use super::{backoff, classify, DynamoStore, BATCH_WRITE_ITEMS, UNPROCESSED_ROUNDS};
use crate::aws::cost::item_size;
use crate::aws::item::{self, n, Item};
use crate::aws::store_port::{StoreError, Write};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{PutRequest, ReturnConsumedCapacity, WriteRequest};
use projections::Key;
use std::collections::HashSet;

impl DynamoStore {
    /// Puts up to 25 items (DynamoDB's maximum) in one `BatchWriteItem` call, unconditionally
    /// (the call takes no conditions), once `permits` has a permit for it, retrying unprocessed
    /// items with backoff; counted in [`RevisionedStore::cost`](crate::aws::store_port::RevisionedStore::cost).
    ///
    /// # Errors
    /// DynamoDB errors (after the SDK's retries), or items still unprocessed after a few rounds
    /// (retryable).
    pub async fn batch_write(
        &self,
        permits: &tokio::sync::Semaphore,
        items: Vec<Item>,
    ) -> Result<(), StoreError> {
        let failed = |message: String| StoreError {
            retryable: false,
            op: "BatchWriteItem",
            message,
        };
        let _permit = permits.acquire().await.map_err(|e| failed(e.to_string()))?;
        let mut requests = Vec::with_capacity(items.len());
        for item in items {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| failed(e.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let mut round = 0;
        while !requests.is_empty() {
            self.meter.request();
            let sent: Vec<(String, u64)> = requests.iter().filter_map(put_pk_and_size).collect();
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| classify("BatchWriteItem", e))?;
            self.meter.reported(out.consumed_capacity().iter());
            requests = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            let left: HashSet<String> = requests
                .iter()
                .filter_map(|r| put_pk_and_size(r).map(|(pk, _)| pk))
                .collect();
            for (pk, size) in &sent {
                if !left.contains(pk) {
                    self.meter.write(*size);
                }
            }
            if !requests.is_empty() {
                round += 1;
                if round > UNPROCESSED_ROUNDS {
                    return Err(StoreError {
                        retryable: true,
                        op: "BatchWriteItem",
                        message: format!("{} items still unprocessed", requests.len()),
                    });
                }
                backoff(round).await;
            }
        }
        Ok(())
    }

    /// Writes entries that have one writer ([`one_writer`]) in `BatchWriteItem` calls, each at
    /// the revision after the one it was read at, and returns those revisions.
    pub(super) async fn put_unconditionally(
        &self,
        permits: &tokio::sync::Semaphore,
        writes: &[&Write],
    ) -> Result<Vec<(Key, u64)>, StoreError> {
        let mut written = Vec::with_capacity(writes.len());
        let mut items = Vec::with_capacity(writes.len());
        for w in writes {
            let rev = w.expected.map_or(1, |r| r + 1);
            items.push(item::encode(w, rev)?);
            written.push((w.key.clone(), rev));
        }
        let calls: Vec<_> = items
            .chunks(BATCH_WRITE_ITEMS)
            .map(|chunk| self.batch_write(permits, chunk.to_vec()))
            .collect();
        for result in futures_util::future::join_all(calls).await {
            result?;
        }
        Ok(written)
    }

    pub(super) async fn put_limited(
        &self,
        permits: &tokio::sync::Semaphore,
        write: &Write,
    ) -> Result<Option<(Key, u64)>, StoreError> {
        let _permit = permits.acquire().await.map_err(|e| StoreError {
            retryable: false,
            op: "PutItem",
            message: e.to_string(),
        })?;
        self.put_one(write).await
    }

    async fn put_one(&self, write: &Write) -> Result<Option<(Key, u64)>, StoreError> {
        let watermark = matches!(write.key, Key::Watermark);
        let rev = write.expected.map_or(1, |r| r + 1);
        let item = item::encode(write, rev)?;
        let size = item_size(&item);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = if watermark {
            let t = match &write.entry {
                projections::Entry::Watermark(t) => *t,
                _ => 0,
            };
            put.condition_expression("attribute_not_exists(pk) OR wm < :wm")
                .expression_attribute_values(":wm", n(t))
        } else if let Some(expected) = write.expected {
            put.condition_expression("attribute_not_exists(pk) OR rev = :expected")
                .expression_attribute_values(":expected", n(expected))
        } else {
            put.condition_expression("attribute_not_exists(pk)")
        };
        self.meter.request();
        match put
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
        {
            Ok(out) => {
                self.meter.write(size);
                self.meter.reported(out.consumed_capacity());
                Ok(Some((write.key.clone(), rev)))
            }
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                // A failed condition is charged as the write would have been.
                self.meter.write(size);
                if watermark {
                    // A newer watermark is stored: the max register already holds ours.
                    Ok(Some((write.key.clone(), rev)))
                } else {
                    Ok(None)
                }
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }
}

/// Whether the entry of `key` has one writer, so that it can be written without a condition,
/// many to a call. A `conn#` entry changes only with its connection's own records (its route
/// events and `connection_gone` feedback), whose partition key is the connection id: one
/// shard, and within it one invocation at a time (Lambda keeps a partition key's records in
/// order, whatever the parallelization factor), writes it.
pub(super) fn one_writer(key: &Key) -> bool {
    matches!(key, Key::Connection(_))
}

/// The `pk` and size of a `BatchWriteItem` put.
fn put_pk_and_size(request: &WriteRequest) -> Option<(String, u64)> {
    let item = request.put_request()?.item();
    Some((item::get_s(item, "pk")?.to_owned(), item_size(item)))
}
