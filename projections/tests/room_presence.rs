//! Room presence: in a presence room each other member hears a member `join` and `leave` by
//! socket, exactly when the member's membership turns, and a joiner gets the room's state; the
//! same from a world in memory and from one that loads what it needs from a store a batch at a
//! time; and whatever the order and duplication, what a member hears keeps its picture of the
//! room right.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::Config;
use proptest::prelude::*;
use schemas::Record;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use support::rooms::*;
use support::*;

fn alice_and_bob() -> Vec<Record> {
    vec![
        ws_connect("cA", "alice", T0),
        ws_connect("cB", "bob", T0 + 1),
        join("cA", T0, T0 + 10, ROOM),
    ]
}

#[test]
fn members_hear_a_join_and_a_leave_and_the_joiner_gets_the_state() {
    let mut records = alice_and_bob();
    records.push(join("cB", T0 + 1, T0 + 20, ROOM));
    records.push(leave("cA", T0, T0 + 30, ROOM));
    for batch in [1, 2, 5] {
        let heard = heard(&records, batch);
        let to = |conn: &str| -> Vec<&serde_json::Value> {
            heard
                .iter()
                .filter(|(t, _)| t == conn)
                .map(|(_, p)| p)
                .collect()
        };
        let alice = to("cA");
        // Her own join's state (only her), then bob's join.
        assert_eq!(alice.len(), 2, "{alice:?}");
        assert_eq!(alice[0]["type"], "presence_state");
        assert_eq!(
            alice[0]["members"],
            json!([{"clientId":"alice","online":true,"lastSeen":T0 + 10}])
        );
        assert_eq!(alice[1]["event"], "join");
        assert_eq!(alice[1]["clientId"], "bob");
        assert_eq!(alice[1]["online"], true);
        assert_eq!(alice[1]["via"], json!(["websocket"]));
        let bob = to("cB");
        // His join's state (alice and him), then alice's leave.
        assert_eq!(bob.len(), 2, "{bob:?}");
        assert_eq!(bob[0]["type"], "presence_state");
        let members: Vec<&str> = bob[0]["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["clientId"].as_str().unwrap())
            .collect();
        assert_eq!(members, ["alice", "bob"]);
        assert_eq!(bob[1]["event"], "leave");
        assert_eq!(bob[1]["clientId"], "alice");
        assert_eq!(bob[1]["chatId"], ROOM);
    }
}

#[test]
fn a_duplicate_a_second_join_and_a_late_older_leave_emit_nothing() {
    let mut records = alice_and_bob();
    records.push(join("cB", T0 + 1, T0 + 20, ROOM));
    let once = heard(&records, 1).len();
    // The same join again (a retry), a later join while a member, and a leave older than the
    // join folded after it: the membership does not turn.
    records.push(join("cB", T0 + 1, T0 + 20, ROOM));
    records.push(join("cB", T0 + 1, T0 + 25, ROOM));
    records.push(leave("cB", T0 + 1, T0 + 15, ROOM));
    assert_eq!(heard(&records, 1).len(), once);
    assert_eq!(heard(&records, 3).len(), once);
}

#[test]
fn other_rooms_are_silent() {
    let records = vec![
        ws_connect("cA", "alice", T0),
        ws_connect("cB", "bob", T0 + 1),
        join("cA", T0, T0 + 10, "42"),
        join("cB", T0 + 1, T0 + 20, "42"),
    ];
    assert!(heard(&records, 2).is_empty());
    // Every room is a presence room when the prefix is empty.
    let config = Config {
        presence_rooms: String::new(),
        ..Config::default()
    };
    let (_, deliveries) = fold_with(config, &records);
    assert_eq!(room_presence(&deliveries).len(), 3);
}

#[test]
fn an_mqtt_member_hears_by_its_chat_topic_and_is_heard_as_mqtt() {
    let topic = format!("app/carol/chat/{ROOM}");
    let mut records = alice_and_bob();
    records.push(connected("carol", "s1", Some(1), T0 + 5));
    records.push(subscribed("carol", "s1", &[topic.as_str()], T0 + 15));
    records.push(join("cB", T0 + 1, T0 + 20, ROOM));
    let heard = heard(&records, 2);
    let to_topic: Vec<&serde_json::Value> = heard
        .iter()
        .filter(|(t, _)| *t == topic)
        .map(|(_, p)| p)
        .collect();
    // Carol's subscription's state, then bob's join, on her chat topic.
    assert_eq!(to_topic.len(), 2, "{heard:?}");
    assert_eq!(to_topic[0]["type"], "presence_state");
    assert_eq!(to_topic[1]["clientId"], "bob");
    let carol_joined = heard
        .iter()
        .find(|(t, p)| t == "cA" && p["clientId"] == "carol")
        .unwrap();
    assert_eq!(carol_joined.1["event"], "join");
    assert_eq!(carol_joined.1["via"], json!(["mqtt"]));
}

/// Connections with their client and connect time, all live throughout.
const CONNS: &[(&str, &str, u64)] = &[("w1", "c1", 0), ("w2", "c2", 1), ("w3", "c3", 2)];

fn membership_write() -> impl Strategy<Value = Record> {
    (prop::sample::select(CONNS), any::<bool>(), 0u64..20).prop_map(
        |((conn, _, at), joins, step)| {
            let (at, ts) = (T0 + at, T0 + 100 + step * 1_000);
            if joins {
                join(conn, at, ts, ROOM)
            } else {
                leave(conn, at, ts, ROOM)
            }
        },
    )
}

/// Each connection's picture of the room, from its presence deliveries: a `presence_state`
/// sets it, a `join` adds a member it must not hold, a `leave` removes one it must hold.
fn pictures(
    heard: &[(String, serde_json::Value)],
) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut pictures: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (conn, p) in heard {
        let picture = pictures.entry(conn.clone()).or_default();
        match (p["type"].as_str(), p["event"].as_str()) {
            (Some("presence_state"), _) => {
                *picture = p["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["clientId"].as_str().unwrap().to_owned())
                    .collect();
            }
            (_, Some("join")) => {
                if !picture.insert(p["clientId"].as_str().unwrap().to_owned()) {
                    return Err(format!("{conn} heard a second join of {}", p["clientId"]));
                }
            }
            (_, Some("leave")) => {
                if !picture.remove(p["clientId"].as_str().unwrap()) {
                    return Err(format!(
                        "{conn} heard a leave of {} it did not know",
                        p["clientId"]
                    ));
                }
            }
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    Ok(pictures)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn what_members_hear_keeps_their_picture_of_the_room_right(
        writes in prop::collection::vec(membership_write(), 0..25),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        batch in 1usize..6,
    ) {
        let mut records: Vec<Record> = CONNS.iter().map(|(c, client, at)| ws_connect(c, client, T0 + at)).collect();
        let mut stream = writes.clone();
        for i in dups.iter().filter(|_| !writes.is_empty()) {
            stream.push(writes[i.index(writes.len())].clone());
        }
        records.extend(stream);
        let heard = heard(&records, batch);
        let pictures = pictures(&heard).map_err(TestCaseError::fail)?;
        // A member now pictures the room as it is.
        let (world, _) = fold(&records);
        let members: BTreeSet<String> = CONNS
            .iter()
            .map(|(_, c, _)| *c)
            .filter(|c| world.client(c).is_some_and(|v| v.rooms.iter().any(|r| r == ROOM)))
            .map(str::to_owned)
            .collect();
        for (conn, client, _) in CONNS {
            if members.contains(*client) {
                prop_assert_eq!(pictures.get(*conn), Some(&members), "{} pictures the room wrong", conn);
            }
        }
    }
}
