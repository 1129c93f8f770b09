//! Unit tests of `dynamodb`.

use super::*;

#[test]
fn a_clients_own_items_are_its_entry_and_its_connections() {
    let seeds: Vec<String> = include_str!("../../../../examples/seeds.jsonl")
        .lines()
        .map(str::to_owned)
        .collect();
    let world = ::tests::aws::expected(&seeds);
    let ids = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut keys = own_keys(&world, &ids(&["alice", "sensor-7", "nobody"]));
    keys.sort();
    assert_eq!(
        keys,
        [
            Key::Client("alice".into()),
            Key::Client("sensor-7".into()),
            Key::Connection("alice-conn".into()),
        ]
    );
}

#[test]
fn a_rebuilt_room_puts_the_members_that_differ_and_deletes_the_rest() {
    use projections::{Lww, Membership, RoomState};
    let config = Config::default();
    let lifetime = item::left_member_lifetime_ms(&config);
    let room = |members: &[(&str, u64, Membership)]| {
        let mut r = RoomState::default();
        for (client, ts, m) in members {
            r.add(client, &Lww::new(*ts, *m));
        }
        r
    };
    let member = |client: &str, ts, m| {
        let key = Key::Member {
            room: "42".into(),
            client: client.into(),
        };
        item::encode_member(&key, &Lww::new(ts, m), lifetime)
    };
    let subscriber = |client: &str, ts, m| {
        let key = Key::Subscriber {
            room: "42".into(),
            client: client.into(),
        };
        item::encode_member(&key, &Lww::new(ts, m), lifetime)
    };
    let sk = |item: &Item| item::get_s(item, "sk").unwrap_or_default().to_owned();
    let rebuilt = room(&[("ann", 5, Membership::Joined), ("bob", 9, Membership::Left)]);

    let room_items = |room: &RoomState| {
        parts(&Key::Room("42".into()), &Entry::Room(room.clone()), &config).unwrap()
    };
    let (puts, deletes) = changes(room_items(&rebuilt), &[]);
    assert_eq!(puts.len(), 2);
    assert!(deletes.is_empty());

    let whole = item::key_of("room#42".into());
    let stored = [
        member("ann", 5, Membership::Joined),
        member("bob", 7, Membership::Joined),
        subscriber("bob", 9, Membership::Left),
        member("cy", 3, Membership::Joined),
        whole,
    ];
    let (puts, deletes) = changes(room_items(&rebuilt), &stored);
    assert_eq!(puts.iter().map(sk).collect::<Vec<_>>(), ["member#bob"]);
    let mut deleted: Vec<String> = deletes.iter().map(sk).collect();
    deleted.sort();
    assert_eq!(deleted, ["member#cy", "state", "subscriber#bob"]);
    assert!(deletes.iter().all(|d| d.len() == 2), "deleted by key");

    // Stored as rebuilt: nothing to do.
    let stored = [
        member("ann", 5, Membership::Joined),
        member("bob", 9, Membership::Left),
    ];
    let (puts, deletes) = changes(room_items(&rebuilt), &stored);
    assert!(puts.is_empty() && deletes.is_empty());
}
