//! A fleet against DynamoDB in the emulator (moto), through the Lambda's batch handler on four
//! shards: thousands of live connections, a room of 1,000 members, a broadcast and telemetry to
//! 500 watchers. Every delivery is made, no item passes 16 KB, the largest item does not grow
//! when the fleet doubles, and no batch writes a watermark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_adapters::cost::item_size;
use aws_adapters::sink_port::RecordingSink;
use projections::Channel;
use serde_json::json;
use std::collections::BTreeMap;
use tests::aws::{batch, fixture, handler, ws_connect, ws_message, Fixture};

const T: u64 = 1_732_350_000_000;
const SHARDS: u64 = 4;
const ROOM: usize = 1_000;
const WATCHERS: usize = 500;

/// Connects `n` connections, 1,000 of them joining one room and 500 watching one device, each
/// connection's records on the shard its id hashes to, batches of up to 1,000 taken from the
/// shards in turn; then a message to the room, a broadcast and a reading of the device. Returns
/// the WebSocket deliveries of each of the three, and the largest item of the table.
async fn fleet(f: &Fixture, n: usize) -> ([usize; 3], u64) {
    let mut shards: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for i in 0..n {
        let conn = format!("c{i}");
        let at = T + i as u64;
        let shard = shards.entry(i as u64 % SHARDS).or_default();
        shard.push(ws_connect(&conn, &format!("u{i}"), at));
        if i < ROOM {
            shard.push(ws_message(
                &conn,
                at,
                at + 100_000,
                json!({"action":"join","chatId":"big"}),
            ));
        }
        if i < WATCHERS {
            let watch = json!({"action":"set_notify_list","devices":["d1"]});
            shard.push(ws_message(&conn, at, at + 200_000, watch));
        }
    }
    let h = handler(f.store.clone(), RecordingSink::new());
    let mut queues: Vec<(String, std::vec::IntoIter<String>)> = shards
        .into_iter()
        .map(|(s, lines)| (format!("shardId-{s:012}"), lines.into_iter()))
        .collect();
    loop {
        let mut any = false;
        for (shard, lines) in &mut queues {
            let next: Vec<String> = lines.by_ref().take(1_000).collect();
            if next.is_empty() {
                continue;
            }
            any = true;
            let report = h.handle(&batch(shard, &next)).await;
            assert_eq!(report.failed_at, None, "{:?}", report.failure);
        }
        if !any {
            break;
        }
    }
    let later = T + 1_000_000;
    let last = [
        ws_message(
            "c0",
            T,
            later,
            json!({"action":"sendmessage","chatId":"big","message":"m"}),
        ),
        ws_message(
            "c1",
            T + 1,
            later + 1,
            json!({"action":"sendmessage","message":"b"}),
        ),
        json!({"deviceId":"d1","timestamp":later + 2,"parameters":{"temp":21}}).to_string(),
    ];
    let before = h.sink.sent().len();
    for line in &last {
        let report = h
            .handle(&batch("shardId-000000000000", std::slice::from_ref(line)))
            .await;
        assert_eq!(report.failed_at, None, "{:?}", report.failure);
    }
    let sent = h.sink.sent();
    let sockets = |kind: &str| {
        sent[before..]
            .iter()
            .filter(|d| matches!(d.channel, Channel::WebSocket { .. }))
            .filter(|d| d.payload["type"] == kind)
            .count()
    };
    let chat = sent[before..]
        .iter()
        .filter(|d| matches!(d.channel, Channel::WebSocket { .. }))
        .filter(|d| d.payload["chatId"] == "big")
        .count();
    let broadcast = sockets("message") - chat;
    let counts = [chat, broadcast, sockets("telemetry")];

    let mut largest = 0;
    let mut pages = f.dynamo.scan().table_name(&f.table).into_paginator().send();
    while let Some(page) = pages.next().await {
        for item in page.unwrap().items.unwrap_or_default() {
            largest = largest.max(item_size(&item));
            // No item is written by every batch: the fold's now comes from the entries.
            let pk = item.get("pk").and_then(|pk| pk.as_s().ok());
            assert_ne!(pk.map(String::as_str), Some("watermark"));
        }
    }
    (counts, largest)
}

#[tokio::test]
async fn a_fleet_gets_every_delivery_and_no_item_grows_with_it() {
    let n = 3_000;
    let (counts, largest) = fleet(&fixture(SHARDS as i32).await.unwrap(), n).await;
    assert_eq!(
        counts,
        [ROOM - 1, n - 1, WATCHERS],
        "chat, broadcast, telemetry"
    );
    assert!(largest <= 16 * 1024, "an item of {largest} bytes");

    let (counts, doubled) = fleet(&fixture(SHARDS as i32).await.unwrap(), 2 * n).await;
    assert_eq!(counts, [ROOM - 1, 2 * n - 1, WATCHERS]);
    // Ids one digit longer may add a few bytes; nothing grows with the fleet.
    assert!(
        doubled <= largest + 64,
        "{largest} bytes at {n}, {doubled} at {}",
        2 * n
    );
    println!(
        "largest item: {largest} bytes at {n} connections, {doubled} at {}",
        2 * n
    );
}
