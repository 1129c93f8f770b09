//! Property tests of the batch protocol itself (`projections::batch`), over an in-memory store
//! that keeps a revision per entry and writes on condition, as DynamoDB does: several drivers
//! folding overlapping record sets, with their loads and commits interleaved in any order, end
//! with the store one driver folding every record ends with; a batch retried after a commit that
//! failed midway ends there too; and a driver whose commits always conflict gives up after its
//! bound with the typed error, having written nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{
    Batch, BatchError, CommitOutcome, Config, Entry, Key, Plan, Revision, Step, World,
};
use proptest::prelude::*;
use schemas::Record;
use std::collections::{BTreeMap, HashSet};
use support::strategies::*;
use support::*;

/// A table of entries with revisions, written on condition: the semantics of the DynamoDB store.
#[derive(Default)]
struct RevisionedMap {
    items: BTreeMap<Key, (Entry, Revision)>,
}

impl RevisionedMap {
    fn read(&self, key: &Key) -> (Option<Entry>, Option<Revision>) {
        match self.items.get(key) {
            Some((entry, rev)) => (Some(entry.clone()), Some(*rev)),
            None => (None, None),
        }
    }

    /// Writes each entry whose stored revision is still the expected one.
    fn commit(&mut self, world: &World, writes: &[projections::Write]) -> CommitOutcome {
        let mut outcome = CommitOutcome::default();
        for write in writes {
            // Every batch would write it: a shared table keeps none.
            assert_ne!(write.key, Key::Watermark, "a batch wrote the watermark");
            // A part is joined into its whole, and never conflicts.
            if write.key.is_part() {
                let part = world
                    .entry(&write.key)
                    .expect("a write's entry is in the world");
                let whole = write.key.whole();
                let (stored, rev) = match self.items.remove(&whole) {
                    Some((entry, rev)) => (Some(entry), rev),
                    None => (None, 0),
                };
                let joined = write.key.join_part(stored, &part).expect("a part's entry");
                self.items.insert(whole, (joined, rev));
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
    fn world(&self, config: &Config) -> World {
        let mut world = World::new(config.clone()).clock_from_entries();
        for (key, (entry, _)) in &self.items {
            world.load(key.clone(), Some(entry.clone()));
        }
        world
    }
}

/// One driver: its batches in order, the batch in progress over a fresh world (as a Lambda
/// invocation has), and every (key, entry) the batch in progress wrote.
struct Driver {
    batches: Vec<&'static [Record]>,
    current: usize,
    world: World,
    batch: Option<Batch<'static>>,
    wrote: HashSet<(Key, String)>,
    restarts: usize,
}

const ATTEMPTS: usize = 3;

impl Driver {
    fn new(batches: Vec<Vec<Record>>) -> Self {
        Driver {
            // Each batch's records live as long as the test's batches borrow them: leaked once,
            // as a test may.
            batches: batches.into_iter().map(|b| &*b.leak()).collect(),
            current: 0,
            world: World::new(Config::default())
                .parts_apart()
                .clock_from_entries(),
            batch: None,
            wrote: HashSet::new(),
            restarts: 0,
        }
    }

    fn done(&self) -> bool {
        self.current == self.batches.len()
    }

    /// Takes one step of the protocol against `store`: a load, a commit, or the end of a batch.
    fn step(&mut self, store: &mut RevisionedMap) {
        if self.batch.is_none() {
            self.batch = Some(Batch::new(
                self.batches[self.current],
                Plan::shared(ATTEMPTS),
            ));
            self.world = World::new(Config::default())
                .parts_apart()
                .clock_from_entries();
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
                self.batch = None;
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

/// Two to four record sets drawn from one pool, so they overlap (the same record on two shards is
/// a duplicate, as Kinesis and retries make them), each cut into batches; and the order in which
/// the drivers take their steps.
fn drivers_and_schedule() -> impl Strategy<Value = (Vec<Vec<Vec<Record>>>, Vec<usize>)> {
    let pool = prop::collection::vec(record(), 1..40);
    (pool, 2usize..5).prop_flat_map(|(pool, n)| {
        let n_records = pool.len();
        let sets = prop::collection::vec(
            (
                prop::collection::vec(0..n_records, 0..n_records + 5),
                prop::collection::vec(1usize..8, 1..4),
            ),
            n,
        );
        let schedule = prop::collection::vec(0..n, 0..400);
        (Just(pool), sets, schedule).prop_map(|(pool, sets, schedule)| {
            let drivers = sets
                .into_iter()
                .map(|(picks, sizes)| {
                    let records: Vec<Record> = picks.iter().map(|&i| pool[i].clone()).collect();
                    let mut batches = Vec::new();
                    let mut rest = &records[..];
                    for size in sizes.iter().cycle() {
                        if rest.is_empty() {
                            break;
                        }
                        let (batch, more) = rest.split_at((*size).min(rest.len()));
                        batches.push(batch.to_vec());
                        rest = more;
                    }
                    batches
                })
                .collect();
            (drivers, schedule)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn drivers_with_interleaved_commits_end_where_one_driver_folding_everything_ends(
        (sets, schedule) in drivers_and_schedule()
    ) {
        let config = Config::default();
        let every: Vec<Record> = sets.iter().flatten().flatten().cloned().collect();
        let mut alone = RevisionedMap::default();
        let mut one = Driver::new(vec![every.clone()]);
        while !one.done() {
            one.step(&mut alone);
        }

        let mut shared = RevisionedMap::default();
        let mut drivers: Vec<Driver> = sets.into_iter().map(Driver::new).collect();
        // The schedule's turns first, then round robin until every driver is done.
        let mut turns = schedule.into_iter().chain((0..drivers.len()).cycle());
        while drivers.iter().any(|d| !d.done()) {
            let d = turns.next().unwrap();
            if !drivers[d].done() {
                drivers[d].step(&mut shared);
            }
        }

        let want = views(&world_of(&every));
        prop_assert_eq!(&views(&alone.world(&config)), &want);
        prop_assert_eq!(&views(&shared.world(&config)), &want);
    }
}

/// Runs one batch of `records` from a fresh world over `store`; with `stop`, its first commit
/// writes only that many of its writes, in the order handed out, and the batch stops there (a
/// Lambda that failed midway through its commit).
fn run_batch(store: &mut RevisionedMap, records: &[Record], stop: Option<usize>) {
    let mut world = World::new(Config::default())
        .parts_apart()
        .clock_from_entries();
    let mut batch = Batch::new(records, Plan::shared(ATTEMPTS));
    loop {
        match batch.next(&mut world).unwrap() {
            Step::Load(keys) => {
                for key in keys {
                    let (entry, rev) = store.read(&key);
                    batch.load(&mut world, key, entry, rev);
                }
            }
            Step::Commit(writes) => {
                if let Some(n) = stop {
                    store.commit(&world, &writes[..n.min(writes.len())]);
                    return;
                }
                let outcome = store.commit(&world, &writes);
                batch.committed(&world, outcome);
            }
            Step::Done => return,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_batch_retried_after_a_commit_that_failed_midway_ends_where_one_fold_ends(
        records in prop::collection::vec(record(), 1..40),
        sizes in prop::collection::vec(1usize..8, 1..4),
        stops in prop::collection::vec(0usize..12, 1..4),
    ) {
        let mut store = RevisionedMap::default();
        let mut rest = &records[..];
        let (mut sizes, mut stops) = (sizes.iter().cycle(), stops.iter().cycle());
        while !rest.is_empty() {
            let (batch, more) = rest.split_at((*sizes.next().unwrap()).min(rest.len()));
            run_batch(&mut store, batch, stops.next().copied());
            run_batch(&mut store, batch, None);
            rest = more;
        }
        let want = views(&world_of(&records));
        prop_assert_eq!(&views(&store.world(&Config::default())), &want);
    }
}

fn world_of(records: &[Record]) -> World {
    fold(records).0
}

/// The README's example (its poison line left out): every seed's scenario, so a batch touches clients, connections, rooms,
/// devices, the lobby and the watermark.
fn example() -> Vec<Record> {
    include_str!("../../examples/seeds.jsonl")
        .lines()
        .filter_map(|line| schemas::decode_json(line.as_bytes()).ok())
        .collect()
}

#[test]
fn a_driver_whose_commits_always_conflict_gives_up_after_its_bound_having_written_nothing_twice() {
    let records = example();
    let contended = Key::Client("bob".into());
    let mut store = RevisionedMap::default();
    let mut world = World::new(Config::default())
        .parts_apart()
        .clock_from_entries();
    let mut batch = Batch::new(&records, Plan::shared(4));
    let mut commits = 0;
    let mut written: Vec<Key> = Vec::new();
    let error = loop {
        match batch.next(&mut world) {
            Ok(Step::Load(keys)) => {
                for key in keys {
                    let (entry, rev) = store.read(&key);
                    batch.load(&mut world, key, entry, rev);
                }
            }
            Ok(Step::Commit(writes)) => {
                commits += 1;
                // A rival writes bob's entry, as it is, between every read and write of ours.
                let (entry, rev) = store.read(&contended);
                let entry = entry.or_else(|| world.entry(&contended)).unwrap();
                store
                    .items
                    .insert(contended.clone(), (entry, rev.map_or(1, |r| r + 1)));
                let outcome = store.commit(&world, &writes);
                assert_eq!(outcome.conflicts, vec![contended.clone()]);
                written.extend(outcome.written.iter().map(|(k, _)| k.clone()));
                batch.committed(&world, outcome);
            }
            Ok(Step::Done) => panic!("a batch whose every commit conflicts cannot finish"),
            Err(e) => break e,
        }
    };
    assert_eq!(
        error,
        BatchError::StillConflicting {
            attempts: 4,
            first: contended.clone()
        }
    );
    assert_eq!(commits, 4);
    assert!(
        written.len() > 5,
        "the other entries are written: {written:?}"
    );
    let mut once = written.clone();
    once.sort();
    once.dedup();
    assert_eq!(once.len(), written.len(), "written twice: {written:?}");
    // The batch stays failed.
    assert_eq!(batch.next(&mut world), Err(error));
}
