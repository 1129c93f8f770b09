//! Deliveries by event time against DynamoDB in the emulator (moto): the shard of the members'
//! `join`s is held back until the shards of the messages are drained, as a shard that lags does
//! in production. The joins are earlier than every message, so each member is owed each
//! message: the late joins catch up from the rooms' histories, and every delivery a fold in
//! event-time order makes is made, once by id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_adapters::sink_port::RecordingSink;
use projections::{Config, World};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use tests::aws::{batch, fixture, handler, ws_connect, ws_message};

const T: u64 = 1_732_350_000_000;

/// Shard 0: members `m{i}` connect and join room `r{i % 2}`. Shards 1 and 2: a sender each
/// (`s1`, `s2`) joins both rooms and says a few things to each, after every member joined.
fn shards() -> Vec<(String, Vec<String>)> {
    let members: Vec<String> = (0..12)
        .flat_map(|i| {
            let (conn, at) = (format!("m{i}"), T + i);
            let join = json!({"action":"join","chatId":format!("r{}", i % 2)});
            [
                ws_connect(&conn, &format!("member-{i}"), at),
                ws_message(&conn, at, T + 100 + i, join),
            ]
        })
        .collect();
    let sender = |s: u64| {
        let conn = format!("s{s}");
        let mut lines = vec![ws_connect(&conn, &format!("sender-{s}"), T + s)];
        for room in ["r0", "r1"] {
            lines.push(ws_message(
                &conn,
                T + s,
                T + 10 + s,
                json!({"action":"join","chatId":room}),
            ));
        }
        for n in 0..6u64 {
            let say = json!({"action":"sendmessage","chatId":format!("r{}", n % 2),
                "message":format!("{s}/{n}")});
            lines.push(ws_message(&conn, T + s, T + 1_000 + 10 * n + s, say));
        }
        lines
    };
    vec![
        ("shardId-000000000000".to_owned(), members),
        ("shardId-000000000001".to_owned(), sender(1)),
        ("shardId-000000000002".to_owned(), sender(2)),
    ]
}

/// The delivery ids one fold of every record in event-time order makes.
fn intended(shards: &[(String, Vec<String>)]) -> BTreeSet<String> {
    let mut records: Vec<schemas::Record> = shards
        .iter()
        .flat_map(|(_, lines)| lines)
        .map(|l| schemas::decode_json(l.as_bytes()).unwrap())
        .collect();
    records.sort_by_key(schemas::Record::event_time);
    let mut world = World::in_memory(Config::default());
    records
        .iter()
        .flat_map(|r| world.apply(r))
        .map(|d| d.id)
        .collect()
}

#[tokio::test]
async fn a_shard_held_back_until_the_others_are_drained_still_gets_every_message_once() {
    let f = fixture(3).await.unwrap();
    let h = handler(f.store.clone(), RecordingSink::new());
    let shards = shards();
    // The senders' shards first, in batches of three records; the members' shard last.
    for (shard, lines) in shards.iter().skip(1).chain(shards.iter().take(1)) {
        for chunk in lines.chunks(3) {
            let report = h.handle(&batch(shard, chunk)).await;
            assert_eq!(report.failed_at, None, "{:?}", report.failure);
        }
    }
    let mut made: BTreeMap<String, usize> = BTreeMap::new();
    for d in h.sink.sent().iter() {
        *made.entry(d.id.clone()).or_default() += 1;
    }
    let want = intended(&shards);
    // Twelve members owed six messages each (three per room, from each sender) and each
    // sender owed the other's six.
    let chat = h
        .sink
        .sent()
        .iter()
        .filter(|d| d.payload["type"] == "message")
        .count();
    assert_eq!(chat, 12 * 6 + 2 * 6);
    let missing: Vec<&String> = want.iter().filter(|id| !made.contains_key(*id)).collect();
    assert!(missing.is_empty(), "{} intended not made", missing.len());
    let twice: Vec<_> = made.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "made more than once: {twice:?}");
    assert_eq!(made.len(), want.len(), "and nothing else");
}

#[tokio::test]
async fn a_member_recovers_a_rooms_messages_with_history_read_from_the_table() {
    let f = fixture(1).await.unwrap();
    let shards = shards();
    let h = handler(f.store.clone(), RecordingSink::new());
    for (shard, lines) in &shards {
        let report = h.handle(&batch(shard, lines)).await;
        assert_eq!(report.failed_at, None, "{:?}", report.failure);
    }
    // A fresh invocation: the history comes from the table, not from a world in memory.
    let asks = [ws_message(
        "m0",
        T,
        T + 5_000,
        json!({"action":"history","chatId":"r0","since":T + 1_010,"limit":2}),
    )];
    let h = handler(f.store.clone(), RecordingSink::new());
    let report = h.handle(&batch("shardId-000000000000", &asks)).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    let sent = h.sink.sent();
    let reply = &sent.first().unwrap().payload;
    assert_eq!(reply["type"], "history", "{reply}");
    let texts: Vec<&str> = reply["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    // Room r0's messages after T + 1,010 ms: n = 2 at +1,021 and +1,022, then n = 4.
    assert_eq!(texts, ["1/2", "2/2"]);
    assert_eq!(reply["more"], true);
    assert_eq!(reply["messages"][0]["from"], "sender-1");
}
