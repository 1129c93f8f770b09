//! Property tests of the fold's laws: any arrival order and any duplication derive the same
//! projections; merge is commutative, associative and idempotent; a batch retried from its
//! middle, or cut into batches anywhere, ends where one clean pass ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, World};
use proptest::prelude::*;
use schemas::Record;
use support::strategies::*;
use support::*;

fn world_of(events: &[Record]) -> World {
    fold(events).0
}

/// The join of two worlds, as replay's parallel fold joins its halves.
fn merged(a: &World, b: &World) -> World {
    let mut m = a.clone();
    m.absorb(b.clone());
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_order_and_any_duplication_derive_the_same_state((events, again) in shuffled_with_duplicates()) {
        let (a, b) = (world_of(&events), world_of(&again));
        prop_assert_eq!(views(&a), views(&b));
        prop_assert_eq!(entries(&a), entries(&b));
    }

    #[test]
    fn merge_is_commutative_associative_and_idempotent(a in records_and_ticks(), b in records_and_ticks(), c in records_and_ticks()) {
        let (a, b, c) = (world_of(&a), world_of(&b), world_of(&c));
        prop_assert_eq!(entries(&merged(&a, &b)), entries(&merged(&b, &a)));
        prop_assert_eq!(entries(&merged(&merged(&a, &b), &c)), entries(&merged(&a, &merged(&b, &c))));
        prop_assert_eq!(entries(&merged(&a, &a)), entries(&a));
    }

    #[test]
    fn folding_two_streams_is_merging_their_folds(a in records_and_ticks(), b in records_and_ticks()) {
        let both: Vec<Record> = a.iter().chain(b.iter()).cloned().collect();
        let m = merged(&world_of(&a), &world_of(&b));
        prop_assert_eq!(views(&world_of(&both)), views(&m));
        prop_assert_eq!(entries(&world_of(&both)), entries(&m));
    }

    #[test]
    fn a_batch_retried_from_its_middle_equals_one_clean_pass(events in records(), cut in any::<prop::sample::Index>(), crash in any::<prop::sample::Index>()) {
        let config = Config::default();
        let mut clean = MemStore::default();
        clean.process(&config, &events, None);

        let mut retried = MemStore::default();
        // An invocation dies before persisting anything, after some records...
        retried.process(&config, &events, Some(crash.index(events.len() + 1)));
        // ...then one completes the batch but reports a failure at `cut`...
        retried.process(&config, &events, None);
        // ...so the records from `cut` on are delivered again.
        retried.process(&config, &events[cut.index(events.len() + 1)..], None);

        prop_assert_eq!(views(&retried.world(&config)), views(&clean.world(&config)));
        prop_assert_eq!(views(&clean.world(&config)), views(&world_of(&events)));
    }

    #[test]
    fn batches_cut_anywhere_and_compacted_derive_what_one_in_memory_fold_does(events in records(), sizes in prop::collection::vec(1usize..8, 1..10)) {
        let config = Config::default();
        let mut store = MemStore::default();
        let mut rest = &events[..];
        let mut sizes = sizes.into_iter().cycle();
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(1).min(rest.len());
            store.process(&config, &rest[..n], None);
            rest = &rest[n..];
        }
        prop_assert_eq!(views(&store.world(&config)), views(&world_of(&events)));
    }

    #[test]
    fn batches_through_one_kept_world_persist_what_one_in_memory_fold_derives(events in records_and_ticks(), sizes in prop::collection::vec(1usize..8, 1..10)) {
        let config = Config::default();
        let mut store = MemStore::default();
        let mut world = World::new(config.clone());
        let mut rest = &events[..];
        let mut sizes = sizes.into_iter().cycle();
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(1).min(rest.len());
            store.process_in(&mut world, &rest[..n], None);
            rest = &rest[n..];
        }
        prop_assert_eq!(views(&store.world(&config)), views(&world_of(&events)));
    }

    #[test]
    fn compaction_never_changes_a_view_now_or_after_more_events(before in records_and_ticks(), after in records_and_ticks()) {
        let (mut compacted, _) = fold(&before);
        compacted.compact_all();
        let (plain, _) = fold(&before);
        prop_assert_eq!(views(&compacted), views(&plain));
        let (mut c2, mut p2) = (compacted, plain);
        for r in &after {
            c2.apply(r);
            p2.apply(r);
        }
        prop_assert_eq!(views(&c2), views(&p2));
    }
}
