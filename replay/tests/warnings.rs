//! What `replay` warns of (and still succeeds): a source with no records, a window no record can
//! be in, a `--client` with no events (with a client of the same name in another case), and no
//! empty explain page; and what it refuses before folding: an output it cannot write.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use std::path::Path;
use std::process::Output;

/// `replay rebuild` of `from` to stdout, with `extra` flags.
fn rebuild(from: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "rebuild",
        "--from",
        from.to_str().unwrap(),
        "--to",
        "jsonl:-",
    ];
    args.extend_from_slice(extra);
    replay_bin(&args)
}

/// `replay explain` of `client` in `from`, with its page to `html`.
fn explain(from: &Path, client: &str, html: &Path) -> Output {
    replay_bin(&[
        "explain",
        "--from",
        from.to_str().unwrap(),
        "--client",
        client,
        "--html",
        html.to_str().unwrap(),
    ])
}

#[test]
fn an_empty_source_and_an_empty_window_are_said() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = write(tmp.path(), "empty.jsonl", b"");
    let out = rebuild(&empty, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: ") && err.contains("empty.jsonl holds no records"),
        "{err}"
    );

    let seeds = write(tmp.path(), "seeds.jsonl", seeds().join("\n").as_bytes());
    let out = rebuild(
        &seeds,
        &[
            "--since",
            "2024-11-23T09:00:00Z",
            "--until",
            "2024-11-23T08:00:00Z",
            "--quiet",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "warning: --since 2024-11-23T09:00:00.000Z is after --until \
             2024-11-23T08:00:00.000Z: no record can be in the window"
        ),
        "{err}"
    );
    assert!(err.contains("warning: none of the 20 records of"), "{err}");
    assert!(err.contains("is in the time window"), "{err}");
}

#[test]
fn a_client_with_no_events_is_said_with_a_near_name_and_gets_no_page() {
    let tmp = tempfile::tempdir().unwrap();
    let seeds = write(tmp.path(), "seeds.jsonl", seeds().join("\n").as_bytes());
    let html = tmp.path().join("Bob.html");
    let out = explain(&seeds, "Bob", &html);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "warning: no events about client \"Bob\" in the source and window; \
             did you mean \"bob\"?"
        ),
        "{err}"
    );
    assert!(!html.exists(), "an empty page was written");

    let out = rebuild(&seeds, &["--client", "bob", "--client", "nobody"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: no events about client \"nobody\" in the source and window\n"),
        "{err}"
    );
    assert_eq!(stdout(&out).lines().count(), 1, "bob's projection");
}

#[test]
fn an_output_that_cannot_be_written_fails_before_the_fold() {
    let tmp = tempfile::tempdir().unwrap();
    let seeds = write(tmp.path(), "seeds.jsonl", seeds().join("\n").as_bytes());
    let missing = tmp.path().join("no-such-dir");
    let to = format!("jsonl:{}", missing.join("p.jsonl").display());
    let out = replay_bin(&["rebuild", "--from", seeds.to_str().unwrap(), "--to", &to]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no-such-dir/p.jsonl"), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
    assert!(!err.contains("events"), "the fold ran: {err}");

    let html = missing.join("bob.html");
    let out = explain(&seeds, "bob", &html);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no-such-dir/bob.html"), "{err}");
    assert!(!err.contains("events"), "the fold ran: {err}");
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}
