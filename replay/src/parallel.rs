//! The fold on two threads: the stream is split by what each record is about, each half is
//! folded into its own world, and the two worlds are joined at the end.
//!
//! Folding two streams is merging their folds (`folding_two_streams_is_merging_their_folds` in
//! `projections/tests/laws.rs`), and any order of the same events derives the same state, so how
//! the records are split cannot change the result, only how fast it comes. Lifecycle records go
//! by client, so each client's sessions, the fold's bulk, live on one side: a world per core, no
//! locks, and little to join at the end. Telemetry goes by device.
//!
//! A connection's records all go to one side: its client's, when its `$connect` is the first of
//! its records seen, else its own. This keeps every room membership of a client on its side, so
//! that each half can forget an old `Left` membership as a single fold would (see
//! `projections`' compaction): a half holding a client's leave could not otherwise know that the
//! other half holds an older join it overrules. For the rare client whose connection went to
//! the other side, both halves keep its history, and the joined world forgets it.

use crate::source::reader::Batch;
use projections::WorldFold;
use projections::{Config, World};
use rustc_hash::{FxHashMap, FxHashSet};
use schemas::{Record, WsEventType};
use std::hash::Hasher;
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// Batches in flight to the other thread.
const DEPTH: usize = 4;

/// What the other thread folds next: records of a batch the reading thread made, shared and read
/// in place by index, so no record is copied and each is freed where it was made.
struct Work {
    /// Clients whose history it must keep, from now on ([`World::keep_history_of`]).
    keep: Vec<String>,
    /// The batch its records are in.
    batch: Arc<Batch>,
    /// Which of them, in arrival order.
    indices: Vec<u32>,
}

/// A fold whose second half runs on a helper thread.
pub struct ParallelFold {
    here: WorldFold,
    /// Clients to pin on the other thread with its next work.
    keep: Vec<String>,
    /// The side of every connection seen.
    conns: FxHashMap<String, u8>,
    /// Clients whose history both halves keep.
    kept: FxHashSet<String>,
    send: SyncSender<Work>,
    helper: JoinHandle<World>,
}

/// Why the parallel fold failed: only a panic of its helper thread, which is a bug.
#[derive(Debug, thiserror::Error)]
#[error("the fold's helper thread panicked (a bug in the fold)")]
pub struct HelperPanicked;

impl ParallelFold {
    /// Two empty complete worlds with `config`, one on a new thread.
    pub fn new(config: Config) -> Self {
        let fold = || WorldFold::new(World::in_memory(config.clone()));
        ParallelFold::start(fold(), fold())
    }

    /// [`ParallelFold::new`], each half compacting every `records` of its records.
    pub fn compacting_every(config: Config, records: u64) -> Self {
        let fold = || WorldFold::compacting_every(World::in_memory(config.clone()), records);
        ParallelFold::start(fold(), fold())
    }

    fn start(here: WorldFold, mut fold: WorldFold) -> Self {
        let (send, work) = mpsc::sync_channel::<Work>(DEPTH);
        let helper = thread::spawn(move || {
            for work in work {
                for client in &work.keep {
                    fold.world.keep_history_of(client);
                }
                for &i in &work.indices {
                    // Replay never sends: the deliveries the fold decides are dropped here.
                    drop(fold.apply(&work.batch.records[i as usize].0));
                }
            }
            fold.world
        });
        ParallelFold {
            here,
            keep: Vec::new(),
            conns: FxHashMap::default(),
            kept: FxHashSet::default(),
            send,
            helper,
        }
    }

    /// Folds the records of `batch` at `indices`, in order: some on this thread, the others on
    /// the helper, which holds a clone of `batch` until it has folded them.
    pub fn apply(&mut self, batch: &Arc<Batch>, indices: &[u32]) {
        let mut theirs = Vec::new();
        for &i in indices {
            let record = &batch.records[i as usize].0;
            if self.side(record) == 0 {
                drop(self.here.apply(record));
            } else {
                theirs.push(i);
            }
        }
        if theirs.is_empty() && self.keep.is_empty() {
            return;
        }
        let work = Work {
            keep: std::mem::take(&mut self.keep),
            batch: Arc::clone(batch),
            indices: theirs,
        };
        // A closed channel means the helper panicked; `finish` reports it.
        let _ = self.send.send(work);
    }

    /// Which half folds `record` (see the module's documentation).
    fn side(&mut self, record: &Record) -> u8 {
        let conn = match record {
            Record::Lifecycle(e) => return hash_side(e.client_id()),
            Record::Telemetry(t) => return hash_side(&t.device_id),
            Record::ConnectionGone(g) => return self.conn_side(&g.connection_id, None),
            // Time only: the joined world's now is the later of the halves'.
            Record::Tick(t) => return hash_side(&t.shard_id),
            Record::WebSocket(ws) => ws,
        };
        let client = Some(conn)
            .filter(|ws| ws.event_type == WsEventType::Connect)
            .and_then(|ws| ws.resolved_client_id());
        self.conn_side(&conn.connection_id, client)
    }

    /// The side of a connection's records, decided by the first one seen; `client` is the one
    /// a `$connect` names.
    fn conn_side(&mut self, conn: &str, client: Option<&str>) -> u8 {
        let side = match self.conns.get(conn) {
            Some(&side) => side,
            None => {
                let side = hash_side(client.unwrap_or(conn));
                self.conns.insert(conn.to_owned(), side);
                side
            }
        };
        if let Some(client) = client.filter(|c| hash_side(c) != side) {
            self.keep_history_of(client);
        }
        side
    }

    /// Both halves keep `client`'s history: its memberships are on both sides.
    fn keep_history_of(&mut self, client: &str) {
        if !self.kept.insert(client.to_owned()) {
            return;
        }
        self.here.world.keep_history_of(client);
        // Kept from the start of the batch, a little early: keeping only ever forgets less.
        self.keep.push(client.to_owned());
    }

    /// Waits for the other half and joins the two worlds into one.
    ///
    /// # Errors
    /// The helper thread panicked.
    pub fn finish(self) -> Result<World, HelperPanicked> {
        let ParallelFold {
            here, send, helper, ..
        } = self;
        // Closing the channel ends the helper's loop.
        drop(send);
        let there = helper.join().map_err(|_| HelperPanicked)?;
        let mut world = here.world;
        world.absorb(there);
        // The joined world holds every record again: it may forget what the halves kept.
        world.release_history();
        Ok(world)
    }
}

/// A side by the hash of an id.
fn hash_side(id: &str) -> u8 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(id.as_bytes());
    // The high bit: Fx's low bits mix the least.
    (h.finish() >> 63) as u8
}

#[cfg(test)]
mod tests;
