//! The embedded on-disk [`ProjectionStore`]: one redb file, `DIR/projections.redb`.
//!
//! Tables:
//! - `entries`: key string (`client#c1`, the DynamoDB `pk` of DESIGN.md section 5) -> the entry
//!   as compact MessagePack (fields by position: about half the bytes and time of named fields).
//!   Entries are derived data: deleting the file makes the next run fold the whole log again;
//! - `routed`: event id -> event time, the events whose deliveries went out;
//! - `routed_by_time`: (event time, event id), the same set ordered for pruning;
//! - `meta`: `log_position`, the log position folded so far.
//!
//! Each commit is one redb write transaction, so a batch is all there or not at all. Commits
//! marked durable are synced before returning; the others may be lost in a crash, which only
//! means folding the (synced) log again from the last durable position.

use crate::local::store::{Commit, ProjectionStore};
use projections::{Entry, Key};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use schemas::EventId;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
const ROUTED: TableDefinition<u128, u64> = TableDefinition::new("routed");
const ROUTED_BY_TIME: TableDefinition<(u64, u128), ()> = TableDefinition::new("routed_by_time");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LOG_POSITION: &str = "log_position";

/// Why the embedded store failed. Every variant is fatal for a run (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error (I/O, corruption, or another process holds it).
    #[error("store {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// redb's error (boxed: it is large, and errors are rare).
        source: Box<redb::Error>,
    },
    /// A stored entry does not decode: written by an incompatible build, or damaged.
    #[error("store {path}: entry {key}: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The entry's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The redb adapter.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    path: PathBuf,
}

impl RedbStore {
    /// Opens the database at `path`, creating it and its tables if needed.
    ///
    /// # Errors
    /// The file cannot be opened or created, is damaged, or is in use by another process.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let db = Database::create(path).map_err(db_err(path))?;
        let store = RedbStore {
            db,
            path: path.to_owned(),
        };
        // Create the tables once, so readers never meet a missing one.
        let txn = store.db.begin_write().map_err(store.err())?;
        {
            txn.open_table(ENTRIES).map_err(store.err())?;
            txn.open_table(ROUTED).map_err(store.err())?;
            txn.open_table(ROUTED_BY_TIME).map_err(store.err())?;
            txn.open_table(META).map_err(store.err())?;
        }
        txn.commit().map_err(store.err())?;
        Ok(store)
    }

    fn err<E: Into<redb::Error>>(&self) -> impl Fn(E) -> StoreError + '_ {
        db_err(&self.path)
    }

    fn corrupt(&self, key: &str, reason: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }

    fn decode(&self, key: &str, bytes: &[u8]) -> Result<Entry, StoreError> {
        rmp_serde::from_slice(bytes).map_err(|e| self.corrupt(key, e))
    }
}

fn db_err<E: Into<redb::Error>>(path: &Path) -> impl Fn(E) -> StoreError + '_ {
    move |e| StoreError::Db {
        path: path.to_owned(),
        source: Box::new(e.into()),
    }
}

impl ProjectionStore for RedbStore {
    type Error = StoreError;

    fn load(&self, keys: &[Key]) -> Result<Vec<Option<Entry>>, StoreError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let table = txn.open_table(ENTRIES).map_err(self.err())?;
        let mut name = String::new();
        keys.iter()
            .map(|key| {
                name.clear();
                // Formatting into a String cannot fail.
                let _ = std::fmt::Write::write_fmt(&mut name, format_args!("{key}"));
                match table.get(name.as_str()).map_err(self.err())? {
                    Some(bytes) => self.decode(&name, bytes.value()).map(Some),
                    None => Ok(None),
                }
            })
            .collect()
    }

    fn scan(&self, prefix: &str) -> Result<Vec<(Key, Entry)>, StoreError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let table = txn.open_table(ENTRIES).map_err(self.err())?;
        let mut out = Vec::new();
        for item in table.range(prefix..).map_err(self.err())? {
            let (name, bytes) = item.map_err(self.err())?;
            let name = name.value();
            if !name.starts_with(prefix) {
                break;
            }
            let key: Key = name.parse().map_err(|e| self.corrupt(name, e))?;
            out.push((key, self.decode(name, bytes.value())?));
        }
        Ok(out)
    }

    fn scan_keys(&self, prefix: &str) -> Result<Vec<Key>, StoreError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let table = txn.open_table(ENTRIES).map_err(self.err())?;
        let mut out = Vec::new();
        for item in table.range(prefix..).map_err(self.err())? {
            let (name, _) = item.map_err(self.err())?;
            let name = name.value();
            if !name.starts_with(prefix) {
                break;
            }
            out.push(name.parse().map_err(|e| self.corrupt(name, e))?);
        }
        Ok(out)
    }

    fn routed(&self, ids: &[EventId]) -> Result<HashSet<EventId>, StoreError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let table = txn.open_table(ROUTED).map_err(self.err())?;
        let mut found = HashSet::new();
        for id in ids {
            if table.get(id.0).map_err(self.err())?.is_some() {
                found.insert(*id);
            }
        }
        Ok(found)
    }

    fn log_position(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let table = txn.open_table(META).map_err(self.err())?;
        let position = table.get(LOG_POSITION).map_err(self.err())?;
        Ok(position.map(|v| v.value()).unwrap_or(0))
    }

    fn commit(&mut self, commit: Commit<'_>) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(self.err())?;
        if !commit.durable {
            txn.set_durability(Durability::None);
        }
        {
            let mut entries = txn.open_table(ENTRIES).map_err(self.err())?;
            let mut name = String::new();
            let mut bytes = Vec::new();
            let mut total = 0;
            for (key, entry) in commit.entries {
                name.clear();
                let _ = std::fmt::Write::write_fmt(&mut name, format_args!("{key}"));
                bytes.clear();
                rmp_serde::encode::write(&mut bytes, entry).map_err(|e| self.corrupt(&name, e))?;
                total += bytes.len();
                entries
                    .insert(name.as_str(), bytes.as_slice())
                    .map_err(self.err())?;
            }

            tracing::trace!(
                bytes = total,
                entries = commit.entries.len(),
                "entries encoded"
            );
            let mut routed = txn.open_table(ROUTED).map_err(self.err())?;
            let mut by_time = txn.open_table(ROUTED_BY_TIME).map_err(self.err())?;
            for &(id, time) in commit.routed {
                if let Some(old) = routed.insert(id.0, time).map_err(self.err())? {
                    by_time.remove((old.value(), id.0)).map_err(self.err())?;
                }
                by_time.insert((time, id.0), ()).map_err(self.err())?;
            }
            if commit.prune_routed_before > 0 {
                let cut = (commit.prune_routed_before, 0u128);
                let old: Vec<(u64, u128)> = by_time
                    .range(..cut)
                    .map_err(self.err())?
                    .map(|item| item.map(|(k, _)| k.value()))
                    .collect::<Result<_, _>>()
                    .map_err(self.err())?;
                for (time, id) in old {
                    by_time.remove((time, id)).map_err(self.err())?;
                    routed.remove(id).map_err(self.err())?;
                }
            }

            let mut meta = txn.open_table(META).map_err(self.err())?;
            meta.insert(LOG_POSITION, commit.log_position)
                .map_err(self.err())?;
        }
        txn.commit().map_err(self.err())?;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        // An empty durable commit makes the non-durable ones before it durable too.
        let txn = self.db.begin_write().map_err(self.err())?;
        txn.commit().map_err(self.err())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::store::contract;

    #[test]
    fn redb_store_round_trips_and_survives_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.redb");
        contract::round_trip(&mut RedbStore::open(&path).unwrap());
        let reopened = RedbStore::open(&path).unwrap();
        assert_eq!(reopened.log_position().unwrap(), 123);
        assert_eq!(
            reopened.load(&[Key::Watermark]).unwrap(),
            vec![Some(Entry::Watermark(42))]
        );
    }

    #[test]
    fn redb_store_prunes_routed_ids() {
        let tmp = tempfile::tempdir().unwrap();
        contract::prunes_routed(&mut RedbStore::open(&tmp.path().join("p.redb")).unwrap());
    }

    #[test]
    fn a_second_process_cannot_open_the_same_store() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.redb");
        let _first = RedbStore::open(&path).unwrap();
        assert!(RedbStore::open(&path).is_err());
    }
}
