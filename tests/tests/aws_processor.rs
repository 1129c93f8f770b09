//! The Lambda batch handler against DynamoDB in the emulator (moto): docs/architecture.md, The
//! batch protocol.

use aws_adapters::cost::{item_size, Cost};
use aws_adapters::dedup::Sent;
use aws_adapters::dynamo::DynamoStore;
use aws_adapters::sink_port::RecordingSink;
use aws_adapters::source::InRecord;
use aws_adapters::store_port::{DedupMark, Loaded, RevisionedStore, StoreError, Write};
use processor::lambda::BatchReport;
use projections::{CommitOutcome, Delivery, Key};
use schemas::EventId;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tests::aws::{
    assert_stored_as_folded, batch, expected, fixture, handler, stored, ws_connect, ws_message,
    Fixture, FlakySink,
};

/// alice and bob on WebSockets, in room 42; alice writes three messages, one record twice.
fn chat() -> Vec<String> {
    let t = 1_732_350_000_000;
    vec![
        ws_connect("alice-conn", "alice", t),
        ws_connect("bob-conn", "bob", t + 10),
        ws_message(
            "alice-conn",
            t,
            t + 20,
            json!({"action":"join","chatId":"42"}),
        ),
        ws_message(
            "bob-conn",
            t + 10,
            t + 30,
            json!({"action":"join","chatId":"42"}),
        ),
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
    ]
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

/// A store that lets another writer commit once, between this batch's load and its write.
struct RacingStore {
    inner: Arc<DynamoStore>,
    racer: Mutex<Option<Vec<InRecord>>>,
}

impl RevisionedStore for RacingStore {
    async fn load_many(&self, keys: &[Key]) -> Result<Vec<Loaded>, StoreError> {
        self.inner.load_many(keys).await
    }
    async fn commit(&self, writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        let racer = self.racer.lock().ok().and_then(|mut r| r.take());
        if let Some(records) = racer {
            let other = handler(self.inner.clone(), RecordingSink::new());
            let report = other.handle(&records).await;
            assert_eq!(report.failed_at, None, "{:?}", report.failure);
        }
        self.inner.commit(writes).await
    }
    async fn publish(&self, messages: &[Write]) -> Result<(), StoreError> {
        self.inner.publish(messages).await
    }
    async fn delivered(&self, events: &[EventId]) -> Result<HashMap<EventId, Sent>, StoreError> {
        self.inner.delivered(events).await
    }
    async fn mark_delivered(&self, marks: &[DedupMark]) -> Result<(), StoreError> {
        self.inner.mark_delivered(marks).await
    }
    fn cost(&self) -> Cost {
        self.inner.cost()
    }
}

/// Handles `ours` on one shard while `theirs`, on another, is handled whole between our loads and
/// our commit: the report (which must have failed nothing) and what we delivered.
async fn raced(f: &Fixture, ours: &[String], theirs: &[String]) -> (BatchReport, Vec<Delivery>) {
    let store = RacingStore {
        inner: f.store.clone(),
        racer: Mutex::new(Some(batch("shardId-000000000001", theirs))),
    };
    let h = handler(store, RecordingSink::new());
    let report = h.handle(&batch("shardId-000000000000", ours)).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    (report, h.sink.sent())
}

#[tokio::test]
async fn a_concurrent_writer_causes_a_refold_and_both_writes_survive() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    // Another shard: bob's IoT session and a room join by carol, touching bob's and room 42's
    // entries too.
    let theirs = vec![
        json!({"eventType":"connected","clientId":"bob","timestamp":t + 5,"sessionIdentifier":"s-bob","versionNumber":1}).to_string(),
        ws_connect("carol-conn", "carol", t + 6),
        ws_message("carol-conn", t + 6, t + 7, json!({"action":"join","chatId":"42"})),
    ];
    let ours = chat();
    let (report, _) = raced(&f, &ours, &theirs).await;
    assert!(
        report.conflicts > 0,
        "the racer should have caused a conflict"
    );
    let all: Vec<String> = ours.iter().chain(&theirs).cloned().collect();
    let want = expected(&all);
    let got = stored(f.store.as_ref(), &want).await.unwrap();
    assert_eq!(got, want.clients());
    let bob = got.iter().find(|c| c.client_id == "bob").unwrap();
    assert!(bob.connected && bob.rooms == ["42"], "{bob:?}");
}

#[tokio::test]
async fn a_join_committed_while_another_shard_routes_a_message_gets_it_after_its_commit() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    // Our shard: carol joins room 42. Another shard, folded whole between our loads and our
    // commit: alice's message to the room, sent after carol joined. Its batch reads the room
    // before carol's membership is stored; ours reads the room's history after its commit, and
    // finds the message there.
    let ours = vec![
        ws_connect("carol-conn", "carol", t),
        ws_message(
            "carol-conn",
            t,
            t + 10,
            json!({"action":"join","chatId":"42"}),
        ),
    ];
    let theirs = vec![
        ws_connect("alice-conn", "alice", t),
        ws_message(
            "alice-conn",
            t,
            t + 20,
            json!({"action":"sendmessage","chatId":"42","message":"hi carol"}),
        ),
    ];
    let (_, sent) = raced(&f, &ours, &theirs).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].payload["message"], "hi carol");
    assert_eq!(sent[0].recipient(), Some("carol"));
    // The delivery has the id the message's own batch would have given it.
    let mut both = ours.clone();
    both.extend(theirs);
    let fresh = fixture(1).await.unwrap();
    let in_order = handler(fresh.store.clone(), RecordingSink::new());
    let report = in_order.handle(&batch("shardId-000000000000", &both)).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    assert_eq!(ids(&in_order.sink.sent()), ids(&sent));
}

#[tokio::test]
async fn a_poison_record_is_quarantined_and_later_records_still_apply() {
    let f = fixture(1).await.unwrap();
    let mut lines = chat();
    lines.insert(
        3,
        r#"{"eventType":"connected","clientId":"x","timestamp":"yesterday"}"#.into(),
    );
    let h = handler(f.store.clone(), RecordingSink::new());
    let report = h.handle(&batch("shardId-000000000000", &lines)).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    assert_eq!(report.quarantined, 1);
    let q = h.quarantine.items();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].sequence_number, "00003");
    assert_eq!(q[0].shard, "shardId-000000000000");
    assert!(q[0].error.contains("timestamp"), "{}", q[0].error);
    assert_stored_as_folded(f.store.as_ref(), &lines).await;
    assert_eq!(h.sink.sent().len(), 3);
}

#[tokio::test]
async fn a_throttled_delivery_is_reported_at_its_record_and_recovers_on_retry() {
    let f = fixture(1).await.unwrap();
    let lines = chat();
    let sink = FlakySink::new(2);
    let h = handler(f.store.clone(), sink);
    let input = batch("shardId-000000000000", &lines);
    let report = h.handle(&input).await;
    // Deliveries go one target at a time, in order: the second is message "two", record 5.
    assert_eq!(report.failed_at, Some(5), "{report:?}");
    assert!(report.failure.unwrap().contains("throttled"));
    // Lambda retries from the reported sequence number.
    let retry = h.handle(&input[5..]).await;
    assert_eq!(retry.failed_at, None, "{:?}", retry.failure);
    let sent = h.sink.inner.sent();
    let messages: Vec<&str> = sent
        .iter()
        .map(|d| d.payload["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["one", "two", "three"]);
    assert_stored_as_folded(f.store.as_ref(), &lines).await;
}

/// Fails every commit with a throttling error until told otherwise.
struct ThrottledStore {
    inner: Arc<DynamoStore>,
    throttled: Mutex<bool>,
}

impl RevisionedStore for ThrottledStore {
    async fn load_many(&self, keys: &[Key]) -> Result<Vec<Loaded>, StoreError> {
        self.inner.load_many(keys).await
    }
    async fn commit(&self, writes: &[Write]) -> Result<CommitOutcome, StoreError> {
        if self.throttled.lock().is_ok_and(|t| *t) {
            return Err(StoreError {
                retryable: true,
                op: "PutItem",
                message: "ProvisionedThroughputExceededException".into(),
            });
        }
        self.inner.commit(writes).await
    }
    async fn publish(&self, messages: &[Write]) -> Result<(), StoreError> {
        self.inner.publish(messages).await
    }
    async fn delivered(&self, events: &[EventId]) -> Result<HashMap<EventId, Sent>, StoreError> {
        self.inner.delivered(events).await
    }
    async fn mark_delivered(&self, marks: &[DedupMark]) -> Result<(), StoreError> {
        self.inner.mark_delivered(marks).await
    }
    fn cost(&self) -> Cost {
        self.inner.cost()
    }
}

#[tokio::test]
async fn a_throttled_store_fails_the_batch_at_its_first_record_and_recovers() {
    let f = fixture(1).await.unwrap();
    let mut lines = vec![r#"{"not":"a record"}"#.to_owned()];
    lines.extend(chat());
    let store = ThrottledStore {
        inner: f.store.clone(),
        throttled: Mutex::new(true),
    };
    let h = handler(store, RecordingSink::new());
    let input = batch("shardId-000000000000", &lines);
    let report = h.handle(&input).await;
    // The poison record 0 is done (quarantined); nothing else is: retry from record 1.
    assert_eq!(report.failed_at, Some(1), "{report:?}");
    assert!(h.sink.sent().is_empty());
    *h.store.throttled.lock().unwrap() = false;
    let retry = h.handle(&input[1..]).await;
    assert_eq!(retry.failed_at, None);
    assert_eq!(h.sink.sent().len(), 3);
    assert_stored_as_folded(f.store.as_ref(), &lines).await;
}
