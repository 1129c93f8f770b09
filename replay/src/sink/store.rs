//! `store:DIR`: the rebuilt world written into `processor local`'s embedded store
//! (`DIR/projections.redb`), entry by entry, with the same keys and encoding `processor local`
//! writes. `processor local --store DIR --projections-out FILE` then prints the same projections
//! as replay's `jsonl:` sink, and `processor local` can carry on folding new records from there.
//!
//! The store records log position 0 and no routed deliveries: replay wrote no log and sent
//! nothing. The directory must not already hold a store or a log, so nothing old is mixed in.

use super::{ProjectionSink, ProjectionSinkError, Written};
use embedded_store::redb_store::RedbStore;
use embedded_store::store::{encode_entries, Commit, ProjectionStore};
use embedded_store::{DB_FILE, LOG_DIR};
use projections::{ClientProjection, Key, World};
use std::path::{Path, PathBuf};

/// Entries per write transaction: bounds the memory of copies in flight.
const CHUNK: usize = 16 * 1024;

/// Writes a rebuilt world into an embedded store.
#[derive(Debug)]
pub struct StoreSink {
    dir: PathBuf,
}

impl StoreSink {
    /// Checks that `dir` holds no store yet (it is created when written).
    ///
    /// # Errors
    /// [`ProjectionSinkError::NotEmpty`] when `dir` already has a database or a log.
    pub fn open(dir: &Path) -> Result<StoreSink, ProjectionSinkError> {
        let not_empty = |what: &str| ProjectionSinkError::NotEmpty {
            dir: dir.to_owned(),
            what: what.to_owned(),
        };
        if dir.join(DB_FILE).exists() {
            return Err(not_empty(DB_FILE));
        }
        let log = dir.join(LOG_DIR);
        if std::fs::read_dir(&log).is_ok_and(|mut d| d.next().is_some()) {
            return Err(not_empty("a log/ directory"));
        }
        Ok(StoreSink {
            dir: dir.to_owned(),
        })
    }
}

impl ProjectionSink for StoreSink {
    fn write(
        &mut self,
        world: &mut World,
        _clients: &[ClientProjection],
    ) -> Result<Written, ProjectionSinkError> {
        embedded_store::dir::store_dir(&self.dir).map_err(|e| match e {
            embedded_store::dir::StoreDirError::NotADirectory(path) => ProjectionSinkError::Io {
                source: std::io::Error::other(format!("{} is not a directory", path.display())),
                path,
            },
            embedded_store::dir::StoreDirError::Create { path, source } => {
                ProjectionSinkError::Io { path, source }
            }
        })?;
        let mut store = RedbStore::open(&self.dir.join(DB_FILE))?;
        // What processor local stores is compacted; compaction changes no view.
        world.compact_all();
        let mut keys: Vec<Key> = world.keys().collect();
        keys.sort();
        for chunk in keys.chunks(CHUNK) {
            let entries = encode_entries(world, chunk)?;
            store.commit(Commit {
                entries,
                routed: &[],
                prune_routed_before: 0,
                log_position: 0,
                durable: false,
            })?;
        }
        store.sync()?;
        Ok(Written { items: keys.len() })
    }
}
