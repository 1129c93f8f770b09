//! Chat recipients by event time: a message sent at `t` goes to the clients that were members of
//! its room at `t` (their latest `join` or `leave` at or before `t` is a join), the sender
//! excluded, whatever order the shards' records are folded in. Each client's records are one
//! shard (the partition key is the connection id), in event-time order; the shards interleave
//! arbitrarily, as Lambda's per-shard batches do.
//!
//! A membership folded after the message it precedes cannot have reached that message's
//! recipients (catching up from a room's message history is what does): the recipients are the
//! members at `t` by the memberships folded before the message. One that is folded before it but
//! follows it in event time never makes a client a recipient, nor keeps one from being one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, World};
use proptest::prelude::*;
use schemas::Record;
use std::collections::BTreeSet;
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

/// The (message, recipient) pairs of chat deliveries folding `records` in order makes.
fn delivered(records: &[Record]) -> BTreeSet<(String, String)> {
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
    out
}

/// The recipients the rule gives, from the memberships folded before each message.
fn expected(records: &[Record]) -> BTreeSet<(String, String)> {
    // Each client's membership writes folded so far: (time, joined).
    let mut writes: Vec<Vec<(u64, bool)>> = vec![Vec::new(); CLIENTS];
    let mut out = BTreeSet::new();
    for record in records {
        let Record::WebSocket(ws) = record else {
            continue;
        };
        let sender: usize = ws.connection_id[1..].parse().unwrap();
        let body: serde_json::Value =
            serde_json::from_str(ws.body.as_deref().unwrap_or("{}")).unwrap();
        let t = ws.request_time_epoch;
        match body["action"].as_str() {
            Some("join") => writes[sender].push((t, true)),
            Some("leave") => writes[sender].push((t, false)),
            Some("sendmessage") => {
                let text = body["message"].as_str().unwrap();
                for (c, ws) in writes.iter().enumerate().filter(|(c, _)| *c != sender) {
                    // The latest write at or before `t`; at equal times leaving wins.
                    let member = ws
                        .iter()
                        .filter(|(at, _)| *at <= t)
                        .max_by_key(|(at, joined)| (*at, !*joined))
                        .is_some_and(|(_, joined)| *joined);
                    if member {
                        out.insert((text.to_owned(), format!("c{c}")));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn chat_recipients_are_the_members_when_the_message_was_sent(
        acts in acts(),
        picks in prop::collection::vec(0usize..CLIENTS, 0..40),
    ) {
        let shards = shards(&acts);
        let records = interleave(&shards, &picks);
        prop_assert_eq!(delivered(&records), expected(&records));
    }

    #[test]
    fn with_shards_read_in_event_time_order_every_member_at_the_time_gets_the_message(
        acts in acts(),
    ) {
        let mut records: Vec<Record> = shards(&acts).into_iter().flatten().collect();
        records.sort_by_key(Record::event_time);
        prop_assert_eq!(delivered(&records), expected(&records));
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
fn delivered_after_connects(records: &[Record]) -> BTreeSet<(String, String)> {
    let mut all = vec![ws_connect("w0", "c0", T0), ws_connect("w1", "c1", T0)];
    all.extend_from_slice(records);
    delivered(&all)
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
    assert_eq!(got, [("late".to_owned(), "c1".to_owned())].into());
}

#[test]
fn a_leave_folded_before_an_earlier_message_does_not_keep_the_member_from_it() {
    // c1 leaves at +20 s, folded before c0's message at +10 s.
    let got = delivered_after_connects(&[
        act(1, 1, "join", ""),
        act(1, 20, "leave", ""),
        act(0, 10, "sendmessage", "before the leave"),
    ]);
    assert_eq!(
        got,
        [("before the leave".to_owned(), "c1".to_owned())].into()
    );
}
