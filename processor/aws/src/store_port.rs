//! The revisioned store port: what the batch handler needs from a shared table that other
//! processes (other shards' handlers) write at the same time.
//!
//! Every entry carries a revision. A batch loads its entries with their revisions
//! ([`RevisionedStore::load_many`]) and writes each changed entry once, on condition that its
//! revision is still the one loaded ([`RevisionedStore::commit`]). Keys whose revision moved
//! come back as conflicts, which the batch protocol (`projections::batch`) loads and folds again.
//!
//! The store also remembers which deliveries went out ([`RevisionedStore::delivered`]), per
//! event id, so a retried batch sends nothing twice.

use crate::cost::Cost;
use crate::dedup::Sent;
use projections::{ClientProjection, CommitOutcome, Entry, Key, Revision};
use schemas::EventId;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

/// One loaded entry: `None`s when the store has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The entry.
    pub entry: Option<Entry>,
    /// Its revision.
    pub rev: Option<Revision>,
}

/// One conditional write.
#[derive(Debug, Clone)]
pub struct Write {
    /// The key.
    pub key: Key,
    /// The new entry.
    pub entry: Entry,
    /// The revision it was folded from (`None`: the key did not exist).
    pub expected: Option<Revision>,
    /// For a client, its view, stored as plain attributes next to the entry for readers.
    pub view: Option<ClientProjection>,
}

/// Remembering that some of an event's deliveries went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupMark {
    /// The event.
    pub event_id: EventId,
    /// What is done of the event's deliveries (earlier attempts' included).
    pub sent: Sent,
    /// When the mark may be forgotten, seconds epoch.
    pub expires_at_s: u64,
}

/// A store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op}: {message}")]
pub struct StoreError {
    /// Whether trying again later may succeed (throttling, 5xx, network).
    pub retryable: bool,
    /// The operation.
    pub op: &'static str,
    /// What went wrong.
    pub message: String,
}

/// A table of entries with revisions, written by many processes.
pub trait RevisionedStore: Send + Sync {
    /// The entries of `keys`, in order.
    fn load_many(
        &self,
        keys: &[Key],
    ) -> impl Future<Output = Result<Vec<Loaded>, StoreError>> + Send;

    /// Writes each entry on condition that its revision is `expected`. Not atomic across keys:
    /// the writes that succeeded stay, the others come back as conflicts.
    fn commit(
        &self,
        writes: &[Write],
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send;

    /// Stores chat messages ([`Key::Message`]) and moves their rooms' history heads up to them,
    /// unconditionally (each message has one writer): before the batch reads their rooms'
    /// members (`projections::Step::Publish`).
    fn publish(&self, messages: &[Write]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// For each of `events` with deliveries already sent, what is done of them.
    fn delivered(
        &self,
        events: &[EventId],
    ) -> impl Future<Output = Result<HashMap<EventId, Sent>, StoreError>> + Send;

    /// Records deliveries as sent.
    fn mark_delivered(
        &self,
        marks: &[DedupMark],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What this store's calls have cost so far: a running total, so a batch's cost is the
    /// difference across it while it is the store's only caller (one Lambda invocation per
    /// process; `consume` reads its shards in turn).
    fn cost(&self) -> Cost;
}

impl<T: RevisionedStore> RevisionedStore for std::sync::Arc<T> {
    fn load_many(
        &self,
        keys: &[Key],
    ) -> impl Future<Output = Result<Vec<Loaded>, StoreError>> + Send {
        (**self).load_many(keys)
    }
    fn commit(
        &self,
        writes: &[Write],
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        (**self).commit(writes)
    }
    fn publish(&self, messages: &[Write]) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).publish(messages)
    }
    fn delivered(
        &self,
        events: &[EventId],
    ) -> impl Future<Output = Result<HashMap<EventId, Sent>, StoreError>> + Send {
        (**self).delivered(events)
    }
    fn mark_delivered(
        &self,
        marks: &[DedupMark],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).mark_delivered(marks)
    }
    fn cost(&self) -> Cost {
        (**self).cost()
    }
}

#[derive(Debug, Default)]
struct Tables {
    entries: BTreeMap<Key, (Entry, Revision)>,
    views: BTreeMap<String, ClientProjection>,
    dedup: HashMap<EventId, Sent>,
    requests: u64,
}

impl Tables {
    /// Joins a part into its whole, as the table keeps it apart.
    fn put_part(&mut self, w: &Write, op: &'static str) -> Result<(), StoreError> {
        let whole = w.key.whole();
        let (stored, rev) = match self.entries.remove(&whole) {
            Some((entry, rev)) => (Some(entry), rev),
            None => (None, 0),
        };
        let joined = w
            .key
            .join_part(stored, &w.entry)
            .ok_or_else(|| StoreError {
                retryable: false,
                op,
                message: format!("{} holds no part: {:?}", w.key, w.entry),
            })?;
        self.entries.insert(whole, (joined, rev));
        Ok(())
    }
}

/// The store in memory, with the same semantics as the DynamoDB adapter.
#[derive(Debug, Default)]
pub struct MemoryRevisionedStore {
    tables: Mutex<Tables>,
}

impl MemoryRevisionedStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self, op: &'static str) -> Result<std::sync::MutexGuard<'_, Tables>, StoreError> {
        self.tables.lock().map_err(|_| StoreError {
            retryable: false,
            op,
            message: "poisoned lock".into(),
        })
    }

    /// The stored entry and revision of `key`.
    pub fn get(&self, key: &Key) -> Option<(Entry, Revision)> {
        self.tables.lock().ok()?.entries.get(key).cloned()
    }

    /// The stored view of a client.
    pub fn view(&self, client_id: &str) -> Option<ClientProjection> {
        self.tables.lock().ok()?.views.get(client_id).cloned()
    }

    /// Calls made so far.
    pub fn requests(&self) -> u64 {
        self.tables.lock().map(|t| t.requests).unwrap_or(0)
    }
}

impl RevisionedStore for MemoryRevisionedStore {
    /// Requests only: a map in memory has no capacity units.
    fn cost(&self) -> Cost {
        Cost {
            requests: self.requests(),
            ..Cost::default()
        }
    }

    async fn load_many(&self, keys: &[Key]) -> Result<Vec<Loaded>, StoreError> {
        let mut t = self.lock("load")?;
        t.requests += 1;
        Ok(keys
            .iter()
            .map(|k| match t.entries.get(&*k.stored()) {
                Some((e, r)) => Loaded {
                    entry: Some(e.clone()),
                    rev: Some(*r),
                },
                None => Loaded::default(),
            })
            .collect())
    }

    async fn commit(&self, writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let mut t = self.lock("commit")?;
        let mut out = CommitOutcome::default();
        for w in writes {
            t.requests += 1;
            // A part (a room's member, a connection of the lobby) is joined into its whole, as
            // the table keeps it: it never conflicts.
            if w.key.is_part() {
                t.put_part(w, "commit")?;
                continue;
            }
            let current = t.entries.get(&w.key).map(|(e, r)| (e.clone(), *r));
            let rev = current.map(|(_, r)| r);
            if rev != w.expected {
                out.conflicts.push(w.key.clone());
                continue;
            }
            let rev = rev.map_or(1, |r| r + 1);
            t.entries.insert(w.key.clone(), (w.entry.clone(), rev));
            if let (Key::Client(id), Some(view)) = (&w.key, &w.view) {
                t.views.insert(id.clone(), view.clone());
            }
            out.written.push((w.key.clone(), rev));
        }
        Ok(out)
    }

    async fn publish(&self, messages: &[Write]) -> Result<(), StoreError> {
        let mut t = self.lock("publish")?;
        t.requests += 1;
        for w in messages {
            t.put_part(w, "publish")?;
        }
        Ok(())
    }

    async fn delivered(&self, events: &[EventId]) -> Result<HashMap<EventId, Sent>, StoreError> {
        let mut t = self.lock("delivered")?;
        t.requests += 1;
        Ok(events
            .iter()
            .filter_map(|e| t.dedup.get(e).map(|s| (*e, s.clone())))
            .collect())
    }

    async fn mark_delivered(&self, marks: &[DedupMark]) -> Result<(), StoreError> {
        let mut t = self.lock("mark_delivered")?;
        t.requests += 1;
        // A mark holds what earlier attempts did too: it replaces the stored one.
        for m in marks {
            t.dedup.insert(m.event_id, m.sent.clone());
        }
        Ok(())
    }
}
