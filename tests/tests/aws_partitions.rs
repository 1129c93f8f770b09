//! Rooms, devices and the lobby as partitions of small items, against DynamoDB in the emulator
//! (moto): no item grows with a room, a device's watchers or the fleet, members written in any
//! order keep the newer register, and a room or a lobby an earlier release wrote as one item
//! still counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_adapters::cost::item_size;
use aws_adapters::item::{self, Item};
use aws_adapters::sink_port::RecordingSink;
use aws_adapters::store_port::{RevisionedStore, Write};
use projections::{Channel, ConnSummary, Entry, Key, LobbyState, Lww, Membership, Min, RoomState};
use serde_json::json;
use tests::aws::{
    assert_stored_as_folded, batch, fixture, handler, ws_connect, ws_message, Fixture,
};

const T: u64 = 1_732_350_000_000;

/// `n` connections `c{i}` of clients `u{i}`, each then sending `body`.
fn connect_and_send(n: u64, body: serde_json::Value) -> Vec<String> {
    let mut lines: Vec<String> = (0..n)
        .map(|i| ws_connect(&format!("c{i}"), &format!("u{i}"), T + i))
        .collect();
    lines.extend((0..n).map(|i| ws_message(&format!("c{i}"), T + i, T + 1_000 + i, body.clone())));
    lines
}

/// Asserts that `items` are `n` parts whose sort keys start with `prefix`, each under 100 bytes.
fn assert_small_parts(items: &[Item], n: u64, prefix: &str) {
    assert_eq!(items.len(), n as usize);
    assert!(items
        .iter()
        .all(|i| item::get_s(i, "sk").is_some_and(|sk| sk.starts_with(prefix))));
    let largest = items.iter().map(item_size).max().unwrap_or(0);
    assert!(largest < 100, "a {prefix} item of {largest} bytes");
}

/// Writes `entry` as one item, as an earlier release wrote rooms and the lobby.
async fn write_whole(f: &Fixture, key: Key, entry: Entry) {
    let whole = Write {
        key,
        entry,
        expected: None,
        view: None,
    };
    let permits = tokio::sync::Semaphore::new(1);
    f.store
        .batch_write(&permits, vec![item::encode(&whole, 1).unwrap()])
        .await
        .unwrap();
}

/// Every item of the partition `pk`.
async fn partition(f: &Fixture, pk: &str) -> Vec<Item> {
    f.dynamo
        .query()
        .table_name(&f.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

async fn room(f: &Fixture, id: &str) -> RoomState {
    let loaded = f.store.load_many(&[Key::Room(id.into())]).await.unwrap();
    match loaded.into_iter().next().and_then(|l| l.entry) {
        Some(Entry::Room(room)) => room,
        other => panic!("room {id}: {other:?}"),
    }
}

fn member_write(room: &str, client: &str, ts: u64, value: Membership) -> Write {
    Write {
        key: Key::Member {
            room: room.into(),
            client: client.into(),
        },
        entry: Entry::Member(Lww::new(ts, value)),
        expected: None,
        view: None,
    }
}

#[tokio::test]
async fn a_room_is_one_small_item_per_member_and_a_message_reaches_every_one() {
    let f = fixture(1).await.unwrap();
    let n = 300u64;
    let mut lines = connect_and_send(n, json!({"action":"join","chatId":"big"}));
    let h = handler(f.store.clone(), RecordingSink::new());
    let joined = h.handle(&batch("shardId-000000000000", &lines)).await;
    assert_eq!(joined.failed_at, None, "{:?}", joined.failure);

    assert_small_parts(&partition(&f, "room#big").await, n, item::MEMBER);

    let message = ws_message(
        "c0",
        T,
        T + 5_000,
        json!({"action":"sendmessage","chatId":"big","message":"hi"}),
    );
    let sent = h
        .handle(&batch(
            "shardId-000000000000",
            std::slice::from_ref(&message),
        ))
        .await;
    assert_eq!(sent.failed_at, None, "{:?}", sent.failure);
    let sockets = h
        .sink
        .sent()
        .iter()
        .filter(|d| matches!(d.channel, Channel::WebSocket { .. }))
        .count();
    assert_eq!(sockets, n as usize - 1, "every member but the sender");
    lines.push(message);
    assert_stored_as_folded(f.store.as_ref(), &lines).await;
}

#[tokio::test]
async fn members_written_in_any_order_keep_the_newer_register() {
    let f = fixture(1).await.unwrap();
    let store = f.store.as_ref();
    // Newer first, then older: the older one finds its condition failed and changes nothing.
    let newer = member_write("r", "bob", T + 20, Membership::Left);
    let older = member_write("r", "bob", T + 10, Membership::Joined);
    for write in [newer, older] {
        let out = store.commit(std::slice::from_ref(&write)).await.unwrap();
        assert!(out.conflicts.is_empty(), "a member never conflicts");
    }
    // At equal times leaving wins, whichever comes first, and in one commit too.
    let join = |client| member_write("r", client, T + 30, Membership::Joined);
    let leave = |client| member_write("r", client, T + 30, Membership::Left);
    for writes in [[leave("ann")], [join("ann")], [join("cy")], [leave("cy")]] {
        store.commit(&writes).await.unwrap();
    }
    store.commit(&[join("dee"), leave("dee")]).await.unwrap();
    store.commit(&[join("eve")]).await.unwrap();

    let r = room(&f, "r").await;
    assert_eq!(r.member("bob"), Some(&Lww::new(T + 20, Membership::Left)));
    assert_eq!(r.member("ann"), Some(&Lww::new(T + 30, Membership::Left)));
    assert_eq!(r.member("cy"), Some(&Lww::new(T + 30, Membership::Left)));
    assert_eq!(r.member("dee"), Some(&Lww::new(T + 30, Membership::Left)));
    assert_eq!(r.joined().collect::<Vec<_>>(), ["eve"]);

    // A member that left goes from the table once no record can come that it overrules.
    let items = partition(&f, "room#r").await;
    let ttl = |client: &str| {
        let sk = format!("{}{client}", item::MEMBER);
        let found = items
            .iter()
            .find(|i| item::get_s(i, "sk") == Some(sk.as_str()));
        found.and_then(|i| item::get_n(i, "ttl"))
    };
    let lifetime = item::left_member_lifetime_ms(&projections::Config::default());
    assert_eq!(ttl("bob"), Some((T + 20 + lifetime) / 1000));
    assert_eq!(ttl("eve"), None, "a member stays while joined");
}

#[tokio::test]
async fn a_room_an_earlier_release_wrote_whole_is_read_as_one_more_part() {
    let f = fixture(1).await.unwrap();
    // The item an earlier release wrote: `room#42`, `sk` = `state`, with alice a member.
    let mut old = RoomState::default();
    old.add("alice", &Lww::new(T + 5, Membership::Joined));
    write_whole(&f, Key::Room("42".into()), Entry::Room(old)).await;

    let lines = vec![
        ws_connect("alice-conn", "alice", T),
        ws_connect("bob-conn", "bob", T + 1),
        ws_message(
            "bob-conn",
            T + 1,
            T + 10,
            json!({"action":"join","chatId":"42"}),
        ),
        ws_message(
            "bob-conn",
            T + 1,
            T + 20,
            json!({"action":"sendmessage","chatId":"42","message":"hi"}),
        ),
    ];
    let h = handler(f.store.clone(), RecordingSink::new());
    let report = h.handle(&batch("shardId-000000000000", &lines)).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    let to_alice = h.sink.sent().iter().any(|d| {
        matches!(&d.channel, Channel::WebSocket { connection_id } if connection_id == "alice-conn")
    });
    assert!(to_alice, "the old room's member got the message");
    let r = room(&f, "42").await;
    assert_eq!(r.joined().collect::<Vec<_>>(), ["alice", "bob"]);
    // The old item is read, never written again: bob is a member item of his own.
    let sks: Vec<String> = partition(&f, "room#42")
        .await
        .iter()
        .filter_map(|i| item::get_s(i, "sk").map(str::to_owned))
        .collect();
    let (messages, room): (Vec<&String>, Vec<&String>) =
        sks.iter().partition(|sk| sk.starts_with(item::TIMELINE));
    assert_eq!(room, ["member#bob", "state"]);
    // Bob's message is in the room's history, after its members.
    assert_eq!(messages.len(), 1, "{sks:?}");
}

/// Every item of the lobby's partitions.
async fn lobby_items(f: &Fixture) -> Vec<Item> {
    let mut items = Vec::new();
    for n in 0..item::LOBBY_PARTITIONS {
        items.extend(partition(f, &format!("lobby#{n}")).await);
    }
    items
}

fn sockets(sent: &[projections::Delivery]) -> Vec<String> {
    let mut ids: Vec<String> = sent
        .iter()
        .filter_map(|d| match &d.channel {
            Channel::WebSocket { connection_id } => Some(connection_id.clone()),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn the_lobby_is_one_small_item_per_connection_and_a_broadcast_reaches_every_one() {
    let f = fixture(1).await.unwrap();
    let n = 300u64;
    let mut lines: Vec<String> = (0..n)
        .map(|i| ws_connect(&format!("c{i}"), &format!("u{i}"), T + i))
        .collect();
    let h = handler(f.store.clone(), RecordingSink::new());
    let connected = h.handle(&batch("shardId-000000000000", &lines)).await;
    assert_eq!(connected.failed_at, None, "{:?}", connected.failure);

    assert!(
        partition(&f, "lobby").await.is_empty(),
        "no single lobby item"
    );
    let items = lobby_items(&f).await;
    assert_eq!(items.len(), n as usize);
    let largest = items.iter().map(item_size).max().unwrap_or(0);
    assert!(largest < 150, "a lobby item of {largest} bytes");
    let used = (0..item::LOBBY_PARTITIONS)
        .filter(|n| {
            items
                .iter()
                .any(|i| item::get_s(i, "pk") == Some(&format!("lobby#{n}")))
        })
        .count();
    assert_eq!(
        used as u64,
        item::LOBBY_PARTITIONS,
        "connections spread over every partition"
    );

    // c1 leaves; a broadcast from c0 reaches every other live connection.
    let more = vec![
        json!({"kind":"websocket","schemaVersion":2,"eventType":"DISCONNECT",
            "routeKey":"$disconnect","connectionId":"c1","connectedAt":T + 1,
            "requestTimeEpoch":T + 2_000})
        .to_string(),
        ws_message(
            "c0",
            T,
            T + 3_000,
            json!({"action":"sendmessage","message":"to everyone"}),
        ),
    ];
    let sent = h.handle(&batch("shardId-000000000000", &more)).await;
    assert_eq!(sent.failed_at, None, "{:?}", sent.failure);
    let reached = sockets(&h.sink.sent());
    assert_eq!(
        reached.len(),
        n as usize - 2,
        "all but the sender and the closed one"
    );
    assert!(!reached.contains(&"c1".to_owned()) && !reached.contains(&"c0".to_owned()));
    lines.extend(more);
    assert_stored_as_folded(f.store.as_ref(), &lines).await;
}

#[tokio::test]
async fn a_lobby_an_earlier_release_wrote_whole_is_read_along() {
    let f = fixture(1).await.unwrap();
    let mut old = LobbyState::default();
    old.connections.insert(
        "alice-conn".into(),
        ConnSummary {
            client_id: Some("alice".into()),
            connected_at: Min(Some(T)),
            closed_at: Min(None),
        },
    );
    write_whole(&f, Key::Lobby, Entry::Lobby(old)).await;
    let lines = vec![
        ws_connect("bob-conn", "bob", T + 1),
        ws_message(
            "bob-conn",
            T + 1,
            T + 10,
            json!({"action":"sendmessage","message":"hi all"}),
        ),
    ];
    let h = handler(f.store.clone(), RecordingSink::new());
    let report = h.handle(&batch("shardId-000000000000", &lines)).await;
    assert_eq!(report.failed_at, None, "{:?}", report.failure);
    assert_eq!(sockets(&h.sink.sent()), ["alice-conn"]);
}

#[tokio::test]
async fn a_device_is_one_small_item_per_watcher_and_telemetry_reaches_every_one() {
    let f = fixture(1).await.unwrap();
    let n = 300u64;
    let mut lines = connect_and_send(n, json!({"action":"set_notify_list","devices":["d1"]}));
    let h = handler(f.store.clone(), RecordingSink::new());
    let watched = h.handle(&batch("shardId-000000000000", &lines)).await;
    assert_eq!(watched.failed_at, None, "{:?}", watched.failure);

    assert_small_parts(&partition(&f, "device#d1").await, n, item::WATCHER);

    let reading = json!({"deviceId":"d1","timestamp":T + 5_000,"parameters":{"temp":21}});
    let sent = h
        .handle(&batch("shardId-000000000000", &[reading.to_string()]))
        .await;
    assert_eq!(sent.failed_at, None, "{:?}", sent.failure);
    assert_eq!(sockets(&h.sink.sent()).len(), n as usize);
    lines.push(reading.to_string());
    assert_stored_as_folded(f.store.as_ref(), &lines).await;
}
