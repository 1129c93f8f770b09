//! Unit tests of `redb_store`.

use super::*;
use crate::store::contract;

#[test]
fn redb_store_round_trips_and_survives_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.redb");
    contract::round_trip(&mut RedbStore::open(&path).unwrap());
    let reopened = RedbStore::open(&path).unwrap();
    assert_eq!(reopened.log_position().unwrap(), 123);
    assert_eq!(
        reopened.load(&[Key::Watermark]).unwrap(),
        vec![Some(Entry::Watermark(42))]
    );
}

#[test]
fn redb_store_prunes_routed_ids() {
    let tmp = tempfile::tempdir().unwrap();
    contract::prunes_routed(&mut RedbStore::open(&tmp.path().join("p.redb")).unwrap());
}

#[test]
fn reads_see_each_commit_at_once_while_it_lands_in_the_background() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.redb");
    let mut store = RedbStore::open(&path).unwrap();
    for i in 1..=50u64 {
        store
            .commit(Commit {
                entries: vec![(
                    Key::Watermark,
                    Encoded::new(&Key::Watermark, projections::EntryRef::Watermark(i)).unwrap(),
                )],
                routed: &[(EventId(u128::from(i)), i)],
                prune_routed_before: i,
                log_position: i,
                durable: false,
            })
            .unwrap();
        // Right after `commit` returns, whether or not the thread has written it yet.
        assert_eq!(
            store.load(&[Key::Watermark]).unwrap(),
            vec![Some(Entry::Watermark(i))]
        );
        let ids = [EventId(u128::from(i)), EventId(u128::from(i - 1))];
        assert_eq!(
            store.routed(&ids).unwrap(),
            HashSet::from([EventId(u128::from(i))]),
            "the commit's own id is routed, the one before it is pruned"
        );
    }
    store.sync().unwrap();
    drop(store);
    let reopened = RedbStore::open(&path).unwrap();
    assert_eq!(reopened.log_position().unwrap(), 50);
}

#[test]
fn a_second_process_cannot_open_the_same_store() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.redb");
    let _first = RedbStore::open(&path).unwrap();
    assert!(RedbStore::open(&path).is_err());
}
