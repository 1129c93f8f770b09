//! The reads of [`DynamoStore`]: items by key (`BatchGetItem`, 100 keys a call, unprocessed keys
//! retried) and the items of a partition (`Query`, page by page), both strongly consistent and
//! counted in what the store's calls cost.

use super::{backoff, classify, DynamoStore, UNPROCESSED_ROUNDS};
use crate::cost::item_size;
use crate::item::{self, key_of, Item};
use crate::store_port::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnConsumedCapacity};
use std::collections::HashMap;

impl DynamoStore {
    /// Gets items by `pk` (100 per call), retrying unprocessed keys.
    pub(super) async fn batch_get(
        &self,
        pks: Vec<String>,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let mut found = HashMap::with_capacity(pks.len());
        for chunk in pks.chunks(100) {
            let mut keys: Vec<Item> = chunk.iter().cloned().map(key_of).collect();
            let mut round = 0;
            while !keys.is_empty() {
                let asked = keys.len();
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError {
                        retryable: false,
                        op: "BatchGetItem",
                        message: e.to_string(),
                    })?;
                self.meter.request();
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(|e| classify("BatchGetItem", e))?;
                self.meter.reported(out.consumed_capacity().iter());
                let mut returned = 0;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .into_iter()
                    .flatten()
                {
                    returned += 1;
                    self.meter.read(Some(item_size(&item)));
                    if let Some(pk) = item::get_s(&item, "pk") {
                        found.insert(pk.to_owned(), item);
                    }
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                // Every key read and not found costs a read too.
                for _ in returned..asked.saturating_sub(keys.len()) {
                    self.meter.read(None);
                }
                if !keys.is_empty() {
                    round += 1;
                    if round > UNPROCESSED_ROUNDS {
                        return Err(StoreError {
                            retryable: true,
                            op: "BatchGetItem",
                            message: format!("{} keys still unprocessed", keys.len()),
                        });
                    }
                    tracing::debug!(unprocessed = keys.len(), round, "BatchGetItem: retrying");
                    backoff(round).await;
                }
            }
        }
        Ok(found)
    }

    /// The items of the newest messages of `room`'s history sent at or after `since` (as many
    /// as the fold's history keeps), newest first.
    ///
    /// # Errors
    /// DynamoDB errors (after the SDK's retries).
    pub async fn history_items(&self, room: &str, since: u64) -> Result<Vec<Item>, StoreError> {
        self.query_history(&tokio::sync::Semaphore::new(1), room, since)
            .await
    }

    /// Every item of the partition `pk` (a room's members, without its messages: see
    /// [`DynamoStore::history_items`]), by `Query`, strongly consistent,
    /// page by page; counted in [`RevisionedStore::cost`](crate::store_port::RevisionedStore::cost).
    ///
    /// # Errors
    /// DynamoDB errors (after the SDK's retries).
    pub async fn query_partition(&self, pk: String) -> Result<Vec<Item>, StoreError> {
        self.query_limited(&tokio::sync::Semaphore::new(1), pk)
            .await
    }

    /// The newest messages of `room`'s history sent at or after `since`, as many as the fold's
    /// history keeps: a `Query` of the message items of its partition, newest first, once
    /// `permits` has a permit for it.
    ///
    /// # Errors
    /// DynamoDB errors (after the SDK's retries).
    pub(super) async fn query_history(
        &self,
        permits: &tokio::sync::Semaphore,
        room: &str,
        since: u64,
    ) -> Result<Vec<Item>, StoreError> {
        let values = HashMap::from([
            (":pk".to_owned(), AttributeValue::S(format!("room#{room}"))),
            (
                ":from".to_owned(),
                AttributeValue::S(item::timeline_from(since)),
            ),
            (
                ":to".to_owned(),
                AttributeValue::S(item::TIMELINE_END.into()),
            ),
        ]);
        let range = "pk = :pk AND sk BETWEEN :from AND :to";
        self.query(permits, (range, values), Some(self.history_max))
            .await
    }

    /// [`DynamoStore::query_partition`], once `permits` has a permit for it.
    pub(super) async fn query_limited(
        &self,
        permits: &tokio::sync::Semaphore,
        pk: String,
    ) -> Result<Vec<Item>, StoreError> {
        // A room's messages sort after its members, and are read on their own.
        let mut values = HashMap::from([(":pk".to_owned(), AttributeValue::S(pk.clone()))]);
        let condition = if pk.starts_with("room#") {
            values.insert(
                ":timeline".to_owned(),
                AttributeValue::S(item::TIMELINE.to_owned()),
            );
            "pk = :pk AND sk < :timeline"
        } else {
            "pk = :pk"
        };
        self.query(permits, (condition, values), None).await
    }

    /// The items a key condition (with its values) selects, strongly consistent, page by page,
    /// once `permits` has a permit; with `newest`, at most that many, the last by sort key.
    async fn query(
        &self,
        permits: &tokio::sync::Semaphore,
        (condition, values): (&str, Item),
        newest: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let _permit = permits.acquire().await.map_err(|e| StoreError {
            retryable: false,
            op: "Query",
            message: e.to_string(),
        })?;
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let left = newest.map(|n| n.saturating_sub(items.len()));
            if left == Some(0) {
                return Ok(items);
            }
            self.meter.request();
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .set_scan_index_forward(newest.map(|_| false))
                .set_limit(left.map(|n| i32::try_from(n).unwrap_or(i32::MAX)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            self.meter.reported(out.consumed_capacity());
            let page = out.items.unwrap_or_default();
            // A page is one read of all its items' bytes together, rounded up once.
            self.meter.read(Some(page.iter().map(item_size).sum()));
            items.extend(page);
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}
