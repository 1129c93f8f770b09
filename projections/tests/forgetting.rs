//! Forgetting over days: compaction drops closed sessions and `Left` memberships once they are
//! older than the tombstone retention, which is invisible as long as no record arrives later
//! than that. These tests span many retentions of event time, which the laws' 200 minutes do not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, Membership, World};
use proptest::prelude::*;
use schemas::Record;
use std::collections::BTreeSet;
use support::*;

/// One hour: short, so that a generated stream spans many of them.
const RETENTION: u64 = HOUR;

fn config() -> Config {
    Config {
        tombstone_retention_ms: RETENTION,
        ..Config::default()
    }
}

const CLIENTS: &[&str] = &["c1", "c2", "c3"];
const TOPICS: &[&str] = &["app/c/chat/r1", "app/c/chat/r2", "app/c/chat/r3", "x/y"];
const BODIES: &[&str] = &[
    r#"{"action":"join","chatId":"r1"}"#,
    r#"{"action":"leave","chatId":"r1"}"#,
    r#"{"action":"join","chatId":"r2"}"#,
    r#"{"action":"leave","chatId":"r2"}"#,
    r#"{"action":"sendmessage","chatId":"r1","message":"hi"}"#,
    r#"{"action":"sendmessage","chatId":"r2","message":"yo"}"#,
];

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> prop::sample::Select<T> {
    prop::sample::select(items)
}

/// One MQTT session of a client: it starts `gap` minutes after the previous one ended (at once
/// is a takeover: the old session's `DUPLICATE_CLIENTID` disconnect comes just after the new
/// connect), lasts `minutes`, (un)subscribes along the way, and its disconnect may be lost.
#[derive(Debug, Clone)]
struct SessionPlan {
    gap: u64,
    minutes: u64,
    topics: Vec<(&'static str, bool, u64)>,
    disconnect_lost: bool,
}

fn session_plan() -> impl Strategy<Value = SessionPlan> {
    let topic = (pick(TOPICS), any::<bool>(), 0u64..100);
    (
        prop_oneof![1 => Just(0u64), 3 => 1u64..150],
        1u64..150,
        prop::collection::vec(topic, 0..4),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(gap, minutes, topics, disconnect_lost)| SessionPlan {
            gap,
            minutes,
            topics,
            disconnect_lost,
        })
}

/// A client's sessions one after another, as AWS IoT has them: one connection per client id at
/// a time, versions counting up, and starting again after an hour offline.
fn iot_timeline(client: &str, plans: &[SessionPlan]) -> Vec<Record> {
    let mut out = Vec::new();
    let (mut end, mut version) = (T0, 0u64);
    for (k, plan) in plans.iter().enumerate() {
        let start = end + plan.gap * MIN;
        version = if plan.gap > 60 { 0 } else { version + 1 };
        let session = format!("s{k}");
        out.push(connected(client, &session, Some(version), start));
        for (topic, subscribe, at) in &plan.topics {
            let ts = start + plan.minutes * MIN * at / 100;
            let topic: &str = topic;
            out.push(if *subscribe {
                subscribed(client, &session, &[topic], ts)
            } else {
                unsubscribed(client, &session, &[topic], ts)
            });
        }
        end = start + plan.minutes * MIN;
        let next_is_takeover = plans.get(k + 1).is_some_and(|p| p.gap == 0);
        if !plan.disconnect_lost {
            let (ts, reason) = if next_is_takeover {
                (end + 1_000, "DUPLICATE_CLIENTID")
            } else {
                (end, "CONNECTION_LOST")
            };
            out.push(disconnected(client, &session, Some(version), ts, reason));
        }
    }
    out
}

/// A WebSocket connection of a client: connects `at` minutes in, sends messages (joins, leaves,
/// chat) within API Gateway's two hours, and may disconnect.
#[derive(Debug, Clone)]
struct WsPlan {
    at: u64,
    client: &'static str,
    messages: Vec<(u64, &'static str)>,
    disconnect: Option<u64>,
}

fn ws_plan() -> impl Strategy<Value = WsPlan> {
    let message = (0u64..120, pick(BODIES));
    (
        0u64..600,
        pick(CLIENTS),
        prop::collection::vec(message, 0..6),
        prop::option::of(0u64..120),
    )
        .prop_map(|(at, client, messages, disconnect)| WsPlan {
            at,
            client,
            messages,
            disconnect,
        })
}

/// The records of connection `conn` (API Gateway never reuses a connection id).
fn ws_timeline(conn: &str, plan: &WsPlan) -> Vec<Record> {
    let at = T0 + plan.at * MIN;
    let mut out = vec![ws_connect(conn, plan.client, at)];
    for (after, body) in &plan.messages {
        out.push(ws_message(conn, at, at + after * MIN, body));
    }
    if let Some(after) = plan.disconnect {
        out.push(ws_disconnect(conn, at, at + after * MIN));
    }
    out
}

/// Realistic timelines over about half a day (three clients' sessions, a few WebSocket
/// connections), in an arrival order where no record arrives more than the retention after its
/// event time, the assumption forgetting rests on: each record is delayed by less than the
/// retention, and they arrive by event time plus delay. Within that, any order: a `join` before
/// its connection's `$connect`, a disconnect before its connect, a `leave` before the `join` it
/// overrules. Some records arrive twice.
fn late_by_less_than_the_retention() -> impl Strategy<Value = Vec<Record>> {
    let clients = prop::collection::vec(prop::collection::vec(session_plan(), 1..8), 3);
    let conns = prop::collection::vec(ws_plan(), 0..5);
    (clients, conns)
        .prop_flat_map(|(clients, conns)| {
            let mut records: Vec<Record> = CLIENTS
                .iter()
                .zip(&clients)
                .flat_map(|(c, plans)| iot_timeline(c, plans))
                .collect();
            for (i, plan) in conns.iter().enumerate() {
                records.extend(ws_timeline(&format!("w{i}"), plan));
            }
            let n = records.len();
            let delays = prop::collection::vec(0..RETENTION / MIN, n);
            let again = prop::collection::vec(any::<prop::sample::Index>(), 0..4);
            (Just(records), delays, again)
        })
        .prop_map(|(records, delays, again)| {
            let mut delayed: Vec<(Record, u64)> = records.into_iter().zip(delays).collect();
            for i in again {
                let (r, d) = delayed[i.index(delayed.len())].clone();
                delayed.push((r, d / 2));
            }
            delayed.sort_by_key(|(r, delay)| r.event_time() + delay * MIN);
            delayed.into_iter().map(|(r, _)| r).collect()
        })
}

/// Folds in memory, compacting every `every` records (never if `None`).
fn fold_compacting(
    records: &[Record],
    every: Option<usize>,
) -> (World, Vec<projections::Delivery>) {
    let mut world = World::in_memory(config());
    let mut deliveries = Vec::new();
    for (i, r) in records.iter().enumerate() {
        deliveries.extend(world.apply(r));
        if every.is_some_and(|n| (i + 1) % n == 0) {
            world.compact_all();
        }
    }
    (world, deliveries)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn forgetting_changes_no_view_and_no_delivery_when_records_are_at_most_a_retention_late(
        records in late_by_less_than_the_retention(),
        every in 1usize..12,
        sizes in prop::collection::vec(1usize..10, 1..6),
    ) {
        let (plain, plain_deliveries) = fold_compacting(&records, None);
        let (compacted, deliveries) = fold_compacting(&records, Some(every));
        prop_assert_eq!(views(&compacted), views(&plain));
        prop_assert_eq!(deliveries, plain_deliveries.clone());

        // The processor's way: batches on a store, each batch's entries compacted as written.
        let mut store = MemStore::default();
        let mut rest = &records[..];
        let mut sizes = sizes.into_iter().cycle();
        let mut stored_deliveries = Vec::new();
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(1).min(rest.len());
            stored_deliveries.extend(store.process(&config(), &rest[..n], None));
            rest = &rest[n..];
        }
        prop_assert_eq!(views(&store.world(&config())), views(&plain));
        let stored = recipients(&stored_deliveries);
        let lost: Vec<_> = recipients(&plain_deliveries).difference(&stored).cloned().collect();
        prop_assert!(lost.is_empty(), "the store's batches lost {:?}", lost);
    }
}

/// Who got what: each delivery as its event and its recipient (a socket's client, a push's
/// client, a topic). The store's batches must lose none of what the whole stream's fold
/// delivers, and may deliver more. A batch's now lags the stream's (docs/architecture.md, The
/// fold): a connection in its last minutes before API Gateway's two hours may be live to a batch
/// and past them to the whole stream, so the one may reach a client by socket where the other
/// pushes, hence recipients, not channels. A membership folded late catches up from the history
/// its batch reads, which the whole stream's fold may have cut to the 10 minutes before the room's
/// newest message already, and a record's duplicate is routed again in memory: hence a subset.
fn recipients(deliveries: &[projections::Delivery]) -> BTreeSet<(schemas::EventId, String)> {
    deliveries
        .iter()
        .map(|d| {
            let who = match (&d.channel, &d.client_id) {
                (projections::Channel::WebSocket { .. }, Some(client)) => client.clone(),
                (channel, _) => channel.target().to_owned(),
            };
            (d.event_id, who)
        })
        .collect()
}

fn membership(world: &World, client: &str, room: &str) -> (Option<Membership>, Option<Membership>) {
    let on_client = world
        .client_state(client)
        .and_then(|c| c.membership(room))
        .map(|m| m.value);
    let on_room = world
        .room_state(room)
        .and_then(|r| r.member(client))
        .map(|m| m.value);
    (on_client, on_room)
}

#[test]
fn a_left_room_is_forgotten_a_retention_later_and_a_joined_one_never() {
    let mut world = World::in_memory(config());
    for r in [
        subscribed("c1", "s1", &["app/c1/chat/r1", "app/c1/chat/r2"], T0),
        unsubscribed("c1", "s1", &["app/c1/chat/r1"], T0 + MIN),
        connected("c1", "s2", Some(1), T0 + RETENTION),
        subscribed("c2", "s9", &["app/c2/chat/r1"], T0 + RETENTION),
    ] {
        world.apply(&r);
    }
    world.compact_all();
    let left = Some(Membership::Left);
    assert_eq!(
        membership(&world, "c1", "r1"),
        (left, left),
        "a retention is not yet past"
    );

    // The client's newest event forgets on the client, the room's newest write on the room.
    world.apply(&connected("c1", "s3", Some(2), T0 + MIN + RETENTION + 1));
    world.compact_all();
    assert_eq!(membership(&world, "c1", "r1"), (None, left));
    world.apply(&unsubscribed(
        "c2",
        "s9",
        &["app/c2/chat/r1"],
        T0 + MIN + RETENTION + 1,
    ));
    world.compact_all();
    assert_eq!(
        membership(&world, "c1", "r1"),
        (None, None),
        "forgotten on both sides"
    );
    let joined = Some(Membership::Joined);
    assert_eq!(membership(&world, "c1", "r2"), (joined, joined));
    assert_eq!(world.client("c1").unwrap().rooms, ["r2"]);
}

#[test]
fn another_clients_clock_far_ahead_forgets_nothing_of_a_client() {
    let mut world = World::in_memory(config());
    world.apply(&subscribed("c1", "s1", &["app/c1/chat/r1"], T0));
    world.apply(&unsubscribed("c1", "s1", &["app/c1/chat/r1"], T0 + MIN));
    world.apply(&subscribed(
        "c2",
        "s9",
        &["app/c2/chat/r2"],
        T0 + 240 * HOUR,
    ));
    world.compact_all();
    let left = Some(Membership::Left);
    assert_eq!(membership(&world, "c1", "r1"), (left, left));
    // So an old record of c1 arriving now still finds its leave.
    world.apply(&subscribed("c1", "s1", &["app/c1/chat/r1"], T0));
    assert!(world.client("c1").unwrap().rooms.is_empty());
}

#[test]
fn a_dead_connections_old_join_does_not_come_back_once_the_leave_is_forgotten() {
    // w1 joins r1 over WebSocket; the client then leaves r1 over MQTT. Days later a late record
    // of w1 arrives: syncing w1 into its client again must not bring back the join, which the
    // forgotten leave had overruled.
    let at = T0;
    let events = [
        ws_connect("w1", "c1", at),
        ws_message("w1", at, at + MIN, r#"{"action":"join","chatId":"r1"}"#),
        unsubscribed("c1", "s1", &["app/c1/chat/r1"], at + 2 * MIN),
        connected("c1", "s2", Some(1), at + 3 * RETENTION),
        gone("w1", at + 3 * RETENTION + 1),
    ];
    let (plain, _) = fold_compacting(&events, None);
    let (compacted, _) = fold_compacting(&events, Some(1));
    assert!(plain.client("c1").unwrap().rooms.is_empty());
    assert_eq!(views(&compacted), views(&plain));
    assert_eq!(membership(&compacted, "c1", "r1").0, None);
}

#[test]
fn a_kept_clients_history_is_not_forgotten() {
    let mut world = World::in_memory(config());
    world.keep_history_of("c1");
    world.apply(&subscribed("c1", "s1", &["app/c1/chat/r1"], T0));
    world.apply(&unsubscribed("c1", "s1", &["app/c1/chat/r1"], T0 + MIN));
    world.apply(&subscribed(
        "c1",
        "s2",
        &["app/c1/chat/r2"],
        T0 + 3 * RETENTION,
    ));
    world.apply(&subscribed(
        "c2",
        "s9",
        &["app/c2/chat/r1"],
        T0 + 3 * RETENTION,
    ));
    world.compact_all();
    let left = Some(Membership::Left);
    assert_eq!(membership(&world, "c1", "r1"), (left, left));
    world.release_history();
    world.compact_all();
    assert_eq!(membership(&world, "c1", "r1"), (None, None));
}

fn connections(world: &World) -> Vec<String> {
    let mut ids: Vec<String> = world
        .keys()
        .filter_map(|k| match k {
            projections::Key::Connection(id) => Some(id),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_connection_is_forgotten_a_retention_after_its_two_hours_and_its_watchers_with_it() {
    let mut world = World::in_memory(config());
    let notify = r#"{"action":"set_notify_list","devices":["d1"]}"#;
    world.apply(&ws_connect("w1", "c1", T0));
    world.apply(&ws_message("w1", T0, T0 + MIN, notify));
    world.apply(&ws_disconnect("w1", T0, T0 + 2 * MIN));
    world.apply(&ws_connect("w2", "c2", T0 + 2 * HOUR + RETENTION));
    world.compact_all();
    assert_eq!(
        connections(&world),
        ["w1", "w2"],
        "a record of w1 could still come"
    );

    world.apply(&connected(
        "c2",
        "s1",
        Some(1),
        T0 + 2 * HOUR + RETENTION + 1,
    ));
    world.compact_all();
    assert_eq!(connections(&world), ["w2"]);
    let d1 = world.entry(&projections::Key::Device("d1".into()));
    assert!(
        matches!(d1, Some(projections::Entry::Device(d)) if d.watchers.is_empty()),
        "its device watch goes too"
    );
    assert!(world.client("c1").unwrap().connections.is_empty());
}
