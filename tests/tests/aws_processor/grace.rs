//! The presence grace through the DynamoDB store: an `offline` put off by one batch is in its
//! shard's pending list, and the shard's tick after the grace tells the room; a reconnect within
//! it tells nothing.

use aws_adapters::sink_port::RecordingSink;
use projections::Delivery;
use serde_json::json;
use tests::aws::{batch, fixture, handler, ws_connect, ws_disconnect, ws_message, Fixture};

const SHARD: &str = "shardId-000000000000";
const GRACE: u64 = 10_000;

/// alice and bob join presence room 7 at `t`; bob's socket closes 30 ms in.
fn bob_leaves_the_socket(t: u64) -> Vec<String> {
    let join = json!({"action":"join","chatId":"presence-7"});
    vec![
        ws_connect("alice-conn", "alice", t),
        ws_connect("bob-conn", "bob", t + 10),
        ws_message("alice-conn", t, t + 20, join.clone()),
        ws_message("bob-conn", t + 10, t + 25, join),
        ws_disconnect("bob-conn", t + 10, t + 30),
    ]
}

fn tick(t: u64) -> String {
    json!({"kind":"tick","schemaVersion":1,"shardId":SHARD,"timestamp":t}).to_string()
}

/// Handles `lines` as one batch of [`SHARD`] with a grace: bob's online and offline events.
async fn bob_heard(f: &Fixture, lines: &[String]) -> Vec<(String, String)> {
    let mut h = handler(f.store.clone(), RecordingSink::new());
    h.settings.fold.presence_grace_ms = GRACE;
    let report = h.handle(&batch(SHARD, lines)).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    let about_bob = |d: &Delivery| d.payload["clientId"] == "bob";
    h.sink
        .sent()
        .iter()
        .filter(|d| {
            about_bob(d) && matches!(d.payload["event"].as_str(), Some("online" | "offline"))
        })
        .map(|d| {
            (
                d.channel.target().to_owned(),
                d.payload["event"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_offline_put_off_by_one_batch_is_told_by_the_shards_tick_after_the_grace() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    assert_eq!(bob_heard(&f, &bob_leaves_the_socket(t)).await, []);
    // A tick within the grace: still nothing.
    assert_eq!(bob_heard(&f, &[tick(t + 30 + GRACE - 1)]).await, []);
    // The tick past it: alice hears bob go offline, once.
    assert_eq!(
        bob_heard(&f, &[tick(t + 30 + GRACE)]).await,
        [("alice-conn".to_owned(), "offline".to_owned())]
    );
    assert_eq!(bob_heard(&f, &[tick(t + 30 + 2 * GRACE)]).await, []);
}

#[tokio::test]
async fn a_reconnect_within_the_grace_tells_nothing() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    assert_eq!(bob_heard(&f, &bob_leaves_the_socket(t)).await, []);
    let back = [ws_connect("bob-2", "bob", t + 30 + GRACE / 2)];
    assert_eq!(bob_heard(&f, &back).await, []);
    assert_eq!(bob_heard(&f, &[tick(t + 30 + 2 * GRACE)]).await, []);
}
