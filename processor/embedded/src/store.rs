//! The projection store port: what the batch loop needs from a database, and an in-memory
//! adapter. The embedded on-disk adapter is [`crate::redb_store`]; a DynamoDB one will
//! implement the same trait.
//!
//! A store keeps three things: projection entries by key, the event ids that already had their
//! deliveries routed (so a duplicate record never routes twice), and the log position folded so
//! far. A batch changes all three in one atomic [`ProjectionStore::commit`], so after a crash the
//! store is exactly at the end of some batch and the log says what comes after it.

use projections::{Entry, EntryRef, Key, World};
use schemas::EventId;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// An entry encoded as the stores keep it: MessagePack with fields by position (about half the
/// bytes and time of named fields).
///
/// A commit is encoded from the world's own entries (`World::entry_ref`), on both cores: copying
/// tens of thousands of entries for the store's thread to encode was most of a commit's time on
/// the fold's thread, and the encoding added to the store's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded(Vec<u8>);

/// An entry that would not encode. Every entry type encodes, so this is a bug, reported with the
/// entry's key rather than ignored.
#[derive(Debug, thiserror::Error)]
#[error("encoding entry {key}: {source}")]
pub struct EncodeError {
    /// The entry's key.
    pub key: String,
    /// What the encoder said.
    #[source]
    pub source: rmp_serde::encode::Error,
}

impl Encoded {
    /// Encodes the entry for `key`.
    ///
    /// # Errors
    /// An [`EncodeError`] naming the key, should the encoder refuse the entry.
    pub fn new(key: &Key, entry: EntryRef<'_>) -> Result<Encoded, EncodeError> {
        let mut bytes = Vec::new();
        rmp_serde::encode::write(&mut bytes, &entry).map_err(|source| EncodeError {
            key: key.to_string(),
            source,
        })?;
        Ok(Encoded(bytes))
    }

    /// The entry back.
    ///
    /// # Errors
    /// The bytes do not hold an entry.
    pub fn decode(&self) -> Result<Entry, rmp_serde::decode::Error> {
        rmp_serde::from_slice(&self.0)
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The entries of `keys` that `world` holds, encoded in key order, on two threads
/// ([`crate::halves`]): what a commit writes.
///
/// # Errors
/// An [`EncodeError`] for an entry that would not encode.
pub fn encode_entries(world: &World, keys: &[Key]) -> Result<Vec<(Key, Encoded)>, EncodeError> {
    let encode = |key: &Key| world.entry_ref(key).map(|entry| Encoded::new(key, entry));
    crate::halves::map(keys, encode)
        .into_iter()
        .zip(keys)
        .filter_map(|(entry, key)| Some(entry?.map(|entry| (key.clone(), entry))))
        .collect()
}

/// Everything one batch writes.
#[derive(Debug, Clone)]
pub struct Commit<'a> {
    /// Entries the batch changed (the world's dirty keys), encoded, handed over: an adapter may
    /// write them on another thread.
    pub entries: Vec<(Key, Encoded)>,
    /// Events whose deliveries were routed, with their event time (for pruning).
    pub routed: &'a [(EventId, u64)],
    /// Forget routed events older than this event time: no retry reaches back that far, so the
    /// table stays bounded. 0 prunes nothing.
    pub prune_routed_before: u64,
    /// The log position the store has now folded up to.
    pub log_position: u64,
    /// Whether the commit is synced to disk when it lands (an adapter may land it in the
    /// background, see [`ProjectionStore::commit`]). A commit that is not durable is
    /// still atomic; a crash may lose it, and then the log, which is synced every batch, is folded
    /// again from the last durable position.
    pub durable: bool,
}

/// A database of projections, loaded in bulk and written once per batch.
pub trait ProjectionStore {
    /// Why an operation failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The stored entry of each key, in order (`None` where there is none).
    ///
    /// # Errors
    /// Read or decoding failures.
    fn load(&self, keys: &[Key]) -> Result<Vec<Option<Entry>>, Self::Error>;

    /// Every entry whose key, as a string, starts with `prefix` (e.g. `client#`), by key.
    ///
    /// # Errors
    /// Read or decoding failures.
    fn scan(&self, prefix: &str) -> Result<Vec<(Key, Entry)>, Self::Error>;

    /// The keys (not the entries) that start with `prefix`, by key.
    ///
    /// # Errors
    /// Read failures, or a stored key that does not parse.
    fn scan_keys(&self, prefix: &str) -> Result<Vec<Key>, Self::Error>;

    /// Which of `ids` already had their deliveries routed.
    ///
    /// # Errors
    /// Read failures.
    fn routed(&self, ids: &[EventId]) -> Result<HashSet<EventId>, Self::Error>;

    /// The log position folded so far (0 for a new store).
    ///
    /// # Errors
    /// Read failures.
    fn log_position(&self) -> Result<u64, Self::Error>;

    /// Writes a batch atomically: all of it or none of it.
    ///
    /// An adapter may finish the write in the background. Reads see the commit as soon as this
    /// returns, and the next `commit` or `sync` waits for it to land.
    ///
    /// # Errors
    /// Write failures (of this commit, or of the one before still landing); the store is then
    /// unchanged by the failed commit.
    fn commit(&mut self, commit: Commit<'_>) -> Result<(), Self::Error>;

    /// Makes every earlier commit durable.
    ///
    /// # Errors
    /// Write failures.
    fn sync(&mut self) -> Result<(), Self::Error>;
}

/// A store in memory: for unit tests, and for callers that fold without persisting.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    entries: BTreeMap<String, (Key, Encoded)>,
    routed: BTreeMap<EventId, u64>,
    routed_by_time: BTreeSet<(u64, EventId)>,
    log_position: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How many routed event ids are kept.
    pub fn routed_len(&self) -> usize {
        self.routed.len()
    }
}

impl ProjectionStore for MemoryStore {
    /// Only decoding can fail: the store keeps entries as they were committed, encoded.
    type Error = rmp_serde::decode::Error;

    fn load(&self, keys: &[Key]) -> Result<Vec<Option<Entry>>, Self::Error> {
        keys.iter()
            .map(|k| {
                // A room's history since any time is the whole history, kept under one key.
                let stored = self.entries.get(&k.stored().to_string());
                stored.map(|(_, e)| e.decode()).transpose()
            })
            .collect()
    }

    fn scan(&self, prefix: &str) -> Result<Vec<(Key, Entry)>, Self::Error> {
        self.entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, (key, e))| Ok((key.clone(), e.decode()?)))
            .collect()
    }

    fn scan_keys(&self, prefix: &str) -> Result<Vec<Key>, Self::Error> {
        Ok(self
            .entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, (key, _))| key.clone())
            .collect())
    }

    fn routed(&self, ids: &[EventId]) -> Result<HashSet<EventId>, Self::Error> {
        Ok(ids
            .iter()
            .filter(|id| self.routed.contains_key(id))
            .copied()
            .collect())
    }

    fn log_position(&self) -> Result<u64, Self::Error> {
        Ok(self.log_position)
    }

    fn commit(&mut self, commit: Commit<'_>) -> Result<(), Self::Error> {
        for (key, entry) in commit.entries {
            self.entries.insert(key.to_string(), (key, entry));
        }
        for &(id, time) in commit.routed {
            if let Some(old) = self.routed.insert(id, time) {
                self.routed_by_time.remove(&(old, id));
            }
            self.routed_by_time.insert((time, id));
        }
        while let Some(&(time, id)) = self.routed_by_time.first() {
            if time >= commit.prune_routed_before {
                break;
            }
            self.routed_by_time.pop_first();
            self.routed.remove(&id);
        }
        self.log_position = commit.log_position;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Behaviour every adapter must have, run against each of them by their tests.
#[cfg(test)]
pub(crate) mod contract {
    use super::*;

    fn watermark(t: u64) -> (Key, Encoded) {
        let key = Key::Watermark;
        let entry = Encoded::new(&key, EntryRef::Watermark(t)).unwrap();
        (key, entry)
    }

    /// Entries, routed ids and the log position survive a commit, and load in key order.
    pub fn round_trip<S: ProjectionStore>(store: &mut S) {
        assert_eq!(store.log_position().unwrap(), 0);
        assert_eq!(store.load(&[Key::Watermark]).unwrap(), vec![None]);
        store
            .commit(Commit {
                entries: vec![watermark(42)],
                routed: &[(EventId(7), 40)],
                prune_routed_before: 0,
                log_position: 123,
                durable: true,
            })
            .unwrap();
        assert_eq!(store.log_position().unwrap(), 123);
        assert_eq!(
            store
                .load(&[Key::Client("nobody".into()), Key::Watermark])
                .unwrap(),
            vec![None, Some(Entry::Watermark(42))]
        );
        assert_eq!(
            store.scan("water").unwrap(),
            vec![(Key::Watermark, Entry::Watermark(42))]
        );
        assert!(store.scan("client#").unwrap().is_empty());
        assert_eq!(store.scan_keys("water").unwrap(), vec![Key::Watermark]);
        let routed = store.routed(&[EventId(7), EventId(8)]).unwrap();
        assert_eq!(routed, HashSet::from([EventId(7)]));
    }

    /// Routed ids are pruned by event time, and only those older than the cut.
    pub fn prunes_routed<S: ProjectionStore>(store: &mut S) {
        let routed: Vec<(EventId, u64)> = (0..10).map(|i| (EventId(i), i as u64 * 10)).collect();
        store
            .commit(Commit {
                entries: Vec::new(),
                routed: &routed,
                prune_routed_before: 0,
                log_position: 1,
                durable: false,
            })
            .unwrap();
        store
            .commit(Commit {
                entries: Vec::new(),
                routed: &[],
                prune_routed_before: 50,
                log_position: 2,
                durable: true,
            })
            .unwrap();
        let ids: Vec<EventId> = (0..10).map(EventId).collect();
        let left = store.routed(&ids).unwrap();
        assert_eq!(left, (5..10).map(EventId).collect::<HashSet<_>>());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trips() {
        contract::round_trip(&mut MemoryStore::new());
    }

    #[test]
    fn memory_store_prunes_routed_ids() {
        let mut store = MemoryStore::new();
        contract::prunes_routed(&mut store);
        assert_eq!(store.routed_len(), 5);
    }
}
