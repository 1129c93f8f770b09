//! The writes of [`DynamoStore`]: conditional puts of entries other writers may change at the
//! same time (on their revision) and of room members (on their register's time), and
//! `BatchWriteItem` calls for entries with one writer and for dedup marks.

use super::{backoff, classify, DynamoStore, BATCH_WRITE_ITEMS, UNPROCESSED_ROUNDS};
use crate::cost::item_size;
use crate::item::{self, n, Item};
use crate::store_port::{StoreError, Write};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, ReturnConsumedCapacity, WriteRequest};
use projections::{Entry, Key, Lww, Membership, Merge};
use std::collections::{BTreeMap, HashSet};

impl DynamoStore {
    /// Puts up to 25 items (DynamoDB's maximum) in one `BatchWriteItem` call, unconditionally
    /// (the call takes no conditions), once `permits` has a permit for it, retrying unprocessed
    /// items with backoff; counted in [`RevisionedStore::cost`](crate::store_port::RevisionedStore::cost).
    ///
    /// # Errors
    /// DynamoDB errors (after the SDK's retries), or items still unprocessed after a few rounds
    /// (retryable).
    pub async fn batch_write(
        &self,
        permits: &tokio::sync::Semaphore,
        items: Vec<Item>,
    ) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(items.len());
        for item in items {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| batch_failed(e.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        self.batch_requests(permits, requests).await
    }

    /// Deletes up to 25 items, by primary key, in one `BatchWriteItem` call, as
    /// [`DynamoStore::batch_write`] puts them.
    ///
    /// # Errors
    /// As [`DynamoStore::batch_write`].
    pub async fn batch_delete(
        &self,
        permits: &tokio::sync::Semaphore,
        keys: Vec<Item>,
    ) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(keys.len());
        for key in keys {
            let delete = DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(|e| batch_failed(e.to_string()))?;
            requests.push(WriteRequest::builder().delete_request(delete).build());
        }
        self.batch_requests(permits, requests).await
    }

    async fn batch_requests(
        &self,
        permits: &tokio::sync::Semaphore,
        mut requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        let _permit = permits
            .acquire()
            .await
            .map_err(|e| batch_failed(e.to_string()))?;
        let mut round = 0;
        while !requests.is_empty() {
            self.meter.request();
            let sent: Vec<(String, u64)> = requests.iter().filter_map(key_and_size).collect();
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
                .filter_map(|r| key_and_size(r).map(|(key, _)| key))
                .collect();
            for (key, size) in &sent {
                if !left.contains(key) {
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
            items.push(match &w.entry {
                Entry::Member(m) => item::encode_member(&w.key, m, self.left_lifetime_ms),
                Entry::Message(m) => match &w.key {
                    Key::Message { room, .. } => {
                        item::encode_message(room, m, self.message_lifetime_ms)
                    }
                    _ => return Err(put_failed(format!("{} holds a message", w.key))),
                },
                _ => item::encode(w, rev)?,
            });
            // A part has no revision to report.
            if !w.key.is_part() {
                written.push((w.key.clone(), rev));
            }
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

    /// Puts room members' registers ([`Key::Member`]), each on condition that the stored one is
    /// older ([`item::member_condition`]); a failed condition means the store already holds the
    /// join of both registers, so a member never conflicts. Two writes of one member are joined
    /// into one put.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub(super) async fn put_members(
        &self,
        permits: &tokio::sync::Semaphore,
        writes: &[&Write],
    ) -> Result<(), StoreError> {
        let mut registers: BTreeMap<&Key, Lww<Membership>> = BTreeMap::new();
        for w in writes {
            let Entry::Member(register) = &w.entry else {
                return Err(put_failed(format!("{} holds no member", w.key)));
            };
            registers
                .entry(&w.key)
                .and_modify(|r| r.join(register))
                .or_insert_with(|| register.clone());
        }
        let puts = registers
            .into_iter()
            .map(|(key, register)| self.put_member(permits, key, register));
        futures_util::future::join_all(puts)
            .await
            .into_iter()
            .collect()
    }

    async fn put_member(
        &self,
        permits: &tokio::sync::Semaphore,
        key: &Key,
        register: Lww<Membership>,
    ) -> Result<(), StoreError> {
        let item = item::encode_member(key, &register, self.left_lifetime_ms);
        self.put_register(permits, item, item::member_condition(&register))
            .await
    }

    /// Moves the heads of the rooms `messages` (written before) belong to up to their newest
    /// ([`item::encode_head`]), each on condition that the stored head is older.
    ///
    /// # Errors
    /// DynamoDB errors.
    pub(super) async fn put_heads(
        &self,
        permits: &tokio::sync::Semaphore,
        messages: &[&Write],
    ) -> Result<(), StoreError> {
        let mut newest: BTreeMap<&str, u64> = BTreeMap::new();
        for w in messages {
            if let Key::Message { room, sent_at, .. } = &w.key {
                let at = newest.entry(room).or_default();
                *at = (*at).max(*sent_at);
            }
        }
        let puts = newest.into_iter().map(|(room, at)| {
            self.put_register(
                permits,
                item::encode_head(room, at),
                item::head_condition(at),
            )
        });
        futures_util::future::join_all(puts)
            .await
            .into_iter()
            .collect()
    }

    /// Puts a register's `item` on `condition` (that the stored one is older); a failed
    /// condition means the store holds the join of both already.
    async fn put_register(
        &self,
        permits: &tokio::sync::Semaphore,
        item: Item,
        condition: item::Condition,
    ) -> Result<(), StoreError> {
        let _permit = permits
            .acquire()
            .await
            .map_err(|e| put_failed(e.to_string()))?;
        let size = item_size(&item);
        self.meter.request();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(Some(condition.names))
            .set_expression_attribute_values(Some(condition.values))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.write(size);
                self.meter.reported(out.consumed_capacity());
                Ok(())
            }
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                // A failed condition is charged as the write would have been.
                self.meter.write(size);
                Ok(())
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn put_one(&self, write: &Write) -> Result<Option<(Key, u64)>, StoreError> {
        let rev = write.expected.map_or(1, |r| r + 1);
        let item = item::encode(write, rev)?;
        let size = item_size(&item);
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = if let Some(expected) = write.expected {
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
                Ok(None)
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
///
/// A room's `subscriber#` item changes only with its client's lifecycle events, whose partition
/// key is the client id: one writer too. It is the room's register for the client, which only
/// grows, so writing it whole without a condition loses nothing.
///
/// A connection's item of the lobby, and its items of the devices it watches, change only with
/// that connection's records too, and only grow.
pub(super) fn one_writer(key: &Key) -> bool {
    matches!(
        key,
        Key::Connection(_) | Key::Subscriber { .. } | Key::InLobby(_) | Key::Watcher { .. }
    )
}

fn put_failed(message: String) -> StoreError {
    StoreError {
        retryable: false,
        op: "PutItem",
        message,
    }
}

fn batch_failed(message: String) -> StoreError {
    StoreError {
        retryable: false,
        op: "BatchWriteItem",
        message,
    }
}

/// The primary key (`pk` and `sk`) of a `BatchWriteItem` request, and the size it is charged
/// for: a put's item, or a delete's key (a delete is charged for the item it removes, which
/// the request does not carry; at least one unit either way).
fn key_and_size(request: &WriteRequest) -> Option<(String, u64)> {
    let item = match (request.put_request(), request.delete_request()) {
        (Some(put), _) => put.item(),
        (None, Some(delete)) => delete.key(),
        (None, None) => return None,
    };
    let pk = item::get_s(item, "pk")?;
    let sk = item::get_s(item, "sk").unwrap_or_default();
    Some((format!("{pk}\n{sk}"), item_size(item)))
}
