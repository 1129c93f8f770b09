//! What `processor local` says when it cannot run: each cause once, a missing input that makes
//! no store, a file where the store should be, a store another processor holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dev_support;
mod support;

use dev_support::Dev;
use std::path::Path;
use std::process::{Command, Output};

fn local(input: &Path, store: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_processor"))
        .args(["local", "--quiet", "--input"])
        .arg(input)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn seeds() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/seeds.jsonl"
    ))
}

#[test]
fn a_missing_input_says_why_once_and_makes_no_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = local(&tmp.path().join("nope.jsonl"), &store);
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert_eq!(
        said.matches("No such file or directory").count(),
        1,
        "{said}"
    );
    assert!(said.contains("nope.jsonl"), "{said}");
    assert!(
        !store.exists(),
        "a store was made for an input that is not there"
    );
}

#[test]
fn a_file_where_the_store_should_be_is_not_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("store");
    std::fs::write(&file, b"not a store").unwrap();
    let out = local(seeds(), &file);
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(said.contains("not a directory"), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");
}

#[test]
fn a_store_another_processor_holds_is_busy() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let mut dev = Dev::start_in(&store);
    let out = local(seeds(), &store);
    dev.interrupt();
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains("busy: is another processor running on it?"),
        "{said}"
    );
}
