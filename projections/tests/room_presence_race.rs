//! Presence rooms with every shard folded at once: members joining on different shards, whose
//! batches each read the room before the other's write, still hear of each other (one batch or
//! the other reads the room again after its commit and tells what its fold could not see), and
//! a member told twice is told with one id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;
use projections::Delivery;
use proptest::prelude::*;
use schemas::Record;
use std::collections::{BTreeMap, BTreeSet};
use support::rooms::{join, ROOM};
use support::shared::{cut, run_interleaved, Driver, SharedStore};
use support::*;

const CLIENTS: usize = 3;

/// Client `c{i}`'s shard: its `$connect` on `w{i}`, then its join of the presence room at `s`
/// seconds, `times` times (retries).
fn shard(i: usize, s: u64, times: usize) -> Vec<Record> {
    let (conn, client) = (format!("w{i}"), format!("c{i}"));
    let at = T0 + i as u64;
    let mut records = vec![ws_connect(&conn, &client, at)];
    records.extend(std::iter::repeat_n(
        join(&conn, at, at + s * 1000, ROOM),
        times,
    ));
    records
}

/// Each shard cut into batches of `sizes` and run by a driver of its own over one store, their
/// steps interleaved as `schedule` says: every delivery, each once (a consumer skips an id it
/// has had, as at-least-once delivery asks).
fn delivered(shards: &[Vec<Record>], sizes: &[usize], schedule: &[usize]) -> Vec<Delivery> {
    let mut drivers: Vec<Driver> = shards.iter().map(|s| Driver::new(cut(s, sizes))).collect();
    let mut store = SharedStore::default();
    run_interleaved(&mut drivers, &mut store, schedule);
    let mut ids = BTreeSet::new();
    drivers
        .into_iter()
        .flat_map(|d| d.delivered)
        .filter(|d| ids.insert(d.id.clone()))
        .collect()
}

/// Each connection's picture of the room's members, from the states and joins it heard: the
/// members it was told of, in whatever order the batches' deliveries came.
fn pictures(deliveries: &[Delivery]) -> BTreeMap<String, BTreeSet<String>> {
    let mut pictures: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for d in deliveries {
        let p = &d.payload;
        let picture = pictures.entry(d.channel.target().to_owned()).or_default();
        match (p["type"].as_str(), p["event"].as_str()) {
            (Some("presence_state"), _) => {
                let members = p["members"].as_array().unwrap().iter();
                picture.extend(members.map(|m| m["clientId"].as_str().unwrap().to_owned()));
            }
            (Some("presence"), Some("join")) => {
                picture.insert(p["clientId"].as_str().unwrap().to_owned());
            }
            (Some("presence"), other) => panic!("only joins here, not {other:?}: {p}"),
            _ => {}
        }
    }
    pictures
}

fn everyone() -> BTreeSet<String> {
    (0..CLIENTS).map(|i| format!("c{i}")).collect()
}

#[test]
fn two_joins_whose_batches_each_read_the_room_before_the_other_wrote_hear_each_other() {
    let shards = [shard(0, 1, 1), shard(1, 2, 1)];
    // One batch each; every step of one driver's batch after the other's reads: both fold
    // (reading the room) before either commits.
    let mut drivers: Vec<Driver> = shards
        .iter()
        .map(|s| Driver::new(vec![s.clone()]))
        .collect();
    let mut store = SharedStore::default();
    run_interleaved(
        &mut drivers,
        &mut store,
        &[0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
    );
    let deliveries: Vec<Delivery> = drivers.into_iter().flat_map(|d| d.delivered).collect();
    let pictures = pictures(&deliveries);
    let both: BTreeSet<String> = ["c0", "c1"].map(str::to_owned).into();
    assert_eq!(pictures.get("w0"), Some(&both), "{deliveries:#?}");
    assert_eq!(pictures.get("w1"), Some(&both), "{deliveries:#?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn members_joining_on_shards_folded_at_once_all_hear_of_each_other(
        joins in prop::collection::vec((1u64..600, 1usize..3), CLIENTS),
        sizes in prop::collection::vec(1usize..4, 1..4),
        schedule in prop::collection::vec(0usize..CLIENTS, 0..120),
    ) {
        let shards: Vec<Vec<Record>> = joins
            .iter()
            .enumerate()
            .map(|(i, (s, times))| shard(i, *s, *times))
            .collect();
        let deliveries = delivered(&shards, &sizes, &schedule);
        // Told twice, a member is told with one id: no join reaches a connection twice.
        let mut heard = BTreeSet::new();
        for d in deliveries.iter().filter(|d| d.payload["event"] == "join") {
            let about = d.payload["clientId"].as_str().unwrap();
            prop_assert!(heard.insert((d.channel.target(), about)), "{} heard {} join twice", d.channel.target(), about);
        }
        let pictures = pictures(&deliveries);
        for i in 0..CLIENTS {
            let conn = format!("w{i}");
            prop_assert_eq!(pictures.get(&conn), Some(&everyone()), "{} pictures the room wrong", conn);
        }
    }
}
