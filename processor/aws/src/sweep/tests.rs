#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Tests fail by panicking.

use super::probe::MemoryProbe;
use super::*;
use crate::feedback::MemoryFeedback;
use crate::store_port::{MemoryRevisionedStore, Write};
use projections::{ConnSummary, LobbyState};

const T0: u64 = 1_700_000_000_000;
const MIN: u64 = 60_000;

/// A lobby of `(id, connected at, closed at)`.
async fn store_with(connections: &[(&str, u64, Option<u64>)]) -> MemoryRevisionedStore {
    let store = MemoryRevisionedStore::new();
    let mut lobby = LobbyState::default();
    for (id, at, closed) in connections {
        let mut summary = ConnSummary {
            client_id: Some(format!("client-of-{id}")),
            ..ConnSummary::default()
        };
        summary.connected_at.add(*at);
        if let Some(closed) = closed {
            summary.closed_at.add(*closed);
        }
        lobby.connections.insert((*id).to_owned(), summary);
    }
    let write = Write {
        key: Key::Lobby,
        entry: Entry::Lobby(lobby),
        expected: None,
        view: None,
    };
    store.commit(&[write]).await.unwrap();
    store
}

fn sweeper(
    store: MemoryRevisionedStore,
    settings: SweepSettings,
) -> Sweeper<MemoryRevisionedStore, MemoryProbe, MemoryFeedback> {
    let feedback = MemoryFeedback::with_shards(&["shardId-0", "shardId-1"]);
    Sweeper::new(store, MemoryProbe::new(), feedback, settings)
}

fn gone_ids(s: &Sweeper<MemoryRevisionedStore, MemoryProbe, MemoryFeedback>) -> Vec<String> {
    s.feedback
        .records()
        .into_iter()
        .map(|g| g.connection_id)
        .collect()
}

#[tokio::test]
async fn an_idle_connection_api_gateway_says_is_gone_is_fed_gone_and_every_shard_ticks() {
    let store = store_with(&[
        ("idle", T0, None),
        ("fresh", T0 + 9 * MIN, None),
        ("closed", T0, Some(T0 + MIN)),
    ])
    .await;
    let s = sweeper(store, SweepSettings::default());
    s.probe.set_gone("idle");
    let now = T0 + 10 * MIN;
    let report = s.sweep(now).await.unwrap();
    assert_eq!(report.ticked, 2);
    assert_eq!((report.open, report.probed, report.gone), (2, 1, 1));
    assert_eq!(s.probe.asked(), ["idle"], "only the idle open one is asked");
    assert_eq!(gone_ids(&s), ["idle"]);
    assert_eq!(s.feedback.records()[0].timestamp, now);
    let ticks = s.feedback.ticks();
    assert_eq!(ticks.len(), 2);
    assert!(ticks.iter().all(|t| t.timestamp == now));
}

#[tokio::test]
async fn reported_activity_defers_the_next_question_by_the_idle_time() {
    let s = sweeper(
        store_with(&[("c", T0, None)]).await,
        SweepSettings::default(),
    );
    s.probe.set_active("c", T0 + 8 * MIN);
    let report = s.sweep(T0 + 10 * MIN).await.unwrap();
    assert_eq!((report.probed, report.gone), (1, 0));
    // Active 8 minutes in: not idle again before 18.
    s.sweep(T0 + 17 * MIN).await.unwrap();
    assert_eq!(s.probe.asked().len(), 1);
    s.sweep(T0 + 18 * MIN).await.unwrap();
    assert_eq!(s.probe.asked().len(), 2);
    // Alive without a reported time: asked again an idle time after the answer.
    let s = sweeper(
        store_with(&[("c", T0, None)]).await,
        SweepSettings::default(),
    );
    s.sweep(T0 + 10 * MIN).await.unwrap();
    s.sweep(T0 + 19 * MIN).await.unwrap();
    assert_eq!(s.probe.asked().len(), 1);
    s.sweep(T0 + 20 * MIN).await.unwrap();
    assert_eq!(s.probe.asked().len(), 2);
    assert!(gone_ids(&s).is_empty());
}

#[tokio::test]
async fn a_connection_past_api_gateways_two_hours_is_gone_without_asking() {
    let s = sweeper(
        store_with(&[("old", T0, None)]).await,
        SweepSettings::default(),
    );
    let report = s.sweep(T0 + 2 * 60 * MIN).await.unwrap();
    assert_eq!((report.expired, report.probed), (1, 0));
    assert!(s.probe.asked().is_empty());
    assert_eq!(gone_ids(&s), ["old"]);
}

#[tokio::test]
async fn over_max_probes_the_longest_idle_are_asked_first_and_the_rest_wait() {
    let store = store_with(&[
        ("b", T0 + MIN, None),
        ("a", T0, None),
        ("c", T0 + 2 * MIN, None),
    ])
    .await;
    let settings = SweepSettings {
        max_probes: 2,
        concurrency: 1,
        ..SweepSettings::default()
    };
    let s = sweeper(store, settings);
    let report = s.sweep(T0 + 30 * MIN).await.unwrap();
    assert_eq!((report.probed, report.deferred), (2, 1));
    assert_eq!(s.probe.asked(), ["a", "b"]);
    // The next sweep asks the one left, not the two just answered.
    s.sweep(T0 + 31 * MIN).await.unwrap();
    assert_eq!(s.probe.asked(), ["a", "b", "c"]);
}

#[tokio::test]
async fn an_empty_table_still_ticks() {
    let s = sweeper(MemoryRevisionedStore::new(), SweepSettings::default());
    let report = s.sweep(T0).await.unwrap();
    assert_eq!((report.ticked, report.open, report.probed), (2, 0, 0));
    assert_eq!(s.feedback.ticks().len(), 2);
}
