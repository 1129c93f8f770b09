//! Room presence helpers: joins and leaves, the room presence deliveries of a stream, and the
//! same stream folded over a store a batch at a time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use projections::{Config, Delivery};
use schemas::Record;
use serde_json::json;

pub const ROOM: &str = "presence-42";

pub fn join(conn: &str, at: u64, ts: u64, room: &str) -> Record {
    ws_message(
        conn,
        at,
        ts,
        &json!({"action":"join","chatId":room}).to_string(),
    )
}

pub fn leave(conn: &str, at: u64, ts: u64, room: &str) -> Record {
    ws_message(
        conn,
        at,
        ts,
        &json!({"action":"leave","chatId":room}).to_string(),
    )
}

/// Every room presence delivery (`presence` with a `chatId`, or `presence_state`), as
/// (target, payload); checks that none goes by push.
pub fn room_presence(deliveries: &[Delivery]) -> Vec<(String, serde_json::Value)> {
    deliveries
        .iter()
        .filter(|d| {
            (d.payload["type"] == "presence" && d.payload.get("chatId").is_some())
                || d.payload["type"] == "presence_state"
        })
        .map(|d| {
            assert_ne!(
                d.channel.name(),
                "push",
                "presence goes by socket only: {d:?}"
            );
            (d.channel.target().to_owned(), d.payload.clone())
        })
        .collect()
}

/// The room presence deliveries of `records` in memory; a store folding `batch` records at a
/// time must make the same.
pub fn heard(records: &[Record], batch: usize) -> Vec<(String, serde_json::Value)> {
    heard_with(&Config::default(), records, batch)
}

/// [`heard`] with `config`.
pub fn heard_with(
    config: &Config,
    records: &[Record],
    batch: usize,
) -> Vec<(String, serde_json::Value)> {
    let (_, deliveries) = fold_with(config.clone(), records);
    let in_memory = room_presence(&deliveries);
    let mut store = MemStore::default();
    let mut stored = Vec::new();
    for chunk in records.chunks(batch) {
        stored.extend(store.process(config, chunk, None));
    }
    // An online member's `lastSeen` is the fold's now, which a batch knows less of than the
    // whole stream: compared without it.
    let sorted = |v: Vec<(String, serde_json::Value)>| {
        let mut v: Vec<(String, String)> = v
            .into_iter()
            .map(|(t, mut p)| {
                without_online_last_seen(&mut p);
                (t, p.to_string())
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(room_presence(&stored)),
        sorted(in_memory.clone()),
        "the store-backed fold differs"
    );
    in_memory
}

pub fn without_online_last_seen(p: &mut serde_json::Value) {
    if p["online"] == true {
        p.as_object_mut().unwrap().remove("lastSeen");
    }
    if let Some(members) = p.get_mut("members").and_then(|m| m.as_array_mut()) {
        members.iter_mut().for_each(without_online_last_seen);
    }
}
