//! A poison record, a throttled delivery and a throttled store: what fails is reported at its
//! record, what follows still applies, and a retry recovers.

use crate::chat;
use crate::hooked::{BeforeCommit, HookedStore};
use aws_adapters::sink_port::RecordingSink;
use std::sync::Mutex;
use tests::aws::{assert_stored_as_folded, batch, fixture, handler, FlakySink};

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

#[tokio::test]
async fn a_throttled_store_fails_the_batch_at_its_first_record_and_recovers() {
    let f = fixture(1).await.unwrap();
    let mut lines = vec![r#"{"not":"a record"}"#.to_owned()];
    lines.extend(chat());
    let store = HookedStore {
        inner: f.store.clone(),
        before_commit: BeforeCommit::Throttled(Mutex::new(true)),
    };
    let h = handler(store, RecordingSink::new());
    let input = batch("shardId-000000000000", &lines);
    let report = h.handle(&input).await;
    // The poison record 0 is done (quarantined); nothing else is: retry from record 1.
    assert_eq!(report.failed_at, Some(1), "{report:?}");
    assert!(h.sink.sent().is_empty());
    if let BeforeCommit::Throttled(throttled) = &h.store.before_commit {
        *throttled.lock().unwrap() = false;
    }
    let retry = h.handle(&input[1..]).await;
    assert_eq!(retry.failed_at, None);
    assert_eq!(h.sink.sent().len(), 3);
    assert_stored_as_folded(f.store.as_ref(), &lines).await;
}
