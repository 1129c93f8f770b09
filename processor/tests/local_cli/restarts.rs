//! Running again: on the same input, after a torn log tail, with a store behind its log, and a
//! duplicate within one batch.

use crate::{chat, connected, iot, projections, run_on, write_input, ws};
use serde_json::Value;
use std::io::Write;

#[test]
fn running_twice_on_the_same_input_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_input(tmp.path(), &format!("{}\n{}", iot(), chat()));
    let first_out = tmp.path().join("first.jsonl");
    let second_out = tmp.path().join("second.jsonl");

    let first = run_on(
        tmp.path(),
        &input,
        &["--projections-out", first_out.to_str().unwrap()],
    );
    assert_eq!(first.code(), 0, "{}", first.stderr());
    assert_eq!(first.deliveries().len(), 2);

    let second = run_on(
        tmp.path(),
        &input,
        &["--projections-out", second_out.to_str().unwrap()],
    );
    assert_eq!(second.code(), 0, "{}", second.stderr());
    assert_eq!(second.stdout(), "", "deliveries are not printed twice");
    assert!(
        second.stderr().contains("2 skipped as already routed"),
        "{}",
        second.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(&first_out).unwrap(),
        std::fs::read_to_string(&second_out).unwrap()
    );
}

#[test]
fn a_duplicate_within_one_batch_routes_once() {
    let tmp = tempfile::tempdir().unwrap();
    let message = ws(
        "MESSAGE",
        "sendmessage",
        "ca",
        "alice",
        1_002,
        Some(r#"{"action":"sendmessage","message":"hi"}"#),
    );
    let text = [chat(), message].join("\n");
    let input = write_input(tmp.path(), &text);
    let run = run_on(tmp.path(), &input, &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.deliveries().len(), 2, "{}", run.stdout());
    assert!(
        run.stderr().contains("1 skipped as already routed"),
        "{}",
        run.stderr()
    );
}

#[test]
fn cuts_a_torn_log_tail_and_keeps_going() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_input(tmp.path(), &iot());
    assert_eq!(run_on(tmp.path(), &input, &[]).code(), 0);
    // A crash in the middle of an append leaves part of a frame.
    let segment = tmp.path().join("data/log/00000000000000000000.seg");
    let before = std::fs::metadata(&segment).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    f.write_all(&[40, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(f);

    let run = run_on(tmp.path(), &input, &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stderr().contains("cut 7 bytes"), "{}", run.stderr());
    assert!(std::fs::metadata(&segment).unwrap().len() > before);
}

#[test]
fn folds_what_the_log_has_and_the_store_missed() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("data/projections.redb");
    let saved = tmp.path().join("saved.redb");
    let out = tmp.path().join("clients.jsonl");
    let input = write_input(tmp.path(), &connected("early", "s1", 1, 1_000));
    assert_eq!(run_on(tmp.path(), &input, &[]).code(), 0);
    std::fs::copy(&db, &saved).unwrap();
    let later = tmp.path().join("later.jsonl");
    std::fs::write(&later, iot()).unwrap();
    assert_eq!(run_on(tmp.path(), &later, &[]).code(), 0);
    // As if the process had died after logging the second run's batch but before committing it.
    std::fs::copy(&saved, &db).unwrap();

    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let run = run_on(
        tmp.path(),
        &empty,
        &["--projections-out", out.to_str().unwrap()],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains("folded 4 records"),
        "{}",
        run.stderr()
    );
    let ids: Vec<Value> = projections(&out)
        .iter()
        .map(|c| c["clientId"].clone())
        .collect();
    assert_eq!(ids, vec!["dev1", "dev2", "early"]);
}
