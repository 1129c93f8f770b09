//! `EntryRef`, an entry borrowed to encode it without a copy, must encode to the very bytes of
//! the `Entry` it borrows from: stores write one and read back the other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use projections::{Config, Entry, Key, World};

#[test]
fn a_borrowed_entry_encodes_as_the_entry_itself() {
    // Every seed's scenario: IoT and WebSocket clients, rooms, a watch list and telemetry.
    let mut world = World::in_memory(Config::default());
    // (It holds one bad line on purpose, for `processor local`'s quarantine.)
    let lines = include_str!("../../examples/seeds.jsonl").lines();
    for record in lines.filter_map(|line| schemas::decode_json(line.as_bytes()).ok()) {
        world.apply(&record);
    }
    let keys: Vec<Key> = world.keys().collect();
    let mut kinds = std::collections::HashSet::new();
    for key in &keys {
        let owned = world.entry(key).unwrap();
        let borrowed = world.entry_ref(key).unwrap();
        let bytes = rmp_serde::to_vec(&owned).unwrap();
        assert_eq!(rmp_serde::to_vec(&borrowed).unwrap(), bytes, "{key}");
        assert_eq!(rmp_serde::to_vec(&owned.as_ref()).unwrap(), bytes, "{key}");
        assert_eq!(rmp_serde::from_slice::<Entry>(&bytes).unwrap(), owned);
        kinds.insert(std::mem::discriminant(key));
    }
    assert_eq!(kinds.len(), 7, "every kind of entry: {keys:?}");
    assert!(world.entry_ref(&Key::Client("nobody".into())).is_none());
}
