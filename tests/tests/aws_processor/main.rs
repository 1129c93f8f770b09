//! The Lambda batch handler against DynamoDB in the emulator (moto): docs/architecture.md, The
//! batch protocol.
//!
//! Here: batches over many clients, one writer per connection, duplicates and retries; `racing`:
//! another writer between a batch's loads and its commit; `failures`: poison records and
//! throttling; `hooked`: the store both use; `grace`: announcements the presence grace puts off.

mod failures;
mod grace;
mod hooked;
mod racing;

use aws_adapters::cost::item_size;
use aws_adapters::sink_port::RecordingSink;
use projections::{Delivery, Key};
use serde_json::json;
use std::collections::HashSet;
use std::time::Instant;
use tests::aws::{
    assert_stored_as_folded, batch, expected, fixture, handler, stored, ws_connect, ws_message,
};

/// alice and bob on WebSockets, in room 42; alice writes three messages, one record twice.
fn chat() -> Vec<String> {
    let t = 1_732_350_000_000;
    let mut lines = tests::aws::both_in_room_42(t);
    lines.extend([
        ws_message(
            "alice-conn",
            t,
            t + 40,
            json!({"action":"sendmessage","chatId":"42","message":"one"}),
        ),
        ws_message(
            "alice-conn",
            t,
            t + 50,
            json!({"action":"sendmessage","chatId":"42","message":"two"}),
        ),
        ws_message(
            "alice-conn",
            t,
            t + 50,
            json!({"action":"sendmessage","chatId":"42","message":"two"}),
        ),
        ws_message(
            "alice-conn",
            t,
            t + 60,
            json!({"action":"sendmessage","chatId":"42","message":"three"}),
        ),
    ]);
    lines
}

fn ids(sent: &[Delivery]) -> Vec<String> {
    sent.iter().map(|d| d.id.clone()).collect()
}

#[tokio::test]
async fn one_batch_across_many_clients_matches_the_fold_in_few_requests() {
    let f = fixture(1).await.unwrap();
    let lines = tests::workload::iot_lifecycle_lines(1000, 100, 7);
    let h = handler(f.store.clone(), RecordingSink::new());
    let input = batch("shardId-000000000000", &lines);
    let started = Instant::now();
    let report = h.handle(&input).await;
    let wall = started.elapsed();
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    let requests = f.store.requests();
    let want = expected(&lines);
    let got = stored(f.store.as_ref(), &want).await.unwrap();
    assert_eq!(got, want.clients());
    assert!(got.len() > 90, "{} clients", got.len());
    let per_event = requests as f64 / lines.len() as f64;
    println!(
        "1000 records / 100 clients: {requests} DynamoDB requests ({per_event:.3} per event), \
         {} keys loaded, {} entries written, batch wall time {:.0} ms against moto",
        report.keys_loaded,
        report.entries_written,
        wall.as_secs_f64() * 1e3
    );
    assert!(per_event <= 0.3, "{per_event} requests per event");

    // The batch's own count of what it cost: every request, and every item it wrote once (no
    // other writer, so no conflict) at the units and bytes of the item now in the table.
    let cost = report.cost;
    assert_eq!(cost.requests, requests);
    assert_eq!(report.conflicts, 0);
    let items = f
        .dynamo
        .scan()
        .table_name(&f.table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), report.entries_written);
    let sizes: Vec<u64> = items.iter().map(item_size).collect();
    assert_eq!(cost.bytes_written, sizes.iter().sum::<u64>());
    assert_eq!(
        cost.write_units,
        sizes.iter().map(|s| s.div_ceil(1024)).sum::<u64>()
    );
    // Every key loaded is a read of at least one unit (a missing item costs one too), but a
    // room's history asked for by a chat subscription: the histories of one room share the read
    // of its head, and none of these rooms has a message to read.
    let chat_memberships = lines
        .iter()
        .filter(|l| l.contains("\"subscribed\"") || l.contains("\"unsubscribed\""))
        .filter(|l| l.contains("/chat/"))
        .count();
    let items_loaded = report.keys_loaded.saturating_sub(chat_memberships) as u64;
    assert!(cost.read_units >= items_loaded, "{cost:?}");
    println!(
        "cost: {} read units, {} write units, {} bytes written ({:.3} write units per event); \
         the emulator reported {:.1} units",
        cost.read_units,
        cost.write_units,
        cost.bytes_written,
        cost.write_units as f64 / lines.len() as f64,
        cost.reported_units()
    );
}

#[tokio::test]
async fn connections_have_one_writer_and_go_many_to_a_request() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    let connects: Vec<String> = (0..200)
        .map(|i| ws_connect(&format!("conn-{i}"), &format!("user-{i}"), t + i))
        .collect();
    let h = handler(f.store.clone(), RecordingSink::new());
    let first = h.handle(&batch("shardId-000000000000", &connects)).await;
    assert_eq!(first.failed_at, None, "{:?}", first.failure);
    // 200 connections, 200 clients and the lobby's 200 items written (no watermark): one PutItem
    // per shared entry, but the connections and the lobby's items 25 to a BatchWriteItem call.
    assert_eq!(first.entries_written, 600);
    assert!(
        first.cost.requests < 250,
        "{} requests for {} entries",
        first.cost.requests,
        first.entries_written
    );
    // Written at the revision after the one read, as a conditional write would be.
    let conn = Key::Connection("conn-7".into());
    let rev = |key: Key| {
        let f = f.clone();
        async move {
            aws_adapters::dynamo::revision(&f.dynamo, &f.table, &key)
                .await
                .unwrap()
        }
    };
    assert_eq!(rev(conn.clone()).await, Some(1));
    let joins: Vec<String> = (0..200)
        .map(|i| {
            ws_message(
                &format!("conn-{i}"),
                t + i,
                t + 1_000,
                json!({"action":"join","chatId":"7"}),
            )
        })
        .collect();
    let second = h.handle(&batch("shardId-000000000000", &joins)).await;
    assert_eq!(second.failed_at, None, "{:?}", second.failure);
    assert_eq!(rev(conn).await, Some(2));
    let all: Vec<String> = connects.iter().chain(&joins).cloned().collect();
    assert_stored_as_folded(f.store.as_ref(), &all).await;
}

#[tokio::test]
async fn duplicates_and_a_retry_from_the_middle_change_nothing_and_send_nothing_twice() {
    let f = fixture(1).await.unwrap();
    let lines = chat();
    let h = handler(f.store.clone(), RecordingSink::new());
    let input = batch("shardId-000000000000", &lines);
    let first = h.handle(&input).await;
    assert_eq!(first.failed_at, None, "{:?}", first.failure);
    let want = expected(&lines);
    let after_first = stored(f.store.as_ref(), &want).await.unwrap();
    assert_eq!(after_first, want.clients());
    let sent = h.sink.sent();
    // Three distinct messages to bob; the duplicate record sends nothing.
    assert_eq!(sent.len(), 3, "{sent:#?}");
    assert_eq!(first.duplicates, 1);

    // Lambda retries from the middle (and then the whole batch): nothing changes, nothing is
    // sent again.
    let again = h.handle(&input[4..]).await;
    assert_eq!(again.failed_at, None);
    let whole = h.handle(&input).await;
    assert_eq!(whole.failed_at, None);
    assert_eq!(stored(f.store.as_ref(), &want).await.unwrap(), after_first);
    let all = ids(&h.sink.sent());
    assert_eq!(all.len(), 3, "sent twice: {all:?}");
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 3);
}
