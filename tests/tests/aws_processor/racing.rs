//! Another shard's batch committed between this batch's loads and its commit.

use crate::hooked::{BeforeCommit, HookedStore};
use crate::{chat, ids};
use aws_adapters::sink_port::RecordingSink;
use processor::lambda::BatchReport;
use projections::Delivery;
use serde_json::json;
use std::sync::Mutex;
use tests::aws::{batch, expected, fixture, handler, stored, ws_connect, ws_message, Fixture};

/// Handles `ours` on one shard while `theirs`, on another, is handled whole between our loads and
/// our commit: the report (which must have failed nothing) and what we delivered.
async fn raced(f: &Fixture, ours: &[String], theirs: &[String]) -> (BatchReport, Vec<Delivery>) {
    let store = HookedStore {
        inner: f.store.clone(),
        before_commit: BeforeCommit::Racer(Mutex::new(Some(batch("shardId-000000000001", theirs)))),
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
async fn members_joining_a_presence_room_on_two_shards_at_once_hear_of_each_other() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    let join = json!({"action":"join","chatId":"presence-7"});
    // Our shard: carol joins. Another shard, folded whole between our loads and our commit:
    // alice joins. Neither fold sees the other member; ours reads the room again after its
    // commit, finds alice, and tells both.
    let ours = vec![
        ws_connect("carol-conn", "carol", t),
        ws_message("carol-conn", t, t + 10, join.clone()),
    ];
    let theirs = vec![
        ws_connect("alice-conn", "alice", t),
        ws_message("alice-conn", t, t + 20, join),
    ];
    let (_, sent) = raced(&f, &ours, &theirs).await;
    let mut heard: Vec<(&str, &str, &str)> = sent
        .iter()
        .map(|d| {
            let p = &d.payload;
            let what = p["event"].as_str().or(p["type"].as_str()).unwrap_or("?");
            (
                d.channel.target(),
                what,
                p["clientId"].as_str().unwrap_or(""),
            )
        })
        .collect();
    heard.sort();
    assert_eq!(
        heard,
        [
            ("alice-conn", "join", "carol"),
            ("carol-conn", "join", "alice"),
            ("carol-conn", "presence_state", ""),
        ],
        "{sent:#?}"
    );
}

/// Stores carol, in presence room 7 by `carol-conn` from `t`; returns alice's join of it.
async fn carol_in_7(f: &Fixture, t: u64) -> Vec<String> {
    let join = json!({"action":"join","chatId":"presence-7"});
    let carol = [
        ws_connect("carol-conn", "carol", t),
        ws_message("carol-conn", t, t + 10, join.clone()),
    ];
    let before = handler(f.store.clone(), RecordingSink::new());
    let report = before.handle(&batch("shardId-000000000000", &carol)).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    vec![
        ws_connect("alice-conn", "alice", t + 20),
        ws_message("alice-conn", t + 20, t + 30, join),
    ]
}

/// The deliveries about carol, as (target, event or type).
fn about_carol(sent: &[Delivery]) -> Vec<(String, String)> {
    sent.iter()
        .filter(|d| d.payload["clientId"] == "carol")
        .map(|d| {
            let event = d.payload["event"].as_str().unwrap_or("?").to_owned();
            (d.channel.target().to_owned(), event)
        })
        .collect()
}

#[tokio::test]
async fn a_member_going_offline_while_another_joins_is_heard_offline_by_the_joiner() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    let alice = carol_in_7(&f, t).await;
    // Our shard: carol's socket closes. Alice's join, on another shard, is handled whole
    // between our loads and our commit: her state says carol is online, and our fold did not
    // see her. Reading the room again after our commit, we find her and tell her.
    let ours = vec![tests::aws::ws_disconnect("carol-conn", t, t + 40)];
    let (_, sent) = raced(&f, &ours, &alice).await;
    assert_eq!(
        about_carol(&sent),
        [("alice-conn".to_owned(), "offline".to_owned())],
        "{sent:#?}"
    );
}

#[tokio::test]
async fn a_joiner_whose_state_said_a_member_online_hears_it_go_offline_meanwhile() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    let alice = carol_in_7(&f, t).await;
    // Our shard: alice joins; her state says carol is online. carol's `$disconnect`, on another
    // shard, is handled whole between our loads and our commit: its batch reads the room before
    // alice is in it. Reading carol's entry again after our commit, we tell alice.
    let theirs = vec![tests::aws::ws_disconnect("carol-conn", t, t + 40)];
    let (_, sent) = raced(&f, &alice, &theirs).await;
    let state = sent
        .iter()
        .find(|d| d.payload["type"] == "presence_state")
        .unwrap();
    assert_eq!(
        state.payload["members"][1]["clientId"], "carol",
        "{state:?}"
    );
    assert_eq!(state.payload["members"][1]["online"], true, "{state:?}");
    assert_eq!(
        about_carol(&sent),
        [("alice-conn".to_owned(), "offline".to_owned())],
        "{sent:#?}"
    );
}
