//! The fold on two threads: the stream is split by what each record is about, each half is
//! folded into its own world, and the two worlds are joined at the end.
//!
//! Folding two streams is merging their folds (`folding_two_streams_is_merging_their_folds` in
//! `projections/tests/laws.rs`), and any order of the same events derives the same state, so how
//! the records are split cannot change the result, only how fast it comes. They are split by
//! client (lifecycle), connection (WebSocket, feedback) or device (telemetry), so that each
//! client's sessions, the fold's bulk, live on one side: a world per core, no locks, and little
//! to join at the end.

use crate::rebuild::Fold;
use projections::{Config, World};
use schemas::Record;
use std::hash::Hasher;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::{self, JoinHandle};

/// Records handed to the other thread at once.
const BATCH: usize = 4096;
/// Batches in flight to the other thread.
const DEPTH: usize = 4;

/// A fold whose second half runs on a helper thread.
pub struct ParallelFold {
    here: Fold,
    there: Vec<Record>,
    send: SyncSender<Vec<Record>>,
    spare: Receiver<Vec<Record>>,
    helper: JoinHandle<World>,
}

/// Why the parallel fold failed: only a panic of its helper thread, which is a bug.
#[derive(Debug, thiserror::Error)]
#[error("the fold's helper thread panicked (a bug in the fold)")]
pub struct HelperPanicked;

impl ParallelFold {
    /// Two empty complete worlds with `config`, one on a new thread.
    pub fn new(config: Config) -> Self {
        let (send, batches) = mpsc::sync_channel::<Vec<Record>>(DEPTH);
        let (give_back, spare) = mpsc::sync_channel::<Vec<Record>>(DEPTH + 2);
        let mut fold = Fold::new(World::in_memory(config.clone()));
        let helper = thread::spawn(move || {
            for mut batch in batches {
                for record in batch.drain(..) {
                    // Replay never sends: the deliveries the fold decides are dropped here.
                    drop(fold.apply(&record));
                }
                // A full channel only means there are spares already.
                let _ = give_back.try_send(batch);
            }
            fold.world
        });
        ParallelFold {
            here: Fold::new(World::in_memory(config)),
            there: Vec::with_capacity(BATCH),
            send,
            spare,
            helper,
        }
    }

    /// Folds one record, on this thread or the other.
    pub fn apply(&mut self, record: &Record) {
        if side(record) == 0 {
            drop(self.here.apply(record));
            return;
        }
        self.there.push(record.clone());
        if self.there.len() == BATCH {
            self.hand_over();
        }
    }

    fn hand_over(&mut self) {
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let batch = std::mem::replace(&mut self.there, next);
        // A closed channel means the helper panicked; `finish` reports it.
        let _ = self.send.send(batch);
    }

    /// Waits for the other half and joins the two worlds into one.
    ///
    /// # Errors
    /// The helper thread panicked.
    pub fn finish(mut self) -> Result<World, HelperPanicked> {
        self.hand_over();
        let ParallelFold {
            here, send, helper, ..
        } = self;
        // Closing the channel ends the helper's loop.
        drop(send);
        let there = helper.join().map_err(|_| HelperPanicked)?;
        let mut world = here.world;
        world.absorb(there);
        Ok(world)
    }
}

/// Which half folds `record`: by the id of the entry most of its state goes to.
fn side(record: &Record) -> u64 {
    let id = match record {
        Record::Lifecycle(e) => e.client_id(),
        Record::WebSocket(ws) => &ws.connection_id,
        Record::Telemetry(t) => &t.device_id,
        Record::ConnectionGone(g) => &g.connection_id,
    };
    let mut h = rustc_hash::FxHasher::default();
    h.write(id.as_bytes());
    // The high bits: Fx's low bits mix the least.
    h.finish() >> 63
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every seed's scenario (WebSocket, telemetry, feedback) and a generated lifecycle stream
    /// long enough for many hand-overs.
    fn records() -> Vec<Record> {
        let seeds = include_str!("../../examples/seeds.jsonl").lines();
        let lifecycle = ::tests::workload::iot_lifecycle_lines(3 * BATCH + 17, 300, 5);
        seeds
            .map(str::to_owned)
            .chain(lifecycle)
            .filter_map(|line| schemas::decode_json(line.as_bytes()).ok())
            .collect()
    }

    #[test]
    fn two_threads_derive_what_one_fold_does() {
        let records = records();
        assert!(records.iter().any(|r| side(r) == 0) && records.iter().any(|r| side(r) == 1));
        let mut one = World::in_memory(Config::default());
        let mut two = ParallelFold::new(Config::default());
        for record in &records {
            drop(one.apply(record));
            two.apply(record);
        }
        let two = two.finish().unwrap();
        assert!(one.clients().len() > 300);
        assert_eq!(two.clients(), one.clients());
        let entries = |w: &World| {
            let mut keys: Vec<_> = w.keys().collect();
            keys.sort();
            keys.into_iter().map(|k| w.entry(&k)).collect::<Vec<_>>()
        };
        assert_eq!(entries(&two), entries(&one));
    }
}
