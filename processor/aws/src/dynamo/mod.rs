//! The DynamoDB adapter of [`RevisionedStore`] (the item layout is in [`crate::item`]).
//!
//! - `load_many`: BatchGetItem, 100 keys per call, strongly consistent (a stale read would only
//!   cost a conflict and a reload, but consistent reads make conflicts rare), `UnprocessedKeys`
//!   retried with exponential backoff and jitter; a room, a partition of member items, by
//!   `Query`, page by page.
//! - `commit`: entries other writers may change at the same time, one PutItem each, up to
//!   [`WRITES_IN_FLIGHT`] at once, on condition `attribute_not_exists(pk) OR rev = :expected`;
//!   `ConditionalCheckFailed` is a conflict. Entries with one writer (`conn#`, see `one_writer`)
//!   go 25 to a BatchWriteItem call, without a condition: nobody else can have moved them (a
//!   room's `subscriber#` items and the lobby's connections likewise). A room's `member#` item is
//!   a register, put on condition that the stored one is older: it never conflicts. Parts of
//!   rooms and of the lobby are stored before the other entries (see `Step::Commit`).
//! - `publish`: a batch's chat messages, BatchWriteItem, then their rooms' heads, each a PutItem
//!   on condition that the stored head is older (see `Step::Publish`).
//! - dedup marks: BatchGetItem / BatchWriteItem (25 per call), with a `ttl`; a mark holds the
//!   buckets of the event's deliveries that are done ([`crate::dedup`]), at most 576 bytes.
//!
//! The reads are in `read` (calls) and `load` (which keys are items and which partitions), the
//! writes in `write`, the dedup marks in `marks`.
//!
//! Throttling and 5xx are retried by the SDK (see [`crate::clients`]); what still fails is a
//! [`StoreError`] marked retryable, and the batch is retried from its first record.

use crate::cost::{Cost, CostMeter};
use crate::dedup::Sent;
use crate::item::{self, get_n, key_of, Item};
use crate::sinks::classify::ErrorClass;
use crate::store_port::{DedupMark, Loaded, RevisionedStore, StoreError, Write};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::Client;
use projections::{CommitOutcome, Key};
use schemas::EventId;
use std::collections::HashMap;
use std::time::Duration;
use write::one_writer;

mod load;
mod marks;
mod read;
mod write;

/// Conditional writes in flight at once.
pub const WRITES_IN_FLIGHT: usize = 16;
/// Items per `BatchWriteItem` call (DynamoDB's maximum).
const BATCH_WRITE_ITEMS: usize = 25;
/// Rounds of `UnprocessedKeys` / `UnprocessedItems` before giving up (retryable).
const UNPROCESSED_ROUNDS: u32 = 8;

/// The table.
#[derive(Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    meter: CostMeter,
    /// How long a room member that left stays ([`item::left_member_lifetime_ms`]).
    left_lifetime_ms: u64,
    /// How long a room's message stays in the table ([`item::message_lifetime_ms`]).
    message_lifetime_ms: u64,
    /// How many of a room's newest messages a history load reads at most.
    history_max: usize,
}

/// Whether an SDK error is worth retrying later, and what it says: the classification every
/// AWS adapter shares ([`crate::sinks::classify`]: throttling and capacity codes, 5xx by the
/// response's status, timeouts and network failures are retryable; the rest is not).
pub fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    op: &'static str,
    err: SdkError<E, HttpResponse>,
) -> StoreError {
    let (facts, message) = crate::sinks::classify::facts(&err);
    StoreError {
        retryable: crate::sinks::classify::classify(&facts) == ErrorClass::Retryable,
        op,
        message,
    }
}

/// Exponential backoff with full jitter: up to 25 ms x 2^round, capped at 2 s.
pub async fn backoff(round: u32) {
    let cap = (25u64 << round.min(10)).min(2_000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let jittered = (nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) % (cap + 1);
    tokio::time::sleep(Duration::from_millis(jittered)).await;
}

impl DynamoStore {
    /// The store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            meter: CostMeter::default(),
            left_lifetime_ms: item::left_member_lifetime_ms(&projections::Config::default()),
            message_lifetime_ms: item::message_lifetime_ms(&projections::Config::default()),
            history_max: projections::Config::default().history_max,
        }
    }

    /// The store, keeping room members that left and rooms' messages as long as `config`'s
    /// fold needs them, and reading as much of a room's history as it keeps.
    pub fn for_fold(mut self, config: &projections::Config) -> Self {
        self.left_lifetime_ms = item::left_member_lifetime_ms(config);
        self.message_lifetime_ms = item::message_lifetime_ms(config);
        self.history_max = config.history_max;
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// DynamoDB requests made so far (every call, retries of unprocessed keys included).
    pub fn requests(&self) -> u64 {
        self.meter.total().requests
    }
}

impl RevisionedStore for DynamoStore {
    fn cost(&self) -> Cost {
        self.meter.total()
    }

    async fn load_many(&self, keys: &[Key]) -> Result<Vec<Loaded>, StoreError> {
        self.load_entries(keys).await
    }

    async fn publish(&self, messages: &[Write]) -> Result<(), StoreError> {
        let messages: Vec<&Write> = messages.iter().collect();
        let permits = tokio::sync::Semaphore::new(WRITES_IN_FLIGHT);
        self.put_unconditionally(&permits, &messages).await?;
        // A room's head moves only once its messages are stored: a reader that sees it finds
        // them.
        self.put_heads(&permits, &messages).await
    }

    async fn commit(&self, writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        // Room members first: a member's write was decided by a change of a client or a
        // connection, and a batch retried after a failed commit decides it again only if that
        // change is not stored yet.
        let (parts, writes): (Vec<&Write>, Vec<&Write>) =
            writes.iter().partition(|w| w.key.is_part());
        let (members, others): (Vec<&Write>, Vec<&Write>) = parts
            .into_iter()
            .partition(|w| matches!(w.key, Key::Member { .. }));
        let messages: Vec<&Write> = others
            .iter()
            .copied()
            .filter(|w| matches!(w.key, Key::Message { .. }))
            .collect();
        let permits = tokio::sync::Semaphore::new(WRITES_IN_FLIGHT);
        // The others (subscribers, connections of the lobby, messages) have one writer each.
        let (members, others) = futures_util::future::join(
            self.put_members(&permits, &members),
            self.put_unconditionally(&permits, &others),
        )
        .await;
        members?;
        others?;
        // A room's head moves only once its messages are stored: a reader that sees it finds
        // them.
        self.put_heads(&permits, &messages).await?;

        let (single, shared): (Vec<&Write>, Vec<&Write>) =
            writes.into_iter().partition(|w| one_writer(&w.key));
        // A semaphore and `join_all`, not `buffer_unordered`: built in a loop, the futures need
        // no closure, whose lifetimes the `Send` check of this trait method cannot prove.
        let mut puts = Vec::with_capacity(shared.len());
        for w in &shared {
            puts.push(self.put_limited(&permits, w));
        }
        let (results, batched) = futures_util::future::join(
            futures_util::future::join_all(puts),
            self.put_unconditionally(&permits, &single),
        )
        .await;
        let mut out = CommitOutcome::default();
        let mut first_error = batched.as_ref().err().cloned();
        if let Ok(written) = batched {
            out.written = written;
        }
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(Some(written)) => out.written.push(written),
                Ok(None) => out.conflicts.push(shared[i].key.clone()),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    async fn delivered(&self, events: &[EventId]) -> Result<HashMap<EventId, Sent>, StoreError> {
        self.read_marks(events).await
    }

    async fn mark_delivered(&self, marks: &[DedupMark]) -> Result<(), StoreError> {
        self.write_marks(marks).await
    }
}

/// Reads one item by `pk` (checkpoints, tests).
///
/// # Errors
/// DynamoDB errors.
pub async fn get_item(client: &Client, table: &str, pk: &str) -> Result<Option<Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key_of(pk.to_owned())))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| classify("GetItem", e))?;
    Ok(out.item)
}

/// Writes one item with `pk`, `sk` and `attrs` (no condition).
///
/// # Errors
/// DynamoDB errors.
pub async fn put_item(
    client: &Client,
    table: &str,
    pk: &str,
    attrs: Item,
) -> Result<(), StoreError> {
    let mut item = key_of(pk.to_owned());
    item.extend(attrs);
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| classify("PutItem", e))?;
    Ok(())
}

/// The revision stored for `key`, if any (tests and tools).
///
/// # Errors
/// DynamoDB errors.
pub async fn revision(client: &Client, table: &str, key: &Key) -> Result<Option<u64>, StoreError> {
    Ok(get_item(client, table, &key.to_string())
        .await?
        .and_then(|i| get_n(&i, "rev")))
}
