//! Every shard's batches at once against one DynamoDB table in the emulator (moto), as Lambda runs
//! them (docs/architecture.md, Every shard at once): four shards, each with a parallelization
//! factor of 2 (two invocations per shard, ordered per partition key, here the connection id), so
//! eight batch streams whose loads and commits interleave. Clients join and leave rooms while
//! others chat in them. The table ends with the projections one fold of every record derives, every
//! member of a room when a message was sent gets it, and the conflicts and partial retries it cost
//! are counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_adapters::sink_port::RecordingSink;
use projections::{Config, World};
use schemas::Record;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tests::aws::{assert_stored_as_folded, batch, fixture, handler, ws_connect, ws_message};

const T: u64 = 1_732_350_000_000;
const CONNECTIONS: usize = 96;
const ROOMS: usize = 3;
const SHARDS: usize = 4;
const PARALLELIZATION: usize = 2;
const BATCH: usize = 8;

/// What the workload did, to check deliveries against.
struct Workload {
    /// Each batch stream's records, in its order.
    streams: Vec<Vec<String>>,
    /// Every record.
    all: Vec<String>,
    /// Each client's leaves: (room, time).
    leaves: HashMap<String, Vec<(String, u64)>>,
    /// Each message: (text, room, sender, time).
    messages: Vec<(String, String, String, u64)>,
}

/// Connection `w{i}` of client `u{i}` joins room `r{i % 3}` at a time of its own; every seventh
/// leaves again later; every eighth sends three messages to its room while the others join; every
/// fifth client joins the next room from a second connection. Each
/// connection's records go to the batch stream its id picks: a shard, then one of the shard's
/// parallel invocations, each stream in event-time order, as Kinesis keeps one partition key.
fn workload() -> Workload {
    let mut streams = vec![Vec::<(u64, String)>::new(); SHARDS * PARALLELIZATION];
    let mut leaves: HashMap<String, Vec<(String, u64)>> = HashMap::new();
    let mut messages = Vec::new();
    for i in 0..CONNECTIONS {
        let (conn, client, room) = (format!("w{i}"), format!("u{i}"), format!("r{}", i % ROOMS));
        let at = T + i as u64 * 10;
        let mut records = vec![(at, ws_connect(&conn, &client, at))];
        let joined = T + 2_000 + (i as u64 * 37) % 1_000;
        records.push((
            joined,
            ws_message(&conn, at, joined, json!({"action":"join","chatId":room})),
        ));
        if i % 7 == 0 {
            let left = joined + 500;
            records.push((
                left,
                ws_message(&conn, at, left, json!({"action":"leave","chatId":room})),
            ));
            leaves
                .entry(client.clone())
                .or_default()
                .push((room.clone(), left));
        }
        if i % 8 == 0 {
            for k in 0..3u64 {
                let sent = T + 2_000 + (i as u64 * 53) % 1_500 + k * 300;
                let text = format!("{client}-{k}");
                let body = json!({"action":"sendmessage","chatId":room,"message":text});
                records.push((sent, ws_message(&conn, at, sent, body)));
                messages.push((text, room.clone(), client.clone(), sent));
            }
        }
        records.sort_by_key(|(t, _)| *t);
        streams[stream_of(&conn)].extend(records);
        // Every fifth client also has a second device, whose connection another stream may
        // carry: both write the client's entry.
        if i % 5 == 0 {
            let (conn, room) = (format!("w{i}-2"), format!("r{}", (i + 1) % ROOMS));
            let at = at + 5;
            let joined = T + 2_100 + (i as u64 * 41) % 1_000;
            streams[stream_of(&conn)].extend([
                (at, ws_connect(&conn, &client, at)),
                (
                    joined,
                    ws_message(&conn, at, joined, json!({"action":"join","chatId":room})),
                ),
            ]);
        }
    }
    let mut all = Vec::new();
    let streams = streams
        .into_iter()
        .map(|mut s| {
            s.sort_by_key(|(t, _)| *t);
            let lines: Vec<String> = s.into_iter().map(|(_, l)| l).collect();
            all.extend(lines.iter().cloned());
            lines
        })
        .collect();
    Workload {
        streams,
        all,
        leaves,
        messages,
    }
}

/// The batch stream a connection's records go to: its shard (by a hash of the connection id, the
/// partition key), then one of the shard's parallel invocations.
fn stream_of(conn: &str) -> usize {
    let hash = conn
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    (hash % (SHARDS * PARALLELIZATION) as u64) as usize
}

/// The (message, recipient) pairs of one fold of `lines` in event-time order: the members of
/// each room when each message was sent.
fn intended(lines: &[String]) -> BTreeSet<(String, String)> {
    let mut records: Vec<Record> = lines
        .iter()
        .map(|l| schemas::decode_json(l.as_bytes()).unwrap())
        .collect();
    records.sort_by_key(Record::event_time);
    let mut world = World::in_memory(Config::default());
    let mut out = BTreeSet::new();
    for r in &records {
        for d in world.apply(r) {
            if d.payload["type"] == "message" {
                let text = d.payload["message"].as_str().unwrap().to_owned();
                out.insert((text, d.recipient().unwrap().to_owned()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shard_at_once_with_parallel_invocations_loses_no_delivery() {
    let f = fixture(SHARDS as i32).await.unwrap();
    let w = workload();
    let h = std::sync::Arc::new(handler(f.store.clone(), RecordingSink::new()));
    // Each stream is one invocation after another, as Lambda runs a shard's batches for one
    // partition key; a batch that reports a failed record is retried from it. The streams run
    // at once, on the runtime's threads.
    let mut runs = tokio::task::JoinSet::new();
    for (s, lines) in w.streams.iter().cloned().enumerate() {
        let h = h.clone();
        runs.spawn(async move {
            let shard = format!("shardId-{:012}", s / PARALLELIZATION);
            let (mut invocations, mut partial_retries, mut conflicts, mut late) = (0, 0, 0, 0);
            let mut rest = &lines[..];
            while !rest.is_empty() {
                let next = &rest[..BATCH.min(rest.len())];
                invocations += 1;
                let report = h.handle(&batch(&shard, next)).await;
                conflicts += report.conflicts;
                late += report.late_leaves;
                match report.failed_at {
                    None => rest = &rest[next.len()..],
                    Some(at) => {
                        partial_retries += 1;
                        assert!(partial_retries < 50, "{:?}", report.failure);
                        rest = &rest[at..];
                    }
                }
            }
            (invocations, partial_retries, conflicts, late)
        });
    }
    let results: Vec<(usize, usize, usize, u64)> = runs.join_all().await;
    let sum = |pick: fn(&(usize, usize, usize, u64)) -> u64| results.iter().map(pick).sum::<u64>();
    let invocations = sum(|r| r.0 as u64);
    let partial_retries = sum(|r| r.1 as u64);
    let conflicts = sum(|r| r.2 as u64);
    let late = sum(|r| r.3);

    assert_stored_as_folded(f.store.as_ref(), &w.all).await;

    let sent = h.sink.sent();
    let mut times: BTreeMap<&str, usize> = BTreeMap::new();
    let mut got = BTreeSet::new();
    for d in &sent {
        *times.entry(d.id.as_str()).or_default() += 1;
        if d.payload["type"] == "message" {
            let text = d.payload["message"].as_str().unwrap().to_owned();
            got.insert((text, d.recipient().unwrap().to_owned()));
        }
    }
    let want = intended(&w.all);
    let missing: Vec<_> = want.difference(&got).collect();
    assert!(missing.is_empty(), "not delivered: {missing:?}");
    // Beyond the members: only a client whose leave, made before the message, a batch folding
    // the message had not seen yet.
    let room_of: HashMap<&str, (&str, &str, u64)> = w
        .messages
        .iter()
        .map(|(text, room, from, t)| (text.as_str(), (room.as_str(), from.as_str(), *t)))
        .collect();
    for (text, client) in got.difference(&want) {
        let (room, _, t) = room_of[text.as_str()];
        let left_before = w
            .leaves
            .get(client)
            .is_some_and(|l| l.iter().any(|(r, at)| r == room && *at <= t));
        assert!(left_before, "{text} delivered to {client}, no member");
    }
    let twice = times.values().filter(|n| **n > 1).count();
    println!(
        "{} records on {SHARDS} shards x {PARALLELIZATION} at once: {invocations} invocations, \
         {conflicts} conflicts, {partial_retries} partial retries; {} of {} chat deliveries \
         intended made, {} beyond them ({late} late leaves counted), {twice} delivery ids sent \
         more than once",
        w.all.len(),
        want.intersection(&got).count(),
        want.len(),
        got.difference(&want).count(),
    );
    assert!(want.len() > 500, "{} intended deliveries", want.len());
}
