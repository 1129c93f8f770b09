//! `history`: a member asks for a room's messages after a time and gets the page its history
//! holds, with the payloads live messages have; anyone else gets a usage reply saying why. The
//! same from a store-backed world, batch by batch, as from one fold in memory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::{Config, Delivery};
use schemas::Record;
use serde_json::Value;
use support::*;

fn say(conn: &str, s: u64, text: &str) -> Record {
    let body = format!(r#"{{"action":"sendmessage","chatId":"r","message":"{text}"}}"#);
    ws_message(conn, T0, T0 + s * 1000, &body)
}

fn join(conn: &str, s: u64) -> Record {
    ws_message(conn, T0, T0 + s * 1000, r#"{"action":"join","chatId":"r"}"#)
}

fn ask(conn: &str, s: u64, fields: &str) -> Record {
    let body = format!(r#"{{"action":"history","chatId":"r"{fields}}}"#);
    ws_message(conn, T0, T0 + s * 1000, &body)
}

/// alice and bob in room `r`, carol outside it; alice says three things.
fn room() -> Vec<Record> {
    vec![
        ws_connect("wa", "alice", T0),
        ws_connect("wb", "bob", T0),
        ws_connect("wc", "carol", T0),
        join("wa", 1),
        join("wb", 2),
        say("wa", 10, "one"),
        say("wa", 20, "two"),
        say("wa", 30, "three"),
    ]
}

/// The deliveries of the last record, folded after `records` in memory and, in batches of
/// three, through a store.
fn reply(records: &[Record]) -> Delivery {
    let (_, deliveries) = fold(records);
    let last = deliveries.last().unwrap().clone();
    let mut store = MemStore::default();
    let mut stored = Vec::new();
    for batch in records.chunks(3) {
        stored = store.process(&Config::default(), batch, None);
    }
    assert_eq!(
        stored.last(),
        Some(&last),
        "a store-backed world answers the same"
    );
    last
}

fn texts(reply: &Delivery) -> Vec<&str> {
    let messages = reply.payload["messages"].as_array().unwrap();
    messages
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect()
}

#[test]
fn a_member_gets_the_messages_after_its_time_as_they_were_delivered() {
    let mut records = room();
    records.push(ask("wb", 40, &format!(r#","since":{}"#, T0 + 10_000)));
    let reply = reply(&records);
    assert_eq!(reply.payload["type"], "history");
    assert_eq!(texts(&reply), ["two", "three"]);
    assert_eq!(reply.payload["more"], false);
    // The payloads bob got live.
    let (_, live) = fold(&records[..7]);
    let two = live.iter().find(|d| d.payload["message"] == "two").unwrap();
    assert_eq!(reply.payload["messages"][0], two.payload);
    assert_eq!(two.payload["from"], "alice");
}

#[test]
fn a_page_says_when_more_remain_and_the_next_asks_after_its_last() {
    let mut records = room();
    records.push(ask("wb", 40, r#","limit":2"#));
    let first = reply(&records);
    assert_eq!(texts(&first), ["one", "two"]);
    assert_eq!(first.payload["more"], true);
    let last_sent = first.payload["messages"][1]["sentAt"].as_u64().unwrap();
    records.push(ask("wb", 41, &format!(r#","limit":2,"since":{last_sent}"#)));
    let next = reply(&records);
    assert_eq!(texts(&next), ["three"]);
    assert_eq!(next.payload["more"], false);
}

#[test]
fn a_client_outside_the_room_or_asking_about_the_future_gets_a_usage_reply() {
    let cases = [
        ("wc", String::new(), "join it first"),
        (
            "wb",
            format!(r#","since":{}"#, T0 + 99_000),
            "later than the request",
        ),
    ];
    for (conn, fields, why) in cases {
        let mut records = room();
        records.push(ask(conn, 40, &fields));
        let reply = reply(&records);
        assert_eq!(reply.payload["type"], "usage", "{conn} {fields}");
        let reason = reply.payload["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{reason}");
        assert_eq!(reply.payload["action"], "history");
    }
    // A body that does not fit names the field.
    let mut records = room();
    records.push(ask("wb", 40, r#","limit":5000"#));
    let reason = reply(&records).payload["reason"].clone();
    assert!(
        matches!(&reason, Value::String(r) if r.contains("\"limit\"")),
        "{reason}"
    );
}

#[test]
fn a_batch_counts_the_deliveries_a_late_leave_cannot_take_back() {
    // bob's leave at +15 s is folded after alice's message at +20 s, which he received.
    let mut records = room();
    records.push(ws_message(
        "wb",
        T0,
        T0 + 15_000,
        r#"{"action":"leave","chatId":"r"}"#,
    ));
    let mut world = projections::World::in_memory(Config::default());
    let mut batch = projections::Batch::fold_only(&records, usize::MAX);
    while batch.next(&mut world).unwrap() != projections::Step::Done {}
    // "two" at +20 s and "three" at +30 s went to bob before his leave at +15 s was folded.
    assert_eq!(batch.late_leaves(), 2);
    assert_eq!(world.late_leaves(), 2);
}
