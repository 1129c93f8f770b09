//! Chat recipients by event time: a message sent at `t` goes to the clients that were members of
//! its room at `t` (their latest `join` or `leave` at or before `t` is a join), the sender
//! excluded, whatever order the shards' records are folded in. Each client's records are one
//! shard (the partition key is the connection id), in event-time order; the shards interleave
//! arbitrarily, as Lambda's per-shard batches do.
//!
//! A membership folded after a message it precedes catches up from the room's message history;
//! one folded before a message it follows in event time never makes a client a recipient, nor
//! keeps one from being one. The only deliveries beyond the rule's are to clients whose leave,
//! before the message in event time, was folded after it: made, not undone, and counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, World};
use proptest::prelude::*;
use schemas::Record;
use std::collections::BTreeSet;
use support::shared::{cut, run_interleaved, Driver, SharedStore};
use support::*;

const T0: u64 = 1_700_000_000_000;
const CLIENTS: usize = 4;

/// What a client does, in its own shard: a membership change or a message, at an offset in
/// seconds from its connection.
#[derive(Debug, Clone)]
enum Act {
    Join(u64),
    Leave(u64),
    Say(u64),
}

fn acts() -> impl Strategy<Value = Vec<Vec<Act>>> {
    let act = prop_oneof![
        (1u64..600).prop_map(Act::Join),
        (1u64..600).prop_map(Act::Leave),
        (1u64..600).prop_map(Act::Say),
    ];
    prop::collection::vec(prop::collection::vec(act, 0..6), CLIENTS)
}

/// Each client's shard: its `$connect`, then its acts in event-time order.
fn shards(acts: &[Vec<Act>]) -> Vec<Vec<Record>> {
    acts.iter()
        .enumerate()
        .map(|(i, acts)| {
            let (conn, client) = (format!("w{i}"), format!("c{i}"));
            let at = T0 + i as u64;
            let mut timed: Vec<(u64, String)> = acts
                .iter()
                .map(|a| match a {
                    Act::Join(s) => (*s, body("join", "")),
                    Act::Leave(s) => (*s, body("leave", "")),
                    Act::Say(s) => (*s, body("sendmessage", &format!("{i}-{s}"))),
                })
                .collect();
            timed.sort();
            timed.dedup_by_key(|(s, _)| *s);
            let mut shard = vec![ws_connect(&conn, &client, at)];
            shard.extend(
                timed
                    .into_iter()
                    .map(|(s, body)| ws_message(&conn, at, at + s * 1000, &body)),
            );
            shard
        })
        .collect()
}

/// The shards merged in the order `picks` choose (each pick takes the next record of a shard
/// that still has one), keeping each shard's own order.
fn interleave(shards: &[Vec<Record>], picks: &[usize]) -> Vec<Record> {
    let mut next = vec![0; shards.len()];
    let mut out = Vec::new();
    let mut picks = picks.iter().copied().chain(0..).map(|p| p % shards.len());
    while out.len() < shards.iter().map(Vec::len).sum() {
        let s = picks.next().unwrap();
        let s = (s..s + shards.len())
            .map(|k| k % shards.len())
            .find(|k| next[*k] < shards[*k].len())
            .unwrap();
        out.push(shards[s][next[s]].clone());
        next[s] += 1;
    }
    out
}

/// The (message, recipient) pairs of chat deliveries folding `records` in order makes, and the
/// world's count of late leaves.
fn delivered(records: &[Record]) -> (BTreeSet<(String, String)>, u64) {
    let mut world = World::in_memory(Config::default());
    let mut out = BTreeSet::new();
    for record in records {
        for d in world.apply(record) {
            if d.payload["type"] == "message" {
                let text = d.payload["message"].as_str().unwrap().to_owned();
                out.insert((text, d.recipient().unwrap().to_owned()));
            }
        }
    }
    (out, world.late_leaves())
}

/// A message or a membership write of `records`, with its position.
struct Seen {
    at: usize,
    client: usize,
    t: u64,
    what: Option<bool>,
    text: String,
}

fn seen(records: &[Record]) -> Vec<Seen> {
    let mut out = Vec::new();
    for (at, record) in records.iter().enumerate() {
        let Record::WebSocket(ws) = record else {
            continue;
        };
        let client: usize = ws.connection_id[1..].parse().unwrap();
        let body: serde_json::Value =
            serde_json::from_str(ws.body.as_deref().unwrap_or("{}")).unwrap();
        let (what, text) = match body["action"].as_str() {
            Some("join") => (Some(true), String::new()),
            Some("leave") => (Some(false), String::new()),
            Some("sendmessage") => (None, body["message"].as_str().unwrap().to_owned()),
            _ => continue,
        };
        let t = ws.request_time_epoch;
        out.push(Seen {
            at,
            client,
            t,
            what,
            text,
        });
    }
    out
}

/// The rule's recipients: each message's room members when it was sent, by every membership
/// write of the stream (the latest at or before the message; at equal times leaving wins), the
/// sender excluded. The same for every order the stream is folded in.
fn intended(records: &[Record]) -> BTreeSet<(String, String)> {
    let seen = seen(records);
    let mut out = BTreeSet::new();
    for m in seen.iter().filter(|m| m.what.is_none()) {
        for c in (0..CLIENTS).filter(|c| *c != m.client) {
            let member = seen
                .iter()
                .filter(|w| w.client == c && w.t <= m.t)
                .filter_map(|w| w.what.map(|joined| (w.t, joined)))
                .max_by_key(|(t, joined)| (*t, !*joined))
                .is_some_and(|(_, joined)| joined);
            if member {
                out.insert((m.text.clone(), format!("c{c}")));
            }
        }
    }
    out
}

/// What a delivery may have reached besides the rule's recipients: a client that left before
/// a message was sent, by a leave folded after the message.
fn late_leaves(records: &[Record]) -> BTreeSet<(String, String)> {
    leaves_before(records, |leave, message| leave.at > message.at)
}

/// The (message, client) pairs of each message and every other client with a leave at or before
/// it that `counts`.
fn leaves_before(
    records: &[Record],
    counts: impl Fn(&Seen, &Seen) -> bool,
) -> BTreeSet<(String, String)> {
    let seen = seen(records);
    let mut out = BTreeSet::new();
    for m in seen.iter().filter(|m| m.what.is_none()) {
        for w in &seen {
            if w.what == Some(false) && w.t <= m.t && w.client != m.client && counts(w, m) {
                out.insert((m.text.clone(), format!("c{}", w.client)));
            }
        }
    }
    out
}

/// The rule holds for `records`: every recipient it names got the message, and any other that
/// did left before it by a leave folded after it, and is counted.
fn holds(records: &[Record]) -> Result<(), TestCaseError> {
    let (got, counted) = delivered(records);
    explained(&got, counted, &intended(records), &late_leaves(records))
}

/// Every intended pair was delivered (`got`), any other is `allowed`, and `counted` late leaves
/// cover the others.
fn explained(
    got: &BTreeSet<(String, String)>,
    counted: u64,
    want: &BTreeSet<(String, String)>,
    allowed: &BTreeSet<(String, String)>,
) -> Result<(), TestCaseError> {
    let missing: Vec<_> = want.difference(got).collect();
    prop_assert!(missing.is_empty(), "not delivered: {missing:?}");
    let extra: BTreeSet<_> = got.difference(want).cloned().collect();
    let unexplained: Vec<_> = extra.difference(allowed).collect();
    prop_assert!(
        unexplained.is_empty(),
        "delivered to non-members: {unexplained:?}"
    );
    prop_assert!(
        counted >= extra.len() as u64,
        "{counted} late leaves counted, {extra:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn chat_recipients_are_the_members_when_the_message_was_sent_in_any_interleaving(
        acts in acts(),
        picks in prop::collection::vec(0usize..CLIENTS, 0..40),
    ) {
        let shards = shards(&acts);
        holds(&interleave(&shards, &picks))?;
    }

    #[test]
    fn with_shards_read_in_event_time_order_exactly_the_members_get_the_message(
        acts in acts(),
    ) {
        let mut records: Vec<Record> = shards(&acts).into_iter().flatten().collect();
        records.sort_by_key(Record::event_time);
        let (got, counted) = delivered(&records);
        prop_assert_eq!(got, intended(&records));
        prop_assert_eq!(counted, 0);
    }
}

/// Each shard cut into batches (`sizes`, in turn) and run by a driver of its own over one
/// shared store, the drivers' loads, publishes and commits interleaved as `schedule` says
/// (Lambda runs every shard's invocation at once): the (message, recipient) pairs of chat
/// deliveries, and the late leaves counted.
fn delivered_concurrently(
    shards: &[Vec<Record>],
    sizes: &[usize],
    schedule: &[usize],
) -> (BTreeSet<(String, String)>, u64) {
    let mut drivers: Vec<Driver> = shards
        .iter()
        .map(|shard| Driver::new(cut(shard, sizes)))
        .collect();
    let mut store = SharedStore::default();
    run_interleaved(&mut drivers, &mut store, schedule);
    let mut out = BTreeSet::new();
    for d in drivers.iter().flat_map(|d| &d.delivered) {
        if d.payload["type"] == "message" {
            let text = d.payload["message"].as_str().unwrap().to_owned();
            out.insert((text, d.recipient().unwrap().to_owned()));
        }
    }
    (out, drivers.iter().map(|d| d.late_leaves).sum())
}

/// The clients that may get a message beyond the rule's when shards are folded at once: those
/// with a leave at or before it, which a batch folding the message may not see yet.
fn left_before(records: &[Record]) -> BTreeSet<(String, String)> {
    leaves_before(records, |_, _| true)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn chat_recipients_are_the_members_when_shards_are_folded_at_once(
        acts in acts(),
        sizes in prop::collection::vec(1usize..4, 1..4),
        schedule in prop::collection::vec(0usize..CLIENTS, 0..200),
    ) {
        let shards = shards(&acts);
        let every: Vec<Record> = shards.iter().flatten().cloned().collect();
        let (got, counted) = delivered_concurrently(&shards, &sizes, &schedule);
        explained(&got, counted, &intended(&every), &left_before(&every))?;
    }
}

/// A record of client `c{i}` on its connection `w{i}` (connected at `T0`), `s` seconds in: a
/// `join` or `leave` of room `r`, or a message to it saying `say`.
fn act(i: usize, s: u64, action: &str, say: &str) -> Record {
    ws_message(&format!("w{i}"), T0, T0 + s * 1000, &body(action, say))
}

/// The body of a `join` or `leave` of room `r`, or of a message to it saying `say`.
fn body(action: &str, say: &str) -> String {
    match action {
        "sendmessage" => format!(r#"{{"action":"sendmessage","chatId":"r","message":"{say}"}}"#),
        other => format!(r#"{{"action":"{other}","chatId":"r"}}"#),
    }
}

/// Two clients connected at `T0`, then `records`, folded in that order.
fn delivered_after_connects(records: &[Record]) -> (BTreeSet<(String, String)>, u64) {
    let mut all = vec![ws_connect("w0", "c0", T0), ws_connect("w1", "c1", T0)];
    all.extend_from_slice(records);
    delivered(&all)
}

fn pairs(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(m, c)| ((*m).to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn a_join_folded_before_an_earlier_message_does_not_receive_it() {
    // c1 joins at +20 s; c0's message at +10 s is folded after it.
    let got = delivered_after_connects(&[
        act(1, 20, "join", ""),
        act(0, 5, "join", ""),
        act(0, 10, "sendmessage", "early"),
        act(0, 30, "sendmessage", "late"),
    ]);
    assert_eq!(got, (pairs(&[("late", "c1")]), 0));
}

#[test]
fn a_leave_folded_before_an_earlier_message_does_not_keep_the_member_from_it() {
    // c1 leaves at +20 s, folded before c0's message at +10 s.
    let got = delivered_after_connects(&[
        act(1, 1, "join", ""),
        act(1, 20, "leave", ""),
        act(0, 10, "sendmessage", "before the leave"),
    ]);
    assert_eq!(got, (pairs(&[("before the leave", "c1")]), 0));
}

#[test]
fn a_join_folded_after_a_later_message_catches_up_from_the_history() {
    // c1 joins at +1 s, but its shard is behind: c0's messages at +10 s and +20 s are folded
    // first, and a leave at +15 s follows the join on c1's shard.
    let got = delivered_after_connects(&[
        act(0, 10, "sendmessage", "at 10"),
        act(0, 20, "sendmessage", "at 20"),
        act(1, 1, "join", ""),
        act(1, 15, "leave", ""),
    ]);
    // The join catches up on both; the leave, folded after the message at +20 s it precedes,
    // cannot take that one back: it is counted.
    assert_eq!(got, (pairs(&[("at 10", "c1"), ("at 20", "c1")]), 1));
}

#[test]
fn a_member_catching_up_gets_the_same_delivery_as_a_live_member() {
    let message = act(0, 10, "sendmessage", "hi");
    let join = act(1, 1, "join", "");
    let fold = |records: Vec<Record>| {
        let mut world = World::in_memory(Config::default());
        let mut out = Vec::new();
        for r in [ws_connect("w0", "c0", T0), ws_connect("w1", "c1", T0)]
            .into_iter()
            .chain(records)
        {
            out.extend(world.apply(&r));
        }
        out
    };
    let live = fold(vec![join.clone(), message.clone()]);
    let caught_up = fold(vec![message, join]);
    assert_eq!(live.len(), 1);
    assert_eq!(live, caught_up, "same id, channel and payload");
}

#[test]
fn a_history_that_no_longer_holds_a_message_catches_up_on_nothing() {
    let config = Config {
        history_max: 0,
        ..Config::default()
    };
    let mut world = World::in_memory(config);
    let mut got = Vec::new();
    for r in [
        ws_connect("w0", "c0", T0),
        ws_connect("w1", "c1", T0),
        act(0, 10, "sendmessage", "hi"),
        act(1, 1, "join", ""),
    ] {
        got.extend(world.apply(&r));
    }
    assert!(got.is_empty(), "{got:?}");
}
