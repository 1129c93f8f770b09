//! Room presence, `online` and `offline`: the other members of a client's presence rooms hear
//! its presence turn, once, whichever record finds the turn (its `$disconnect`, the sweeper's
//! `connection_gone` for a connection past its two hours, an IoT disconnection), and nothing
//! when it does not turn (a second connection, a duplicate, an older session's late
//! disconnection); and whatever the order and duplication of a stream's records, a member that
//! hears the room keeps a right picture of who in it is online.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::Config;
use proptest::prelude::*;
use schemas::Record;
use serde_json::json;
use std::collections::BTreeMap;
use support::rooms::*;
use support::*;

/// Alice and bob by WebSocket, carol by MQTT (her chat topic), all in the presence room.
fn alice_bob_and_carol() -> Vec<Record> {
    let topic = format!("app/carol/chat/{ROOM}");
    vec![
        ws_connect("cA", "alice", T0),
        ws_connect("cB", "bob", T0 + 1),
        connected("carol", "s1", Some(1), T0 + 2),
        subscribed("carol", "s1", &[topic.as_str()], T0 + 3),
        join("cA", T0, T0 + 10, ROOM),
        join("cB", T0 + 1, T0 + 20, ROOM),
    ]
}

/// The `online` and `offline` events in `heard`, as (target, about, event).
fn turns(heard: &[(String, serde_json::Value)]) -> Vec<(String, String, String)> {
    heard
        .iter()
        .filter(|(_, p)| p["event"] == "online" || p["event"] == "offline")
        .map(|(t, p)| {
            let about = p["clientId"].as_str().unwrap().to_owned();
            (t.clone(), about, p["event"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// carol's IoT session ends at `ts`, as a lost keep-alive ends it.
fn carol_times_out(ts: u64) -> Record {
    disconnected("carol", "s1", Some(1), ts, "MQTT_KEEP_ALIVE_TIMEOUT")
}

fn to_all_but(about: &str, event: &str) -> Vec<(String, String, String)> {
    let carol = format!("app/carol/chat/{ROOM}");
    [("cA", "alice"), ("cB", "bob"), (carol.as_str(), "carol")]
        .into_iter()
        .filter(|(_, c)| *c != about)
        .map(|(t, _)| (t.to_owned(), about.to_owned(), event.to_owned()))
        .collect()
}

#[test]
fn members_hear_a_member_go_offline_and_come_back() {
    let mut records = alice_bob_and_carol();
    records.push(ws_disconnect("cB", T0 + 1, T0 + 30));
    records.push(ws_connect("cB2", "bob", T0 + 40));
    for batch in [1, 2, 5] {
        let heard = heard(&records, batch);
        let mut expected = to_all_but("bob", "offline");
        expected.extend(to_all_but("bob", "online"));
        let mut got = turns(&heard);
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "in batches of {batch}");
        let offline = heard
            .iter()
            .find(|(t, p)| t == "cA" && p["event"] == "offline")
            .unwrap();
        assert_eq!(
            offline.1,
            json!({"type":"presence","chatId":ROOM,"clientId":"bob","event":"offline",
                   "online":false,"lastSeen":T0 + 30,"via":[]})
        );
    }
}

#[test]
fn a_second_connection_a_duplicate_and_an_older_session_emit_nothing() {
    let mut records = alice_bob_and_carol();
    // Bob opens a second connection and closes one of the two, twice (a retry).
    records.push(ws_connect("cB2", "bob", T0 + 30));
    records.push(ws_disconnect("cB", T0 + 1, T0 + 40));
    records.push(ws_disconnect("cB", T0 + 1, T0 + 40));
    // Carol's device reconnects on a new session; the old session's disconnection comes late.
    records.push(connected("carol", "s2", Some(2), T0 + 50));
    records.push(disconnected(
        "carol",
        "s1",
        Some(1),
        T0 + 45,
        "DUPLICATE_CLIENTID",
    ));
    for batch in [1, 3] {
        assert_eq!(turns(&heard(&records, batch)), [], "in batches of {batch}");
    }
}

#[test]
fn an_mqtt_member_going_away_is_heard_by_the_others() {
    let mut records = alice_bob_and_carol();
    records.push(carol_times_out(T0 + 30));
    let heard = heard(&records, 2);
    let mut got = turns(&heard);
    got.sort();
    assert_eq!(got, to_all_but("carol", "offline"));
}

#[test]
fn a_connection_past_two_hours_is_heard_offline_once_the_sweeper_closes_it() {
    // Bob's `$disconnect` never comes; carol (MQTT) stays. A tick past his two hours says
    // nothing of him; the sweeper's `connection_gone` for his connection, a record about him,
    // finds that he is offline.
    let mut records = alice_bob_and_carol();
    records.retain(|r| !matches!(r, Record::WebSocket(ws) if ws.connection_id == "cA"));
    let past = T0 + 2 * HOUR + MIN;
    records.push(tick("shard-0", past));
    let before = turns(&heard(&records, 2));
    assert_eq!(before, []);
    records.push(gone("cB", past + 1));
    let carol = format!("app/carol/chat/{ROOM}");
    for batch in [1, 2, 8] {
        let heard = heard(&records, batch);
        assert_eq!(
            turns(&heard),
            [(carol.clone(), "bob".to_owned(), "offline".to_owned())],
            "in batches of {batch}"
        );
    }
    // The same connection closed again by a retried feedback says nothing more.
    records.push(gone("cB", past + 1));
    assert_eq!(turns(&heard(&records, 1)).len(), 1);
}

#[test]
fn a_client_in_no_presence_room_keeps_nothing_of_what_rooms_heard() {
    let records = vec![
        ws_connect("cA", "alice", T0),
        join("cA", T0, T0 + 10, "42"),
        ws_disconnect("cA", T0, T0 + 20),
    ];
    let (world, _) = fold(&records);
    assert_eq!(world.client_state("alice").unwrap().announced, None);
    // In a presence room, then out of it: kept while in, dropped after.
    let mut records = alice_bob_and_carol();
    let (world, _) = fold(&records);
    let announced = world.client_state("alice").unwrap().announced.clone();
    assert_eq!(announced.map(|a| a.value), Some(true));
    records.push(leave("cA", T0, T0 + 30, ROOM));
    let (world, _) = fold(&records);
    assert_eq!(world.client_state("alice").unwrap().announced, None);
}

fn with_grace(ms: u64) -> Config {
    Config {
        presence_grace_ms: ms,
        ..Config::default()
    }
}

#[test]
fn with_a_grace_a_reconnect_within_it_tells_nothing() {
    let mut records = alice_bob_and_carol();
    records.push(ws_disconnect("cB", T0 + 1, T0 + 30));
    records.push(ws_connect("cB2", "bob", T0 + 30 + 9_000));
    records.push(tick(SHARD, T0 + 30 + 20_000));
    for batch in [1, 2, 5] {
        let heard = heard_with(&with_grace(10_000), &records, batch);
        assert_eq!(turns(&heard), [], "in batches of {batch}");
    }
}

#[test]
fn with_a_grace_an_offline_is_told_by_the_tick_after_it() {
    let mut records = alice_bob_and_carol();
    records.push(ws_disconnect("cB", T0 + 1, T0 + 30));
    // Within the grace: nothing yet.
    records.push(tick(SHARD, T0 + 30 + 9_000));
    for batch in [1, 2, 5] {
        let heard = heard_with(&with_grace(10_000), &records, batch);
        assert_eq!(turns(&heard), [], "in batches of {batch}");
    }
    // The tick past it tells the room, as the offline at once would have.
    records.push(tick(SHARD, T0 + 30 + 10_000));
    for batch in [1, 2, 5] {
        let heard = heard_with(&with_grace(10_000), &records, batch);
        let mut got = turns(&heard);
        got.sort();
        let mut want = to_all_but("bob", "offline");
        want.sort();
        assert_eq!(got, want, "in batches of {batch}");
        let offline = heard
            .iter()
            .find(|(t, p)| t == "cA" && p["event"] == "offline")
            .unwrap();
        assert_eq!(offline.1["lastSeen"], T0 + 30, "{}", offline.1);
    }
}

#[test]
fn with_a_grace_a_later_record_about_the_member_tells_it_too() {
    // An IoT member flaps: its session ends, and a refused connection (a record about it, which
    // changes no session) comes after the grace.
    let mut records = alice_bob_and_carol();
    records.push(carol_times_out(T0 + 30));
    records.push(connect_failed("carol", T0 + 30 + 60_001));
    let heard = heard_with(&with_grace(10_000), &records, 1);
    let mut got = turns(&heard);
    got.sort();
    assert_eq!(got, to_all_but("carol", "offline"));
}

/// Subjects: two clients by WebSocket, each with connections it opens and closes.
const SUBJECTS: &[&str] = &["s1", "s2"];

/// One record of a subject's connections after it joined: a connection opened, closed, found
/// gone, or time passing (a tick), at `step` minutes (up to five hours) after the start.
fn subject_record() -> impl Strategy<Value = Record> {
    (0usize..2, 0u64..3, 0u8..4, 0u64..300).prop_map(|(who, conn, kind, step)| {
        let client = SUBJECTS[who];
        let conn_id = format!("{client}-{conn}");
        // Each connection opens at its own fixed time, so its records agree on `connectedAt`.
        let at = T0 + 10 + conn * 50 * MIN + who as u64;
        let ts = at + step * MIN;
        match kind {
            0 => ws_connect(&conn_id, client, at),
            1 => ws_disconnect(&conn_id, at, ts),
            2 => gone(&conn_id, ts),
            _ => tick("shard-0", ts),
        }
    })
}

/// What a listener pictures of a member: whether it is online, and whether an event (not a
/// state) said so.
#[derive(Debug, Clone, Copy)]
struct Seen {
    online: bool,
    by_event: bool,
}

/// A listener's picture of who is online, from what it heard: a `presence_state` sets it, a
/// `join` adds a member with its presence, and an `online` or `offline` turns it, never to what
/// the last event about that member already said.
fn picture(heard: &[(String, serde_json::Value)]) -> Result<BTreeMap<String, Seen>, String> {
    let mut picture: BTreeMap<String, Seen> = BTreeMap::new();
    for (_, p) in heard {
        let about = p["clientId"].as_str().map(str::to_owned);
        match (p["type"].as_str(), p["event"].as_str(), about) {
            (Some("presence_state"), _, _) => {
                picture = p["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        let online = m["online"] == true;
                        let about = m["clientId"].as_str().unwrap().to_owned();
                        (
                            about,
                            Seen {
                                online,
                                by_event: false,
                            },
                        )
                    })
                    .collect();
            }
            (_, Some("join"), Some(about)) => {
                let online = p["online"] == true;
                picture.insert(
                    about,
                    Seen {
                        online,
                        by_event: true,
                    },
                );
            }
            (_, Some("leave"), Some(about)) => {
                picture.remove(&about);
            }
            (_, Some(event @ ("online" | "offline")), Some(about)) => {
                let online = event == "online";
                if p["online"] != online {
                    return Err(format!("heard {event} saying online {}", p["online"]));
                }
                match picture.get(&about) {
                    None => return Err(format!("heard {event} of {about}, not a member it knew")),
                    Some(seen) if seen.by_event && seen.online == online => {
                        return Err(format!("heard {about} {event} twice in a row"))
                    }
                    Some(_) => {}
                }
                picture.insert(
                    about,
                    Seen {
                        online,
                        by_event: true,
                    },
                );
            }
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    Ok(picture)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Carol listens by MQTT (her session never ages); the subjects join, then open and close
    /// connections in any order, with duplicates, over hours, with or without a grace. At the
    /// end the sweeper closes every connection past its two hours and ticks past the grace.
    /// Carol's picture is then the room as it is, folded in memory and over a store a batch at a
    /// time.
    #[test]
    fn what_a_member_hears_keeps_its_picture_of_who_is_online_right(
        tail in prop::collection::vec(subject_record(), 0..30),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        batch in 1usize..6,
        grace in prop_oneof![Just(0), Just(5 * MIN)],
    ) {
        let config = with_grace(grace);
        let topic = format!("app/carol/chat/{ROOM}");
        let mut records = vec![
            connected("carol", "c", Some(1), T0),
            subscribed("carol", "c", &[topic.as_str()], T0 + 1),
        ];
        for (i, s) in SUBJECTS.iter().enumerate() {
            let conn = format!("{s}-0");
            let at = T0 + 10 + i as u64;
            records.push(ws_connect(&conn, s, at));
            records.push(join(&conn, at, at + 1, ROOM));
        }
        let mut stream = tail.clone();
        for i in dups.iter().filter(|_| !tail.is_empty()) {
            stream.push(tail[i.index(tail.len())].clone());
        }
        records.extend(stream);
        // The sweeper: time past every connection's two hours is not needed, only the close of
        // those past them at the stream's end.
        let (world, _) = fold_with(config.clone(), &records);
        let end = world.watermark() + grace;
        for s in SUBJECTS {
            for c in 0..3u64 {
                let at = T0 + 10 + c * 50 * MIN;
                if end >= at + 2 * HOUR {
                    records.push(gone(&format!("{s}-{c}"), end));
                }
            }
        }
        records.push(tick(SHARD, end));
        let (world, in_memory) = fold_with(config.clone(), &records);
        let store = projections_store_heard(&config, &records, batch);
        for heard in [room_presence(&in_memory), store] {
            // A subject's later connection hears the room without having had its state.
            let heard: Vec<_> = heard.into_iter().filter(|(to, _)| *to == topic).collect();
            let carol = picture(&heard).map_err(TestCaseError::fail)?;
            for s in SUBJECTS {
                let online = world.client(s).unwrap().online;
                prop_assert_eq!(carol.get(*s).map(|p| p.online), Some(online), "carol pictures {} wrong", s);
            }
        }
    }
}

/// The room presence deliveries of `records` folded over a store, `batch` records at a time.
fn projections_store_heard(
    config: &Config,
    records: &[Record],
    batch: usize,
) -> Vec<(String, serde_json::Value)> {
    let mut store = MemStore::default();
    let mut out = Vec::new();
    for chunk in records.chunks(batch) {
        out.extend(room_presence(&store.process(config, chunk, None)));
    }
    out
}
