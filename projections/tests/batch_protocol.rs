//! Property tests of the batch protocol itself (`projections::batch`), over an in-memory store
//! that keeps a revision per entry and writes on condition, as DynamoDB does: several drivers
//! folding overlapping record sets, with their loads and commits interleaved in any order, end
//! with the store one driver folding every record ends with; a batch retried after a commit that
//! failed midway ends there too; and a driver whose commits always conflict gives up after its
//! bound with the typed error, having written nothing twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Batch, BatchError, Config, Key, Plan, Step, World};
use proptest::prelude::*;
use schemas::Record;
use support::shared::{cut, run_interleaved, Driver, SharedStore, ATTEMPTS};
use support::strategies::*;
use support::*;

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
                    cut(&records, &sizes)
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
        let mut alone = SharedStore::default();
        let mut one = Driver::new(vec![every.clone()]);
        while !one.done() {
            one.step(&mut alone);
        }

        let mut shared = SharedStore::default();
        let mut drivers: Vec<Driver> = sets.into_iter().map(Driver::new).collect();
        run_interleaved(&mut drivers, &mut shared, &schedule);

        let want = views(&world_of(&every));
        prop_assert_eq!(&views(&alone.world(&config)), &want);
        prop_assert_eq!(&views(&shared.world(&config)), &want);
    }
}

/// Runs one batch of `records` from a fresh world over `store`; with `stop`, its first commit
/// writes only that many of its writes, in the order handed out, and the batch stops there (a
/// Lambda that failed midway through its commit).
fn run_batch(store: &mut SharedStore, records: &[Record], stop: Option<usize>) {
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
            Step::Publish(messages) => store.publish(&world, &messages),
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
        let mut store = SharedStore::default();
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
    let mut store = SharedStore::default();
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
            Ok(Step::Publish(messages)) => store.publish(&world, &messages),
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
