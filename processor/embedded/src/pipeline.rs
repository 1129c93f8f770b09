//! One batch, as docs/architecture.md (The batch protocol) has it: load the keys the batch touches
//! in bulk, fold the records in order, decide deliveries against the state at each point, skip
//! those already routed, and commit the changed entries with the routed ids and the log position at
//! once.
//!
//! The [`World`] is kept across batches as a cache: entries it has loaded stay loaded, so a
//! client seen in the previous batch costs no read in this one.
//!
//! The store is committed every `COMMIT_EVERY` (2 s) and at the end, not after every batch. Each
//! batch is already durable in the log (fsynced before it is folded), and a commit records the log
//! position it covers, so a crash loses nothing: the next run folds the log again from the last
//! commit. Committing less often means a busy client's entry is written once per commit instead
//! of once per batch: on a million events over 50,000 clients that is most of the run's cost.

use crate::deliveries::Deliveries;
use crate::store::{encode_entries, Commit, EncodeError, ProjectionStore};
use crate::summary::Summary;
use projections::{Batch, BatchError, ClientProjection, CommitOutcome, Config, Key, Step, World};
use schemas::{EventId, Record};
use std::collections::{HashMap, HashSet};
use std::io;
use std::time::{Duration, Instant};

/// How often the folded state is committed (and made durable) to the store. Between commits the
/// log (synced every batch) is what survives a crash; deliveries printed since the last commit
/// are printed again on recovery (at least once, never lost).
const COMMIT_EVERY: Duration = Duration::from_secs(2);

/// Records prefetched, then folded, at a time: few enough that the entries the prefetch read
/// are still in the cache when they are applied, enough that a cold batch still loads its keys
/// in bulk.
const PREFETCH_CHUNK: usize = 2048;

/// Why a batch failed. Nothing of it was committed.
#[derive(Debug, thiserror::Error)]
pub enum FoldError<E: std::error::Error + 'static> {
    /// The store failed.
    #[error(transparent)]
    Store(E),
    /// An entry would not encode (a bug).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// Deliveries could not be written.
    #[error("writing deliveries: {0}")]
    Output(#[from] io::Error),
    /// The batch protocol stopped (the fold kept asking for more keys).
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// The batch protocol asked for a step only a store shared by concurrent batches is asked
    /// (a bug: the embedded store has one writer).
    #[error("the batch protocol asked the embedded store to {0}, which only a shared store does: a bug in projections")]
    Unasked(&'static str),
}

/// The fold over a store.
pub struct Pipeline<S> {
    world: World,
    store: S,
    routed_retention_ms: u64,
    last_commit: Instant,
    /// Routed event ids not committed yet, and the log position the next commit covers.
    pending_routed: Vec<(EventId, u64)>,
    pending_ids: HashSet<EventId>,
    pending_position: Option<u64>,
}

impl<S: ProjectionStore> Pipeline<S> {
    /// A pipeline folding into `store` with `config`, remembering routed event ids for
    /// `routed_retention_ms` of event time.
    pub fn new(store: S, config: Config, routed_retention_ms: u64) -> Self {
        // The one writer of its store, folding every shard in one order: one list of the
        // announcements the presence grace puts off, which any tick reads.
        let mut world = World::new(config);
        world.one_pending_list();
        Pipeline {
            world,
            store,
            routed_retention_ms,
            last_commit: Instant::now(),
            pending_routed: Vec::new(),
            pending_ids: HashSet::new(),
            pending_position: None,
        }
    }

    /// Folds one batch and hands its new deliveries to `out`, in order; commits
    /// when the last commit is `COMMIT_EVERY` old, recording that the store has folded the log
    /// up to `log_position`.
    ///
    /// Deliveries are handed over and flushed before the commit: a crash in between hands them
    /// over again on recovery (at least once) rather than never.
    ///
    /// # Errors
    /// Store and output failures, or a fold that never settles its keys.
    pub fn fold_batch(
        &mut self,
        records: &[Record],
        log_position: u64,
        out: &mut impl Deliveries,
        summary: &mut Summary,
    ) -> Result<(), FoldError<S::Error>> {
        let started = Instant::now();
        let mut batch = Batch::fold_only(records, PREFETCH_CHUNK);
        let mut loaded = 0;
        // A fold-only batch asks for loads, then is done: its changes stay marked for `commit`.
        loop {
            match batch.next(&mut self.world)? {
                Step::Load(keys) => {
                    loaded += keys.len();
                    load(&self.store, &mut self.world, &mut batch, keys)
                        .map_err(FoldError::Store)?;
                }
                Step::Publish(_) => return Err(FoldError::Unasked("publish messages ahead")),
                Step::Commit(_) | Step::Done => break,
            }
        }
        summary.late_leaves += batch.late_leaves();
        let decided = batch.into_deliveries();
        let load_and_fold_time = started.elapsed();

        // Deliveries of one event all carry its id; a duplicate record (in an earlier batch, or
        // earlier in this one) has the same id, so only the first record with an id routes.
        let t2 = Instant::now();
        let ids: Vec<EventId> = {
            let mut seen = HashSet::new();
            decided
                .iter()
                .map(|(_, d)| d.event_id)
                .filter(|id| seen.insert(*id))
                .collect()
        };
        let mut already = self.store.routed(&ids).map_err(FoldError::Store)?;
        already.extend(ids.iter().filter(|id| self.pending_ids.contains(id)));
        let mut first: HashMap<EventId, usize> = HashMap::with_capacity(ids.len());
        let mut routed = Vec::with_capacity(ids.len());
        for (i, delivery) in &decided {
            let owner = *first.entry(delivery.event_id).or_insert_with(|| {
                if !already.contains(&delivery.event_id) {
                    routed.push((delivery.event_id, records[*i].event_time()));
                }
                *i
            });
            if owner != *i || already.contains(&delivery.event_id) {
                summary.duplicates += 1;
                continue;
            }
            out.deliver(delivery)?;
            summary.delivered(delivery.channel.name());
        }
        out.flush()?;

        self.pending_ids.extend(routed.iter().map(|(id, _)| *id));
        self.pending_routed.extend(routed);
        self.pending_position = Some(log_position);
        summary.batches += 1;
        tracing::debug!(
            records = records.len(),
            keys_loaded = loaded,
            load_and_fold_ms = load_and_fold_time.as_secs_f64() * 1e3,
            route_ms = t2.elapsed().as_secs_f64() * 1e3,
            "batch folded"
        );
        if self.last_commit.elapsed() >= COMMIT_EVERY {
            self.commit()?;
        }
        Ok(())
    }

    /// Writes every entry changed since the last commit, the routed ids and the log position they
    /// cover, in one durable transaction.
    fn commit(&mut self) -> Result<(), FoldError<S::Error>> {
        let Some(log_position) = self.pending_position else {
            return Ok(());
        };
        let prune_routed_before = self
            .world
            .watermark()
            .saturating_sub(self.routed_retention_ms);
        // The embedded store has one writer: its commit never conflicts, so the protocol asks
        // for one commit and is done.
        let mut batch = Batch::commit_only(1);
        loop {
            match batch.next(&mut self.world)? {
                Step::Commit(writes) => {
                    let t0 = Instant::now();
                    // The embedded store keeps rooms, devices and the lobby whole, and the world
                    // (not `parts_apart`) lists them whole.
                    let keys: Vec<Key> = writes.into_iter().map(|w| w.key).collect();
                    // Encoding every changed entry (tens of thousands of clients, each a few
                    // vectors) is most of a commit's time on this thread: done in two halves,
                    // from the world itself.
                    let entries = encode_entries(&self.world, &keys)?;
                    let t1 = Instant::now();
                    let written = entries.len();
                    self.store
                        .commit(Commit {
                            entries,
                            routed: &self.pending_routed,
                            prune_routed_before,
                            log_position,
                            durable: true,
                        })
                        .map_err(FoldError::Store)?;
                    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
                    tracing::debug!(
                        entries_written = written,
                        routed = self.pending_routed.len(),
                        dirty_ms = ms(t0, t1),
                        commit_ms = ms(t1, Instant::now()),
                        "committed"
                    );
                    batch.committed(&self.world, CommitOutcome::default());
                }
                Step::Load(keys) => load(&self.store, &mut self.world, &mut batch, keys)
                    .map_err(FoldError::Store)?,
                Step::Publish(_) => return Err(FoldError::Unasked("publish messages ahead")),
                Step::Done => break,
            }
        }
        self.pending_routed.clear();
        self.pending_ids.clear();
        self.pending_position = None;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Commits whatever is folded but not committed yet, durably: the end of a run.
    ///
    /// # Errors
    /// Store failures, or an entry that would not encode.
    pub fn sync(&mut self) -> Result<(), FoldError<S::Error>> {
        self.commit()?;
        self.store.sync().map_err(FoldError::Store)
    }

    /// Ends the pipeline, returning the store. The world is not dropped but leaked: freeing
    /// millions of small allocations one by one costs a noticeable part of a run, and the
    /// process is about to exit, which frees it all at once.
    pub fn finish(self) -> S {
        std::mem::forget(self.world);
        self.store
    }

    /// Every client's projection in the store (not only those this run touched), by clientId.
    ///
    /// # Errors
    /// Store failures.
    pub fn all_clients(&mut self) -> Result<Vec<ClientProjection>, S::Error> {
        // Everything this run touched is loaded and committed; only the rest needs reading.
        let mut missing = vec![Key::Watermark];
        for prefix in ["client#", "conn#"] {
            missing.extend(self.store.scan_keys(prefix)?);
        }
        self.load_missing(missing)?;
        Ok(crate::halves::clients(&self.world))
    }

    /// One client's projection, or `None` if no event was about it. Reads only what the view
    /// needs and is not loaded yet: the client, the watermark, and its connections (for the
    /// devices they watch).
    ///
    /// # Errors
    /// Store failures.
    pub fn client(&mut self, id: &str) -> Result<Option<ClientProjection>, S::Error> {
        self.load_missing(vec![Key::Client(id.to_owned()), Key::Watermark])?;
        let connections = self
            .world
            .client_state(id)
            .map(|c| c.connections.keys().cloned().map(Key::Connection).collect())
            .unwrap_or_default();
        self.load_missing(connections)?;
        Ok(self.world.client(id))
    }

    fn load_missing(&mut self, mut keys: Vec<Key>) -> Result<(), S::Error> {
        keys.retain(|key| !self.world.has(key));
        let entries = self.store.load(&keys)?;
        for (key, entry) in keys.into_iter().zip(entries) {
            self.world.load(key, entry);
        }
        Ok(())
    }
}

/// Loads what a step of `batch` asks for from the embedded store, which keeps no revisions.
fn load<S: ProjectionStore>(
    store: &S,
    world: &mut World,
    batch: &mut Batch<'_>,
    keys: Vec<Key>,
) -> Result<(), S::Error> {
    let entries = store.load(&keys)?;
    for (key, entry) in keys.into_iter().zip(entries) {
        batch.load(world, key, entry, None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests fail by panicking.

    use super::*;
    use crate::deliveries::Discard;
    use crate::store::MemoryStore;
    use projections::Delivery;

    /// The README's example (every seed's scenario), and alice's live connection then watching a
    /// device: a view that needs a connection's entry.
    fn example() -> Vec<Record> {
        let watch = r#"{"kind":"websocket","schemaVersion":2,"eventType":"MESSAGE","routeKey":"set_notify_list","connectionId":"alice-conn","connectedAt":1732350003000,"requestTimeEpoch":1732350065000,"body":"{\"action\": \"set_notify_list\", \"devices\": [\"sensor-7\"]}"}"#;
        include_str!("../../../examples/seeds.jsonl")
            .lines()
            .chain([watch])
            .filter_map(|line| schemas::decode_json(line.as_bytes()).ok())
            .collect()
    }

    #[test]
    fn one_client_read_cold_equals_its_entry_in_the_full_listing() {
        let mut pipeline = Pipeline::new(MemoryStore::new(), Config::default(), 0);
        pipeline
            .fold_batch(&example(), 1, &mut Discard, &mut Summary::default())
            .unwrap();
        pipeline.sync().unwrap();
        let store = pipeline.finish();
        let all = Pipeline::new(store.clone(), Config::default(), 0)
            .all_clients()
            .unwrap();
        assert!(all.len() > 3 && all.iter().any(|c| !c.watching.is_empty()));
        for expected in &all {
            // A pipeline that has loaded nothing yet: the read must fetch all the view needs.
            let mut cold = Pipeline::new(store.clone(), Config::default(), 0);
            assert_eq!(
                cold.client(&expected.client_id).unwrap().as_ref(),
                Some(expected)
            );
        }
        let mut cold = Pipeline::new(store, Config::default(), 0);
        assert_eq!(cold.client("nobody").unwrap(), None);
    }

    /// Keeps every delivery handed over.
    struct Collect(Vec<Delivery>);

    impl Deliveries for Collect {
        fn deliver(&mut self, delivery: &Delivery) -> io::Result<()> {
            self.0.push(delivery.clone());
            Ok(())
        }
    }

    #[test]
    fn batches_folded_in_chunks_deliver_and_project_what_one_in_memory_fold_does() {
        // The example's records spread over several prefetch chunks by other clients' connects
        // (at the next record's time, so the fold's clock is the example's), and cut into two
        // batches with a cold pipeline for the second.
        let mut records = Vec::new();
        for (n, record) in example().into_iter().enumerate() {
            let at = record.event_time();
            for k in 0..PREFETCH_CHUNK / 3 {
                let line = format!(
                    r#"{{"clientId":"filler-{n}-{k}","timestamp":{at},"eventType":"connected","sessionIdentifier":"s-{n}-{k}","versionNumber":1}}"#
                );
                records.push(schemas::decode_json(line.as_bytes()).unwrap());
            }
            records.push(record);
        }
        assert!(records.len() > 4 * PREFETCH_CHUNK);
        let mut world = World::in_memory(Config::default());
        let expected: Vec<Delivery> = records.iter().flat_map(|r| world.apply(r)).collect();
        assert!(expected.len() >= 5, "the example's deliveries");

        let (first, second) = records.split_at(records.len() / 2 + 7);
        let mut out = Collect(Vec::new());
        let mut pipeline = Pipeline::new(MemoryStore::new(), Config::default(), 0);
        pipeline
            .fold_batch(first, 1, &mut out, &mut Summary::default())
            .unwrap();
        pipeline.sync().unwrap();
        let mut pipeline = Pipeline::new(pipeline.finish(), Config::default(), 0);
        pipeline
            .fold_batch(second, 2, &mut out, &mut Summary::default())
            .unwrap();
        pipeline.sync().unwrap();
        assert_eq!(out.0, expected);
        assert_eq!(pipeline.all_clients().unwrap(), world.clients());
    }
}
