//! `dynamodb://table`: the rebuilt world written into the processor's table, in exactly
//! processor's format (`aws_adapters::item`: one item per projection entry, `pk` = the key,
//! `sk` = `state`, the entry as MessagePack in `state`, `rev`, and the readers' plain attributes
//! on `client#` items; a room as one item per member and one per message of its history, the
//! lobby as one per connection), so the
//! processor reads them back and carries on from them. A room's or the lobby's items the rebuilt
//! world lacks are deleted, and so is a room or a lobby an earlier release wrote whole: what the
//! table keeps of them is then what was rebuilt.
//!
//! **Idempotent and resumable by content.** Keys are handled in sorted blocks; each block's
//! current items are read first (BatchGetItem, through processor's `DynamoStore`), and an entry
//! already stored with the same content is skipped. A key that is absent is written at revision
//! 1, a key that holds something else at its stored revision + 1 (so a processor that loaded the
//! old revision gets a conflict and reloads, never a lost update of ours). A re-run after an
//! interruption therefore writes only what is still missing or different, and a re-run after a
//! complete run writes nothing. No progress marker is needed, and none is left in the table.
//!
//! Writes are BatchWriteItem calls of 25 items, up to [`CALLS_IN_FLIGHT`] at once;
//! `UnprocessedItems` are retried with exponential backoff and jitter (and throttling by the
//! SDK's standard retries). Rebuild into a table no processor writes at the same time: a batch
//! write is unconditional, so a concurrent live update between the read and the write is lost.

use super::{ProjectionSink, ProjectionSinkError, Written};
use crate::aws;
use aws_adapters::dynamo::{classify, get_item, DynamoStore};
use aws_adapters::item::{self, Item};
use aws_adapters::store_port::{RevisionedStore, StoreError, Write};
use projections::{ClientProjection, Config, Entry, Key, World};
use std::sync::Arc;
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

/// Items per BatchWriteItem call (DynamoDB's maximum).
pub const BATCH: usize = 25;
/// BatchWriteItem calls in flight at once.
pub const CALLS_IN_FLIGHT: usize = 8;
/// Keys read back and compared per block.
const BLOCK: usize = 1_000;

/// Writes a rebuilt world into a DynamoDB table.
pub struct DynamoSink {
    runtime: Runtime,
    store: Arc<DynamoStore>,
    only: Vec<String>,
}

impl DynamoSink {
    /// Connects to `table` and checks that it exists. With clients in `only` (`--client`), it
    /// writes only their items (see [`write_world`]).
    ///
    /// # Errors
    /// The table cannot be described (missing, no access).
    pub fn open(
        table: &str,
        endpoint_url: Option<&str>,
        only: &[String],
    ) -> Result<DynamoSink, ProjectionSinkError> {
        let runtime = aws::runtime().map_err(|e| {
            ProjectionSinkError::Aws(StoreError {
                retryable: false,
                op: "runtime",
                message: e.to_string(),
            })
        })?;
        let client = runtime.block_on(async {
            aws_sdk_dynamodb::Client::new(&aws::sdk_config(endpoint_url).await)
        });
        runtime
            .block_on(client.describe_table().table_name(table).send())
            .map_err(|e| classify("DescribeTable", e))?;
        Ok(DynamoSink {
            runtime,
            store: Arc::new(DynamoStore::new(client, table)),
            only: only.to_vec(),
        })
    }
}

/// What [`write_world`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Items written.
    pub written: usize,
    /// Items deleted: room members and lobby connections the rebuilt world does not have, and
    /// rooms and the lobby an earlier release wrote whole.
    pub deleted: usize,
    /// Entries already stored with the same content, skipped.
    pub unchanged: usize,
}

/// Writes every entry of `world` that `store`'s table does not already hold with the same
/// content; with client ids in `only`, just those clients' own items: each `client#` item and the
/// `conn#` items of its connections. Items other clients share (rooms, devices, the lobby) are
/// then left as they are: that is how to repair one client's projection in a live table without
/// touching anyone else's.
///
/// # Errors
/// DynamoDB errors (after retries), or items still unprocessed after a few rounds of retries.
pub async fn write_world(
    store: &DynamoStore,
    world: &mut World,
    only: &[String],
) -> Result<Outcome, StoreError> {
    // What the processor stores is compacted; compaction changes no view.
    world.compact_all();
    // The table keeps no watermark: the processor takes its now from the entries.
    let mut keys: Vec<Key> = if only.is_empty() {
        world.keys().filter(|k| *k != Key::Watermark).collect()
    } else {
        own_keys(world, only)
    };
    keys.sort();
    let mut outcome = Outcome::default();
    for block in keys.chunks(BLOCK) {
        let mut items: Vec<Item> = Vec::new();
        let mut deletes: Vec<Item> = Vec::new();
        // Rooms, devices and the lobby are partitions of items: each read as its items, whole.
        let (parted, single): (Vec<Key>, Vec<Key>) = block.iter().cloned().partition(|k| {
            matches!(
                k,
                Key::Room(_) | Key::History { .. } | Key::Device(_) | Key::Lobby
            )
        });
        for key in &parted {
            let Some(wanted) = world
                .entry(key)
                .and_then(|e| parts(key, &e, world.config()))
            else {
                continue;
            };
            let (puts, removes) = changes(wanted, &stored_parts(store, key).await?);
            if puts.is_empty() && removes.is_empty() {
                outcome.unchanged += 1;
            }
            items.extend(puts);
            deletes.extend(removes);
        }
        let stored = store.load_many(&single).await?;
        for (key, loaded) in single.iter().zip(stored) {
            let Some(entry) = world.entry(key) else {
                continue;
            };
            if loaded.entry.as_ref() == Some(&entry) {
                outcome.unchanged += 1;
                continue;
            }
            let view = match key {
                Key::Client(id) => world.client(id),
                _ => None,
            };
            let write = Write {
                key: key.clone(),
                entry,
                expected: loaded.rev,
                view,
            };
            items.push(item::encode(&write, loaded.rev.map_or(1, |r| r + 1))?);
        }
        outcome.written += items.len();
        outcome.deleted += deletes.len();
        let permits = Semaphore::new(CALLS_IN_FLIGHT);
        let mut calls = Vec::new();
        for chunk in items.chunks(BATCH) {
            calls.push(batch_write(store, &permits, chunk.to_vec(), false));
        }
        for chunk in deletes.chunks(BATCH) {
            calls.push(batch_write(store, &permits, chunk.to_vec(), true));
        }
        for result in futures_util::future::join_all(calls).await {
            result?;
        }
    }
    Ok(outcome)
}

/// A room, a room's history, a device or the lobby as the processor stores it, as the items of
/// its partitions: a `member#` item per room member (holding its register; one that left going
/// when `config`'s fold no longer needs it), a `timeline#` item per message and the history's
/// head (the time of its newest), a `watcher#` item
/// per watcher, a `conn#` item per connection of the lobby. `None` for any other entry.
fn parts(key: &Key, entry: &Entry, config: &Config) -> Option<Vec<Item>> {
    Some(match (key, entry) {
        (Key::Room(id), Entry::Room(room)) => {
            let lifetime = item::left_member_lifetime_ms(config);
            room.members()
                .map(|(client, register)| {
                    let key = Key::Member {
                        room: id.clone(),
                        client: client.to_owned(),
                    };
                    item::encode_member(&key, register, lifetime)
                })
                .collect()
        }
        (Key::History { room, .. }, Entry::History(history)) => {
            let lifetime = item::message_lifetime_ms(config);
            let messages = history.messages();
            let head = messages.last().map(|m| item::encode_head(room, m.sent_at));
            messages
                .iter()
                .map(|m| item::encode_message(room, m, lifetime))
                .chain(head)
                .collect()
        }
        (Key::Device(id), Entry::Device(device)) => device
            .watchers
            .iter()
            .map(|(connection, at)| item::encode_watcher(id, connection, *at))
            .collect(),
        (Key::Lobby, Entry::Lobby(lobby)) => lobby
            .connections
            .iter()
            .map(|(id, summary)| item::encode_in_lobby(id, summary))
            .collect(),
        _ => return None,
    })
}

/// Every item the table holds of the room, history, device or lobby `key`: its partitions', and
/// the whole item an earlier release wrote (the lobby's is a partition of its own).
async fn stored_parts(store: &DynamoStore, key: &Key) -> Result<Vec<Item>, StoreError> {
    if let Key::History { room, since } = key {
        let mut stored = store.history_items(room, *since).await?;
        let head = get_item(store.client(), store.table(), &item::head_pk(room)).await?;
        stored.extend(head);
        return Ok(stored);
    }
    let mut stored = store.query_partition(key.to_string()).await?;
    if *key == Key::Lobby {
        for n in 0..item::LOBBY_PARTITIONS {
            stored.extend(store.query_partition(format!("lobby#{n}")).await?);
        }
    }
    Ok(stored)
}

/// What makes partitions whose items are `stored` hold just the items `wanted`: those to put
/// (stored otherwise or not at all) and the keys of the others to delete (a room's members the
/// rebuilt room lacks, `subscriber#` items, whose registers the `member#` items now hold, the
/// lobby's expired connections, a device's dropped watchers, and a room, a device or a lobby an
/// earlier release wrote whole).
fn changes(wanted: Vec<Item>, stored: &[Item]) -> (Vec<Item>, Vec<Item>) {
    let primary = |item: &Item| {
        let get = |name| item::get_s(item, name).map(str::to_owned);
        (get("pk"), get("sk"))
    };
    let deletes = stored
        .iter()
        .filter(|s| !wanted.iter().any(|w| primary(w) == primary(s)))
        .map(|s| {
            let mut key = s.clone();
            key.retain(|name, _| name == "pk" || name == "sk");
            key
        })
        .collect();
    let puts = wanted.into_iter().filter(|w| !stored.contains(w)).collect();
    (puts, deletes)
}

/// The items that belong to the clients `ids` alone: their `client#` entries and their
/// connections' `conn#` entries.
pub fn own_keys(world: &World, ids: &[String]) -> Vec<Key> {
    let clients = ids
        .iter()
        .filter(|id| world.client_state(id).is_some())
        .map(|id| Key::Client(id.clone()));
    let conns = world.keys().filter(|key| match key {
        Key::Connection(c) => world
            .connection_state(c)
            .and_then(|c| c.summary.client_id.as_ref())
            .is_some_and(|owner| ids.contains(owner)),
        _ => false,
    });
    clients.chain(conns).collect()
}

/// One BatchWriteItem call putting `items`, or deleting them by key, through the processor's
/// store (which retries unprocessed items and counts the cost); the error says how to resume.
async fn batch_write(
    store: &DynamoStore,
    permits: &Semaphore,
    items: Vec<Item>,
    delete: bool,
) -> Result<(), StoreError> {
    let result = if delete {
        store.batch_delete(permits, items).await
    } else {
        store.batch_write(permits, items).await
    };
    result.map_err(|e| StoreError {
        message: format!(
            "{}; run again to resume (items already written are skipped)",
            e.message
        ),
        ..e
    })
}

impl ProjectionSink for DynamoSink {
    fn write(
        &mut self,
        world: &mut World,
        _clients: &[ClientProjection],
    ) -> Result<Written, ProjectionSinkError> {
        let outcome = self
            .runtime
            .block_on(write_world(&self.store, world, &self.only))?;
        eprintln!(
            "dynamodb://{}: {} items written, {} deleted, {} already stored unchanged",
            self.store.table(),
            outcome.written,
            outcome.deleted,
            outcome.unchanged
        );
        Ok(Written {
            items: outcome.written,
        })
    }
}

#[cfg(test)]
mod tests;
