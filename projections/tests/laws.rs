//! Property tests of the fold's laws: any arrival order and any duplication derive the same
//! projections; merge is commutative, associative and idempotent; a batch retried from its
//! middle, or cut into batches anywhere, ends where one clean pass ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, World};
use proptest::prelude::*;
use schemas::Record;
use support::*;

const CLIENTS: &[&str] = &["c1", "c2", "c3"];
const SESSIONS: &[&str] = &["s1", "s2", "s3", "s4"];
/// Connections with their fixed client and connect time (a connection has one of each).
const CONNS: &[(&str, &str, u64)] = &[("w1", "c1", 0), ("w2", "c2", 40), ("w3", "c1", 100)];
const TOPICS: &[&str] = &[
    "app/c1/chat/r1",
    "app/c2/chat/r2",
    "sensors/x",
    "app/c3/chat/r1",
];
const BODIES: &[&str] = &[
    r#"{"action":"join","chatId":"r1"}"#,
    r#"{"action":"leave","chatId":"r1"}"#,
    r#"{"action":"join","chatId":"r2"}"#,
    r#"{"action":"set_notify_list","devices":["d1"]}"#,
    r#"{"action":"set_notify_list","devices":["d1","d2"]}"#,
    r#"{"action":"set_notify_list","devices":[]}"#,
    r#"{"action":"sendmessage","chatId":"r1","message":"hi"}"#,
    r#"{"action":"sendmessage","message":"all"}"#,
    "garbage",
];

/// Event times in 30 s steps over 200 minutes: ties are common, and the range crosses the reset
/// horizon (30 min) and the connection bound (2 h).
fn time() -> impl Strategy<Value = u64> {
    (0u64..400).prop_map(|step| T0 + step * 30_000)
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> prop::sample::Select<T> {
    prop::sample::select(items)
}

const REASONS: &[&str] = &[
    "DUPLICATE_CLIENTID",
    "CONNECTION_LOST",
    "MQTT_KEEP_ALIVE_TIMEOUT",
    "SOMETHING_NEW",
];
const DEVICES: &[&str] = &["d1", "d2"];

fn topics() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(pick(TOPICS), 1..3)
}

fn record() -> impl Strategy<Value = Record> {
    let version = prop::option::weighted(0.9, 0u64..4);
    let reason = pick(REASONS);
    prop_oneof![
        3 => (pick(CLIENTS), pick(SESSIONS), version.clone(), time())
            .prop_map(|(c, s, v, t)| connected(c, s, v, t)),
        3 => (pick(CLIENTS), pick(SESSIONS), version, time(), reason)
            .prop_map(|(c, s, v, t, r)| disconnected(c, s, v, t, r)),
        2 => (pick(CLIENTS), pick(SESSIONS), topics(), time())
            .prop_map(|(c, s, tp, t)| subscribed(c, s, &tp, t)),
        2 => (pick(CLIENTS), pick(SESSIONS), topics(), time())
            .prop_map(|(c, s, tp, t)| unsubscribed(c, s, &tp, t)),
        2 => pick(CONNS).prop_map(|(w, c, at)| ws_connect(w, c, T0 + at * 60_000)),
        1 => (pick(CONNS), 0u64..150).prop_map(|((w, _, at), d)| ws_disconnect(w, T0 + at * 60_000, T0 + (at + d) * 60_000)),
                3 => (pick(CONNS), 0u64..150, pick(BODIES), prop::option::of(pick(CLIENTS)))
            .prop_map(|((w, _, at), d, b, claimed)| {
                // Ingest may have resolved a client id on a message, even a wrong one.
                let mut r = ws_message(w, T0 + at * 60_000, T0 + (at + d) * 60_000, b);
                if let (Record::WebSocket(ws), Some(c)) = (&mut r, claimed) {
                    ws.client_id = Some(c.to_owned());
                }
                r
            }),

        1 => (pick(DEVICES), time()).prop_map(|(d, t)| telemetry(d, t, serde_json::json!({"v": 1}))),
        1 => (pick(CONNS), time()).prop_map(|((w, _, _), t)| gone(w, t)),
    ]
}

fn records() -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec(record(), 0..40)
}

/// The events, shuffled, with some of them repeated.
fn shuffled_with_duplicates() -> impl Strategy<Value = (Vec<Record>, Vec<Record>)> {
    records().prop_flat_map(|events| {
        let n = events.len();
        let dups = prop::collection::vec(0..n.max(1), 0..=n);
        (Just(events), dups).prop_flat_map(|(events, dups)| {
            let mut again = events.clone();
            again.extend(dups.into_iter().filter_map(|i| events.get(i).cloned()));
            (Just(events), Just(again).prop_shuffle())
        })
    })
}

fn world_of(events: &[Record]) -> World {
    fold(events).0
}

fn merged(a: &World, b: &World) -> World {
    let mut m = a.clone();
    m.merge(b);
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
    fn merge_is_commutative_associative_and_idempotent(a in records(), b in records(), c in records()) {
        let (a, b, c) = (world_of(&a), world_of(&b), world_of(&c));
        prop_assert_eq!(entries(&merged(&a, &b)), entries(&merged(&b, &a)));
        prop_assert_eq!(entries(&merged(&merged(&a, &b), &c)), entries(&merged(&a, &merged(&b, &c))));
        prop_assert_eq!(entries(&merged(&a, &a)), entries(&a));
    }

    #[test]
    fn folding_two_streams_is_merging_their_folds(a in records(), b in records()) {
        let both: Vec<Record> = a.iter().chain(b.iter()).cloned().collect();
        let m = merged(&world_of(&a), &world_of(&b));
        prop_assert_eq!(views(&world_of(&both)), views(&m));
        prop_assert_eq!(entries(&world_of(&both)), entries(&m));
    }

    #[test]
    fn absorbing_a_world_is_merging_it(a in records(), b in records()) {
        let (a, b) = (world_of(&a), world_of(&b));
        let mut absorbed = a.clone();
        absorbed.absorb(b.clone());
        prop_assert_eq!(views(&absorbed), views(&merged(&a, &b)));
        prop_assert_eq!(entries(&absorbed), entries(&merged(&a, &b)));
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
    fn batches_through_one_kept_world_persist_what_one_in_memory_fold_derives(events in records(), sizes in prop::collection::vec(1usize..8, 1..10)) {
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
    fn compaction_never_changes_a_view_now_or_after_more_events(before in records(), after in records()) {
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
