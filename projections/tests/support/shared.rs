//! A store shared by concurrent drivers, as a DynamoDB table is by every shard's Lambda
//! invocation: entries with revisions, written on condition; parts (room members, messages)
//! joined into their wholes, never conflicting. And a driver of the batch protocol over it that
//! takes one step at a time, so that a test can interleave several drivers' loads and commits
//! in any order.

use projections::{
    Batch, BatchError, CommitOutcome, Config, Delivery, Entry, Key, Plan, Revision, Step, World,
};
use schemas::Record;
use std::collections::{BTreeMap, HashSet};

/// A table of entries with revisions, written on condition: the semantics of the DynamoDB store.
#[derive(Default)]
pub struct SharedStore {
    pub items: BTreeMap<Key, (Entry, Revision)>,
}

impl SharedStore {
    /// The stored entry of `key` (a history read since any time reads the whole history, which
    /// holds every message since then) and its revision.
    pub fn read(&self, key: &Key) -> (Option<Entry>, Option<Revision>) {
        match self.items.get(&*key.stored()) {
            Some((entry, rev)) => (Some(entry.clone()), Some(*rev)),
            None => (None, None),
        }
    }

    /// Joins a part into its whole, as DynamoDB keeps the newer register of a member and each
    /// message of a room apart.
    fn put_part(&mut self, world: &World, key: &Key) {
        let part = world.entry(key).expect("a part's entry is in the world");
        let whole = key.whole();
        let (stored, rev) = match self.items.remove(&whole) {
            Some((entry, rev)) => (Some(entry), rev),
            None => (None, 0),
        };
        let joined = key.join_part(stored, &part).expect("a part's entry");
        self.items.insert(whole, (joined, rev));
    }

    /// Writes the messages a batch stores before it reads their rooms' members.
    pub fn publish(&mut self, world: &World, messages: &[Key]) {
        for key in messages {
            assert!(matches!(key, Key::Message { .. }), "{key} published ahead");
            self.put_part(world, key);
        }
    }

    /// Writes each entry whose stored revision is still the expected one.
    pub fn commit(&mut self, world: &World, writes: &[projections::Write]) -> CommitOutcome {
        let mut outcome = CommitOutcome::default();
        for write in writes {
            // Every batch would write it: a shared table keeps none.
            assert_ne!(write.key, Key::Watermark, "a batch wrote the watermark");
            // A part is joined into its whole, and never conflicts.
            if write.key.is_part() {
                self.put_part(world, &write.key);
                continue;
            }
            let stored = self.items.get(&write.key).map(|(_, rev)| *rev);
            if stored != write.expected {
                outcome.conflicts.push(write.key.clone());
                continue;
            }
            let rev = stored.map_or(1, |r| r + 1);
            let entry = world
                .entry(&write.key)
                .expect("a write's entry is in the world");
            self.items.insert(write.key.clone(), (entry, rev));
            outcome.written.push((write.key.clone(), rev));
        }
        outcome
    }

    /// A complete world of every stored entry, to derive views from.
    pub fn world(&self, config: &Config) -> World {
        let mut world = World::new(config.clone()).clock_from_entries();
        for (key, (entry, _)) in &self.items {
            world.load(key.clone(), Some(entry.clone()));
        }
        world
    }
}

/// One driver (a shard's Lambda invocations, one after another): its batches in order, the
/// batch in progress over a fresh world, every (key, entry) the batch in progress wrote, and
/// the deliveries and late leaves of the batches it finished.
pub struct Driver {
    batches: Vec<&'static [Record]>,
    current: usize,
    world: World,
    batch: Option<Batch<'static>>,
    wrote: HashSet<(Key, String)>,
    restarts: usize,
    /// The deliveries of every batch finished, in order.
    pub delivered: Vec<Delivery>,
    /// The late leaves the finished batches counted.
    pub late_leaves: u64,
}

/// Commits a batch may try before it gives up (and the driver runs it again).
pub const ATTEMPTS: usize = 3;

fn fresh(config: &Config) -> World {
    World::new(config.clone())
        .parts_apart()
        .clock_from_entries()
}

impl Driver {
    pub fn new(batches: Vec<Vec<Record>>) -> Self {
        Driver {
            // Each batch's records live as long as the test's batches borrow them: leaked once,
            // as a test may.
            batches: batches.into_iter().map(|b| &*b.leak()).collect(),
            current: 0,
            world: fresh(&Config::default()),
            batch: None,
            wrote: HashSet::new(),
            restarts: 0,
            delivered: Vec::new(),
            late_leaves: 0,
        }
    }

    pub fn done(&self) -> bool {
        self.current == self.batches.len()
    }

    /// Takes one step of the protocol against `store`: a load, a publish, a commit, or the end
    /// of a batch.
    pub fn step(&mut self, store: &mut SharedStore) {
        if self.batch.is_none() {
            self.batch = Some(Batch::new(
                self.batches[self.current],
                Plan::shared(ATTEMPTS),
            ));
            self.world = fresh(&Config::default());
            self.wrote.clear();
        }
        let batch = self.batch.as_mut().unwrap();
        match batch.next(&mut self.world) {
            Ok(Step::Load(keys)) => {
                for key in keys {
                    let (entry, rev) = store.read(&key);
                    batch.load(&mut self.world, key, entry, rev);
                }
            }
            Ok(Step::Publish(messages)) => store.publish(&self.world, &messages),
            Ok(Step::Commit(writes)) => {
                let as_is = |key: &Key| (key.clone(), format!("{:?}", self.world.entry(key)));
                for w in &writes {
                    assert!(
                        !self.wrote.contains(&as_is(&w.key)),
                        "{} written again unchanged by one batch",
                        w.key
                    );
                }
                let outcome = store.commit(&self.world, &writes);
                let wrote: Vec<_> = outcome.written.iter().map(|(k, _)| as_is(k)).collect();
                self.wrote.extend(wrote);
                batch.committed(&self.world, outcome);
            }
            Ok(Step::Done) => {
                let batch = self.batch.take().unwrap();
                self.late_leaves += batch.late_leaves();
                self.delivered
                    .extend(batch.into_deliveries().into_iter().map(|(_, d)| d));
                self.current += 1;
            }
            // The Lambda's answer: the batch is retried, from a fresh world.
            Err(BatchError::StillConflicting { .. }) => {
                self.restarts += 1;
                assert!(self.restarts < 1_000, "a driver never got its batch in");
                self.batch = None;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// `records` cut into batches of `sizes`, in turn.
pub fn cut(records: &[Record], sizes: &[usize]) -> Vec<Vec<Record>> {
    let mut batches = Vec::new();
    let mut rest = records;
    for size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, more) = rest.split_at((*size).min(rest.len()));
        batches.push(batch.to_vec());
        rest = more;
    }
    batches
}

/// Runs `drivers` over `store` until every one is done: the `schedule`'s turns first (each
/// names a driver, which takes one step), then round robin.
pub fn run_interleaved(drivers: &mut [Driver], store: &mut SharedStore, schedule: &[usize]) {
    let n = drivers.len();
    let mut turns = schedule.iter().map(|d| d % n).chain((0..n).cycle());
    while drivers.iter().any(|d| !d.done()) {
        let d = turns.next().unwrap();
        if !drivers[d].done() {
            drivers[d].step(store);
        }
    }
}
