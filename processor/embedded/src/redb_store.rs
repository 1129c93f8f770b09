//! The embedded on-disk [`ProjectionStore`]: one redb file, `DIR/projections.redb`.
//!
//! Tables:
//! - `entries`: key string (`client#c1`, the DynamoDB `pk` of docs/architecture.md, Table layout)
//!   -> the entry as compact MessagePack (fields by position: about half the bytes and time of
//!   named fields). Entries are derived data: deleting the file makes the next run fold the whole
//!   log again;
//! - `routed`: event id -> event time, the events whose deliveries went out;
//! - `routed_by_time`: (event time, event id), the same set ordered for pruning;
//! - `meta`: `log_position`, the log position folded so far.
//!
//! Each commit is one redb write transaction, so a batch is all there or not at all. Commits
//! marked durable are synced; the others may be lost in a crash, which only means folding the
//! (synced) log again from the last durable position.
//!
//! A commit arrives encoded (`Encoded`) and is written by a background thread, so the fold goes
//! on while redb inserts and syncs its entries (most of a commit's time). One commit is in flight
//! at a time: the next commit, `sync`, scans and the log position wait for it, and report its
//! failure. Until it lands, `load` and `routed` read its entries and ids from memory, so the store
//! reads its own writes at every moment.

use crate::store::{Commit, Encoded, ProjectionStore};
use projections::{Entry, Key};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use schemas::EventId;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
const ROUTED: TableDefinition<u128, u64> = TableDefinition::new("routed");
const ROUTED_BY_TIME: TableDefinition<(u64, u128), ()> = TableDefinition::new("routed_by_time");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LOG_POSITION: &str = "log_position";

/// Why the embedded store failed. Every variant is fatal for a run (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum RedbError {
    /// Another process has the database open: one processor per store.
    #[error("store {0} busy: is another processor running on it?")]
    Busy(PathBuf),
    /// The database reported an error (I/O, corruption).
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
    /// The background commit thread could not start.
    #[error("store {path}: starting the commit thread: {source}")]
    Spawn {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The background commit thread panicked: a bug; the commit may not have landed.
    #[error("store {path}: the commit thread panicked")]
    Writer {
        /// The database file.
        path: PathBuf,
    },
}

/// The redb adapter.
#[derive(Debug)]
pub struct RedbStore {
    db: Arc<Database>,
    path: PathBuf,
    in_flight: Mutex<Option<InFlight>>,
}

/// A commit a background thread is writing: what it writes, which reads see until it lands.
#[derive(Debug)]
struct InFlight {
    write: Arc<Write>,
    writer: JoinHandle<Result<(), RedbError>>,
}

/// One commit, as one transaction writes it.
#[derive(Debug)]
struct Write {
    /// Entries by key (in key order: a B-tree filled front to back splits the fewest pages).
    entries: BTreeMap<Key, Encoded>,
    /// Routed event ids, with their event times.
    routed: HashMap<EventId, u64>,
    /// Routed ids older than this are pruned, after adding `routed`.
    prune_routed_before: u64,
    log_position: u64,
    durable: bool,
}

impl RedbStore {
    /// Opens the database at `path`, creating it and its tables if needed.
    ///
    /// # Errors
    /// The file cannot be opened or created, is damaged, or is in use by another process.
    pub fn open(path: &Path) -> Result<RedbStore, RedbError> {
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => RedbError::Busy(path.to_owned()),
            other => db_err(path)(other),
        })?;
        let store = RedbStore {
            db: Arc::new(db),
            path: path.to_owned(),
            in_flight: Mutex::new(None),
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

    fn err<E: Into<redb::Error>>(&self) -> impl Fn(E) -> RedbError + '_ {
        db_err(&self.path)
    }

    fn corrupt(&self, key: &str, reason: impl ToString) -> RedbError {
        RedbError::Corrupt {
            path: self.path.clone(),
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }

    fn decode(&self, key: &str, bytes: &[u8]) -> Result<Entry, RedbError> {
        rmp_serde::from_slice(bytes).map_err(|e| self.corrupt(key, e))
    }

    /// The commit in flight, if any. A panic elsewhere cannot leave it half-updated (it is only
    /// ever replaced whole), so a poisoned lock is still good.
    fn in_flight(&self) -> MutexGuard<'_, Option<InFlight>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the commit in flight to land, and reports how it went.
    fn settle(&self) -> Result<(), RedbError> {
        let Some(done) = self.in_flight().take() else {
            return Ok(());
        };
        match done.writer.join() {
            Ok(result) => result,
            Err(_) => Err(RedbError::Writer {
                path: self.path.clone(),
            }),
        }
    }
}

impl Drop for RedbStore {
    fn drop(&mut self) {
        // Let the last commit land (or fail) before the database closes.
        if let Err(e) = self.settle() {
            tracing::error!("store: the last commit failed: {e}");
        }
    }
}

/// Writes one commit in one transaction: on the background thread.
fn write(db: &Database, path: &Path, write: &Write) -> Result<(), RedbError> {
    let mut txn = db.begin_write().map_err(db_err(path))?;
    if !write.durable {
        txn.set_durability(Durability::None);
    }
    {
        let mut entries = txn.open_table(ENTRIES).map_err(db_err(path))?;
        let (mut name, mut total) = (String::new(), 0);
        for (key, entry) in &write.entries {
            name.clear();
            // Formatting into a String cannot fail.
            let _ = std::fmt::Write::write_fmt(&mut name, format_args!("{key}"));
            total += entry.as_bytes().len();
            entries
                .insert(name.as_str(), entry.as_bytes())
                .map_err(db_err(path))?;
        }
        tracing::trace!(
            bytes = total,
            entries = write.entries.len(),
            "entries inserted"
        );
        let mut routed = txn.open_table(ROUTED).map_err(db_err(path))?;
        let mut by_time = txn.open_table(ROUTED_BY_TIME).map_err(db_err(path))?;
        for (&id, &time) in &write.routed {
            if let Some(old) = routed.insert(id.0, time).map_err(db_err(path))? {
                by_time.remove((old.value(), id.0)).map_err(db_err(path))?;
            }
            by_time.insert((time, id.0), ()).map_err(db_err(path))?;
        }
        if write.prune_routed_before > 0 {
            let cut = (write.prune_routed_before, 0u128);
            let old: Vec<(u64, u128)> = by_time
                .range(..cut)
                .map_err(db_err(path))?
                .map(|item| item.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()
                .map_err(db_err(path))?;
            for (time, id) in old {
                by_time.remove((time, id)).map_err(db_err(path))?;
                routed.remove(id).map_err(db_err(path))?;
            }
        }
        let mut meta = txn.open_table(META).map_err(db_err(path))?;
        meta.insert(LOG_POSITION, write.log_position)
            .map_err(db_err(path))?;
    }
    txn.commit().map_err(db_err(path))?;
    Ok(())
}

fn db_err<E: Into<redb::Error>>(path: &Path) -> impl Fn(E) -> RedbError + '_ {
    move |e| RedbError::Db {
        path: path.to_owned(),
        source: Box::new(e.into()),
    }
}

impl ProjectionStore for RedbStore {
    type Error = RedbError;

    fn load(&self, keys: &[Key]) -> Result<Vec<Option<Entry>>, RedbError> {
        let pending = self.in_flight().as_ref().map(|f| Arc::clone(&f.write));
        let txn = self.db.begin_read().map_err(self.err())?;
        let table = txn.open_table(ENTRIES).map_err(self.err())?;
        let mut name = String::new();
        keys.iter()
            .map(|key| {
                // A room's history since any time is the whole history, kept under one key.
                let key = &*key.stored();
                if let Some(entry) = pending.as_ref().and_then(|p| p.entries.get(key)) {
                    let decoded = entry
                        .decode()
                        .map_err(|e| self.corrupt(&key.to_string(), e));
                    return decoded.map(Some);
                }
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

    fn scan(&self, prefix: &str) -> Result<Vec<(Key, Entry)>, RedbError> {
        self.settle()?;
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

    fn scan_keys(&self, prefix: &str) -> Result<Vec<Key>, RedbError> {
        self.settle()?;
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

    fn routed(&self, ids: &[EventId]) -> Result<HashSet<EventId>, RedbError> {
        let txn = self.db.begin_read().map_err(self.err())?;
        let table = txn.open_table(ROUTED).map_err(self.err())?;
        let mut found = HashSet::new();
        let in_flight = self.in_flight();
        // As the store will be once the commit in flight lands: its ids added, then its cut.
        let (pending, cut) = match in_flight.as_ref() {
            Some(f) => (Some(&f.write.routed), f.write.prune_routed_before),
            None => (None, 0),
        };
        for id in ids {
            let time = match pending.and_then(|p| p.get(id)) {
                Some(&time) => Some(time),
                None => table.get(id.0).map_err(self.err())?.map(|t| t.value()),
            };
            if time.is_some_and(|t| t >= cut) {
                found.insert(*id);
            }
        }
        Ok(found)
    }

    fn log_position(&self) -> Result<u64, RedbError> {
        self.settle()?;
        let txn = self.db.begin_read().map_err(self.err())?;
        let table = txn.open_table(META).map_err(self.err())?;
        let position = table.get(LOG_POSITION).map_err(self.err())?;
        Ok(position.map(|v| v.value()).unwrap_or(0))
    }

    fn commit(&mut self, commit: Commit<'_>) -> Result<(), RedbError> {
        // Sorted and keyed before waiting, while the previous commit may still be writing.
        let job = Arc::new(Write {
            entries: commit.entries.into_iter().collect(),
            routed: commit.routed.iter().copied().collect(),
            prune_routed_before: commit.prune_routed_before,
            log_position: commit.log_position,
            durable: commit.durable,
        });
        self.settle()?;
        let (db, path, shared) = (Arc::clone(&self.db), self.path.clone(), Arc::clone(&job));
        let writer = std::thread::Builder::new()
            .name("redb-commit".into())
            .spawn(move || write(&db, &path, &shared))
            .map_err(|source| RedbError::Spawn {
                path: self.path.clone(),
                source,
            })?;
        *self.in_flight() = Some(InFlight { write: job, writer });
        Ok(())
    }

    fn sync(&mut self) -> Result<(), RedbError> {
        self.settle()?;
        // An empty durable commit makes the non-durable ones before it durable too.
        let txn = self.db.begin_write().map_err(self.err())?;
        txn.commit().map_err(self.err())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
