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
//! Throttling and 5xx are retried by the SDK (see [`crate::clients`]); what still fails is a
//! [`StoreError`] marked retryable, and the batch is retried from its first record.

use crate::cost::{Cost, CostMeter};
use crate::dedup::Sent;
use crate::item::{self, get_n, key_of, n, Item};
use crate::sinks::classify::ErrorClass;
use crate::store_port::{DedupMark, Loaded, RevisionedStore, StoreError, Write};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use projections::{CommitOutcome, Entry, Key};
use schemas::EventId;
use std::collections::HashMap;
use std::time::Duration;
use write::one_writer;

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
        // Rooms, devices and the lobby are partitions, read by `Query`; every other entry is one item,
        // and so is a whole lobby an earlier release wrote, read along with its partitions.
        // A room's history is read only when its head (read with the other items) says it has
        // a message as new as the membership asking: most memberships are newer than every
        // message of their room.
        let (histories, keys_left): (Vec<&Key>, Vec<&Key>) =
            keys.iter().partition(|k| matches!(k, Key::History { .. }));
        let (rooms, items): (Vec<&Key>, Vec<&Key>) = keys_left
            .into_iter()
            .partition(|k| matches!(k, Key::Room(_) | Key::Device(_)));
        let mut pks: Vec<String> = items.iter().map(ToString::to_string).collect();
        let histories: Vec<(&Key, &str, u64)> = histories
            .into_iter()
            .filter_map(|key| match key {
                Key::History { room, since } => Some((key, room.as_str(), *since)),
                _ => None,
            })
            .collect();
        pks.extend(histories.iter().map(|(_, room, _)| item::head_pk(room)));
        pks.sort_unstable();
        pks.dedup();
        let found = self.batch_get(pks).await?;
        let mut pks: Vec<String> = rooms.iter().map(ToString::to_string).collect();
        if keys.contains(&Key::Lobby) {
            pks.extend((0..item::LOBBY_PARTITIONS).map(|n| format!("lobby#{n}")));
        }
        let permits = tokio::sync::Semaphore::new(WRITES_IN_FLIGHT);
        let queries = pks
            .iter()
            .map(|pk| self.query_limited(&permits, pk.clone()));
        let asked: Vec<(&Key, &str, u64)> = histories
            .into_iter()
            .filter(|(_, room, since)| {
                let head = found.get(&item::head_pk(room));
                head.and_then(item::head_newest)
                    .is_some_and(|newest| newest >= *since)
            })
            .collect();
        let history_queries = asked
            .iter()
            .map(|(_, room, since)| self.query_history(&permits, room, *since));
        let (results, history_results) = futures_util::future::join(
            futures_util::future::join_all(queries),
            futures_util::future::join_all(history_queries),
        )
        .await;
        let mut partitions: HashMap<String, Vec<Item>> = HashMap::with_capacity(pks.len());
        for (pk, result) in pks.iter().zip(results) {
            partitions.insert(pk.clone(), result?);
        }
        let mut loaded_histories: HashMap<&Key, Vec<Item>> = HashMap::new();
        for ((key, ..), result) in asked.iter().zip(history_results) {
            loaded_histories.insert(key, result?);
        }
        keys.iter()
            .map(|key| {
                if let Key::History { .. } = key {
                    let pk = key.to_string();
                    let messages = loaded_histories.get(key).map_or(&[][..], Vec::as_slice);
                    // Messages are written on their own: the history has no revision.
                    let history = item::decode_history(&pk, messages)?;
                    return Ok(Loaded {
                        entry: (!history.is_empty()).then_some(Entry::History(history)),
                        rev: None,
                    });
                }
                let pk = key.to_string();
                if let Some(parts) = partitions.get(&pk) {
                    // Neither has a revision: their parts are written on their own.
                    let entry = match key {
                        Key::Device(_) => Entry::Device(item::decode_device(&pk, parts)?),
                        _ => Entry::Room(item::decode_room(&pk, parts)?),
                    };
                    return Ok(Loaded {
                        entry: (!parts.is_empty()).then_some(entry),
                        rev: None,
                    });
                }
                if *key == Key::Lobby {
                    // Neither has the lobby: each connection's item is written on its own.
                    let mut parts: Vec<Item> = found.get(&pk).into_iter().cloned().collect();
                    for n in 0..item::LOBBY_PARTITIONS {
                        let partition = partitions.get(&format!("lobby#{n}"));
                        parts.extend(partition.into_iter().flatten().cloned());
                    }
                    let lobby = item::decode_lobby(&parts)?;
                    return Ok(Loaded {
                        entry: (!parts.is_empty()).then_some(Entry::Lobby(lobby)),
                        rev: None,
                    });
                }
                match found.get(&pk) {
                    Some(item) => {
                        let (entry, rev) = item::decode(&pk, item)?;
                        Ok(Loaded {
                            entry: Some(entry),
                            rev: Some(rev),
                        })
                    }
                    None => Ok(Loaded::default()),
                }
            })
            .collect()
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

    async fn mark_delivered(&self, marks: &[DedupMark]) -> Result<(), StoreError> {
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
