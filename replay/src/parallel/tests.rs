//! Unit tests of `parallel`.

use super::*;
use crate::source::{Location, Position};

/// Records per batch in these tests: a few hundred batches.
const BATCH: usize = 1000;

/// Folds the records `keep` accepts on two threads, in batches as replay reads them (where
/// `keep` is the time window), and on one.
fn fold_both(
    one: &mut World,
    two: &mut ParallelFold,
    records: &[Record],
    keep: impl Fn(usize) -> bool,
) {
    for (n, chunk) in records.chunks(BATCH).enumerate() {
        let indices: Vec<u32> = (0..chunk.len())
            .filter(|i| keep(n * BATCH + i))
            .map(|i| u32::try_from(i).unwrap())
            .collect();
        for &i in &indices {
            drop(one.apply(&chunk[i as usize]));
        }
        let batch = Batch {
            records: chunk
                .iter()
                .map(|r| {
                    let at = Location::File;
                    (
                        r.clone(),
                        Position {
                            file: 0,
                            at,
                            arrived: None,
                        },
                    )
                })
                .collect(),
            errors: Vec::new(),
        };
        two.apply(&Arc::new(batch), &indices);
    }
}

/// Every seed's scenario (WebSocket, telemetry, feedback) and a generated lifecycle stream
/// long enough for many hand-overs.
fn records() -> Vec<Record> {
    let seeds = include_str!("../../../examples/seeds.jsonl").lines();
    let lifecycle =
        ::tests::workload::iot_lifecycle_lines(3 * crate::source::reader::BATCH + 17, 300, 5);
    seeds
        .map(str::to_owned)
        .chain(lifecycle)
        .filter_map(|line| schemas::decode_json(line.as_bytes()).ok())
        .collect()
}

#[test]
fn two_threads_derive_what_one_fold_does() {
    let records = records();

    let mut one = World::in_memory(Config::default());
    let mut two = ParallelFold::new(Config::default());
    // Some records outside the window: every batch folds some of its records, not all.
    fold_both(&mut one, &mut two, &records, |i| i % 7 != 3);
    let two = two.finish().unwrap();
    assert!(one.clients().len() > 300);
    assert_eq!(two.clients(), one.clients());
    let entries = |w: &World| {
        let mut keys: Vec<_> = w.keys().collect();
        keys.sort();
        keys.into_iter().map(|k| w.entry(&k)).collect::<Vec<_>>()
    };
    assert_eq!(entries(&two), entries(&one));
}

use ::tests::workload::Rng;
use serde_json::json;

const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const T0: u64 = 1_700_000_000_000;

fn lifecycle(kind: &str, client: &str, session: &str, ts: u64, extra: serde_json::Value) -> String {
    let mut line = json!({"eventType": kind, "clientId": client, "timestamp": ts,
        "sessionIdentifier": session, "principalIdentifier": "p"});
    if let (Some(line), Some(extra)) = (line.as_object_mut(), extra.as_object()) {
        line.extend(extra.clone());
    }
    line.to_string()
}

/// Three days of event time: 40 clients running MQTT sessions one after another (takeovers
/// included) and subscribing to chat rooms, and WebSocket connections joining, leaving and
/// chatting. Arrival is by event time plus a delay under an hour (one record in five is
/// minutes late, so joins often arrive before their connection's `$connect`), and 1% arrive
/// twice.
fn days_of_records(seed: u64) -> Vec<Record> {
    struct Mqtt {
        session: Option<(String, u64)>,
        version: u64,
        ended: u64,
        count: u64,
    }
    let mut rng = Rng::new(seed);
    let mut clients: Vec<Mqtt> = (0..40)
        .map(|_| Mqtt {
            session: None,
            version: 0,
            ended: 0,
            count: 0,
        })
        .collect();
    let mut live: Vec<(String, u64)> = Vec::new();
    let mut lines: Vec<(u64, String)> = Vec::new();
    let mut t = T0;
    while t < T0 + 72 * HOUR {
        t += rng.below(60_000);
        let c = rng.below(40) as usize;
        let client = format!("c{c}");
        let room = |rng: &mut Rng| format!("r{}", rng.below(6));
        match rng.below(10) {
            0..=5 => {
                let m = &mut clients[c];
                let open = m.session.clone();
                let step = rng.below(6);
                if let Some((session, _)) = open.as_ref().filter(|_| step < 4) {
                    let topic = format!("app/{client}/chat/{}", room(&mut rng));
                    let kind = if step < 3 {
                        "subscribed"
                    } else {
                        "unsubscribed"
                    };
                    lines.push((
                        t,
                        lifecycle(kind, &client, session, t, json!({"topics": [topic]})),
                    ));
                    continue;
                }
                if let Some((session, version)) = open {
                    // A takeover: the old session's disconnect comes just after the new connect.
                    let (at, reason) = if step == 5 {
                        (t + 1_000, "DUPLICATE_CLIENTID")
                    } else {
                        (t, "CONNECTION_LOST")
                    };
                    lines.push((at, lifecycle("disconnected", &client, &session, at,
                        json!({"versionNumber": version, "disconnectReason": reason, "clientInitiatedDisconnect": false}))));
                    m.session = None;
                    m.ended = at;
                    if step != 5 {
                        continue;
                    }
                }
                m.version = if t.saturating_sub(m.ended) > HOUR {
                    0
                } else {
                    m.version + 1
                };
                m.count += 1;
                let session = format!("{client}-s{}", m.count);
                lines.push((
                    t,
                    lifecycle(
                        "connected",
                        &client,
                        &session,
                        t,
                        json!({"versionNumber": m.version}),
                    ),
                ));
                m.session = Some((session, m.version));
            }
            6 => {
                let conn = format!("w{}", lines.len());
                lines.push((t, ::tests::aws::ws_connect(&conn, &client, t)));
                live.push((conn, t));
            }
            7 | 8 if !live.is_empty() => {
                let i = rng.below(live.len() as u64) as usize;
                let (conn, at) = live[i].clone();
                if t >= at + 2 * HOUR {
                    live.swap_remove(i);
                    continue;
                }
                let body = match rng.below(5) {
                    0 | 1 => json!({"action": "join", "chatId": room(&mut rng)}),
                    2 | 3 => json!({"action": "leave", "chatId": room(&mut rng)}),
                    _ => {
                        json!({"action": "sendmessage", "chatId": room(&mut rng), "message": "hi"})
                    }
                };
                lines.push((t, ::tests::aws::ws_message(&conn, at, t, body)));
            }
            _ if !live.is_empty() => {
                let (conn, at) = live.swap_remove(rng.below(live.len() as u64) as usize);
                let line = json!({"kind":"websocket","schemaVersion":2,"eventType":"DISCONNECT",
                    "routeKey":"$disconnect","connectionId":conn,"connectedAt":at,"requestTimeEpoch":t});
                lines.push((t, line.to_string()));
            }
            _ => {}
        }
    }
    let mut arriving: Vec<(u64, String)> = Vec::new();
    for (ts, line) in lines {
        let delay = if rng.below(5) == 0 {
            rng.below(HOUR - 1)
        } else {
            rng.below(10_000)
        };
        if rng.below(100) == 0 {
            arriving.push((ts + rng.below(HOUR - 1), line.clone()));
        }
        arriving.push((ts + delay, line));
    }
    arriving.sort_by_key(|(at, _)| *at);
    arriving
        .into_iter()
        .map(|(_, line)| schemas::decode_json(line.as_bytes()).unwrap())
        .collect()
}

fn members(world: &World, rooms: usize) -> Vec<Vec<String>> {
    (0..rooms)
        .map(|r| {
            let room = world.room_state(&format!("r{r}"));
            room.map(|r| r.joined().map(str::to_owned).collect())
                .unwrap_or_default()
        })
        .collect()
}

fn memberships(world: &World) -> usize {
    world
        .clients()
        .iter()
        .filter_map(|c| world.client_state(&c.client_id))
        .map(|c| c.memberships().count())
        .sum()
}

#[test]
fn two_threads_forgetting_over_days_derive_what_one_fold_remembering_all_does() {
    let config = Config {
        tombstone_retention_ms: HOUR,
        ..Config::default()
    };
    for seed in 1..=3 {
        let records = days_of_records(seed);
        let mut one = World::in_memory(config.clone());
        let mut two = ParallelFold::compacting_every(config.clone(), 200);
        fold_both(&mut one, &mut two, &records, |_| true);
        assert!(
            !two.kept.is_empty(),
            "some connection went to the other side than its client"
        );
        let mut two = two.finish().unwrap();
        two.compact_all();
        assert!(one.clients().len() == 40 && one.clients().iter().any(|c| !c.rooms.is_empty()));
        assert_eq!(two.clients(), one.clients(), "seed {seed}");
        assert_eq!(members(&two, 6), members(&one, 6), "seed {seed}");
        assert!(
            memberships(&two) < memberships(&one),
            "old leaves were forgotten"
        );
        let conns = |w: &World| {
            w.keys()
                .filter(|k| matches!(k, projections::Key::Connection(_)))
                .count()
        };
        assert!(
            conns(&two) < conns(&one),
            "day-old connections were forgotten"
        );
    }
}
