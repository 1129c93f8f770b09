//! Replay gives exactly what live processing gave: replaying `processor local`'s own log yields
//! the projections it wrote with `--projections-out`, and a `store:` sink produces a store on which
//! `processor local --projections-out` prints those same projections.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use processor::local::LocalArgs;
use std::path::Path;

/// Runs `processor local` (the library entry point) on `input` into `store`, returning the
/// projections file it wrote. Small batches and segments, so the log has several segments and
/// the store was compacted between batches.
fn processor_local(input: &Path, store: &Path, out: &Path) -> String {
    let args = LocalArgs {
        input: input.to_owned(),
        store: store.to_owned(),
        projections_out: Some(out.to_owned()),
        batch_size: 250,
        fold: fold_flags::FoldFlags {
            chat_topic: projections::TopicPattern::default(),
            reset_horizon: 30 * 60 * 1000,
            history: projections::config::DEFAULT_HISTORY_MS,
            history_max: projections::config::DEFAULT_HISTORY_MAX,
            presence_rooms: projections::config::DEFAULT_PRESENCE_ROOMS.to_owned(),
            presence_grace: 0,
            rate_limit: 10,
            rate_burst: 20,
            joins_per_minute: 30,
            message_max_bytes: 128 * 1024,
        },
        routed_retention: 24 * 60 * 60 * 1000,
        quiet: true,
        segment_bytes: 64 * 1024,
    };
    processor::local::run(&args).unwrap();
    std::fs::read_to_string(out).unwrap()
}

/// IoT lifecycle only: this stream causes no deliveries, so `processor local` prints nothing.
fn iot_lines() -> Vec<String> {
    tests::workload::iot_lifecycle_lines(4_000, 150, 5)
}

#[test]
fn replaying_the_local_log_gives_what_processor_local_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write(tmp.path(), "in.jsonl", iot_lines().join("\n").as_bytes());
    let store = tmp.path().join("store");
    let live = processor_local(&input, &store, &tmp.path().join("live.jsonl"));
    assert!(live.lines().count() > 100);
    let segments = std::fs::read_dir(store.join("log")).unwrap().count();
    assert!(
        segments > 1,
        "expected several log segments, got {segments}"
    );

    // The store directory (its log/ is read) and the log directory itself.
    for from in [store.clone(), store.join("log")] {
        let got = rebuild(tmp.path(), &["--from", from.to_str().unwrap()]);
        assert_eq!(got, live, "replaying {}", from.display());
    }
}

#[test]
fn a_store_sink_serves_processor_local_the_same_projections() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write(tmp.path(), "in.jsonl", iot_lines().join("\n").as_bytes());
    let live = processor_local(
        &input,
        &tmp.path().join("live"),
        &tmp.path().join("live.jsonl"),
    );

    let rebuilt = tmp.path().join("rebuilt");
    let to = format!("store:{}", rebuilt.display());
    let cli = <replay::cli::Cli as clap::Parser>::try_parse_from([
        "replay",
        "rebuild",
        "--quiet",
        "--from",
        input.to_str().unwrap(),
        "--to",
        &to,
    ])
    .unwrap();
    replay::run(&cli.command).unwrap();

    let empty = write(tmp.path(), "empty.jsonl", b"");
    let served = processor_local(&empty, &rebuilt, &tmp.path().join("served.jsonl"));
    assert_eq!(served, live);

    // A second rebuild into the same store is refused: nothing old is mixed in.
    let cli = <replay::cli::Cli as clap::Parser>::try_parse_from([
        "replay",
        "rebuild",
        "--quiet",
        "--from",
        input.to_str().unwrap(),
        "--to",
        &to,
    ])
    .unwrap();
    let err = replay::run(&cli.command).unwrap_err();
    assert!(err.to_string().contains("already holds a store"), "{err}");
}
