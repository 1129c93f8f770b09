//! Black-box tests of the `replay` binary: corrupt records reported by line or byte offset,
//! `--strict`, the clear rejection of what needs the AWS adapter, and `explain` in text, JSON
//! and HTML.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;

#[test]
fn corrupt_records_are_reported_by_line_and_skipped_or_fatal_with_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "seeds.jsonl", seeds().join("\n").as_bytes());
    let from = path.to_str().unwrap();

    let out = replay_bin(&["rebuild", "--from", from, "--to", "jsonl:-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("seeds.jsonl (line 19)"), "{err}");
    assert!(err.contains("field `timestamp`"), "{err}");
    assert!(err.contains("1 corrupt skipped"), "{err}");
    assert!(err.contains("6 clients"), "{err}");
    assert_eq!(stdout(&out).lines().count(), 6);

    let out = replay_bin(&["rebuild", "--from", from, "--to", "jsonl:-", "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("(--strict)"), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 19"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn corrupt_frames_and_concatenated_json_are_reported_by_byte_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = workload();
    let mut frames = frames(&lines[..10]);
    let good = frames.len();
    frames.extend(common::frames(&lines[10..11]));
    let last = frames.len() - 1;
    frames[last] ^= 0xff; // the 11th frame's payload no longer matches its CRC
    let path = write(tmp.path(), "damaged.frames", &frames);
    let out = replay_bin(&[
        "rebuild",
        "--from",
        path.to_str().unwrap(),
        "--to",
        "jsonl:-",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("damaged.frames (byte {good})")),
        "{err}"
    );
    assert!(err.contains("CRC mismatch"), "{err}");
    assert!(err.contains("replay: 10 events"), "{err}");

    let concat = format!("{}{{\"eventType\":\"connected\"}}{}", lines[0], lines[1]);
    let path = write(tmp.path(), "firehose-object", concat.as_bytes());
    let out = replay_bin(&[
        "rebuild",
        "--from",
        path.to_str().unwrap(),
        "--to",
        "jsonl:-",
    ]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("firehose-object (byte {})", lines[0].len())),
        "{err}"
    );
    assert!(err.contains("missing required field"), "{err}");
    assert!(err.contains("replay: 2 events"), "{err}");
}

#[test]
fn a_truncated_gzip_file_is_reported_and_skipped_and_the_next_file_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = workload();
    let whole = gzip(lines[..200].join("\n").as_bytes());
    // Cut in the middle: what decodes before the cut applies, the cut is reported where it is.
    write(tmp.path(), "a.jsonl.gz", &whole[..whole.len() / 2]);
    write(tmp.path(), "b.jsonl", lines[200..210].join("\n").as_bytes());
    let dir = tmp.path().to_str().unwrap();

    let out = replay_bin(&["rebuild", "--from", dir, "--to", "jsonl:-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("a.jsonl.gz"), "{err}");
    assert!(
        err.contains(
            "gzip stream cut short: incomplete deflate stream; the records before it are kept"
        ),
        "{err}"
    );
    // The cut, and the record it tore (unless it fell between two).
    assert!(
        err.contains("2 corrupt skipped") || err.contains("1 corrupt skipped"),
        "{err}"
    );
    let events: usize = err
        .split("replay: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no event count in {err}"));
    assert!(events > 10 && events < 210, "{events} events: {err}");

    let out = replay_bin(&["rebuild", "--from", dir, "--to", "jsonl:-", "--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("(--strict)"), "{}", stderr(&out));
}

#[test]
fn aws_sources_and_sinks_report_unreachable_endpoints_with_exit_code_1() {
    // Nothing listens on port 9 of loopback: each AWS adapter fails at its first request
    // (after the SDK's retries), as a runtime failure, naming the operation.
    let endpoint = "http://127.0.0.1:9";
    for (args, op) in [
        (
            &[
                "rebuild",
                "--from",
                "s3://archive/firehose/",
                "--to",
                "jsonl:-",
            ][..],
            "ListObjectsV2 s3://archive/firehose/",
        ),
        (
            &[
                "rebuild",
                "--from",
                "kinesis://raw-events",
                "--to",
                "jsonl:-",
            ],
            "ListShards kinesis://raw-events",
        ),
        (
            &[
                "rebuild",
                "--from",
                "/nonexistent",
                "--to",
                "dynamodb://presence",
            ],
            "DescribeTable",
        ),
    ] {
        let mut argv = args.to_vec();
        argv.extend(["--endpoint-url", endpoint]);
        let out = replay_bin_env(&argv);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(op), "{args:?}: {}", stderr(&out));
    }
    let out = replay_bin(&["diff", "--from", "x", "--table", "dynamodb://"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn explain_names_the_takeover_candidates_and_the_winner() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "seeds.jsonl", seeds().join("\n").as_bytes());
    let from = path.to_str().unwrap();
    let (old, new) = (
        "5e75e700-0000-4000-8000-000000000005",
        "5e75e700-0000-4000-8000-000000000006",
    );

    let out = replay_bin(&["explain", "--from", from, "--client", "sensor-7"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // The takeover's late DUPLICATE_CLIENTID disconnect changes nothing, so tells no watcher.
    assert!(
        text.contains(
            "presence event: late disconnect of an older session: presence unchanged \
             (connected), nothing sent"
        ),
        "{text}"
    );
    assert!(
        text.contains("presence event: not connected -> connected"),
        "{text}"
    );
    assert!(
        text.contains(&format!("candidate {old}: version 5")),
        "{text}"
    );
    assert!(
        text.contains(&format!("candidate {new}: version 6")),
        "{text}"
    );
    assert!(
        text.contains(&format!("winner: {new}: highest versionNumber")),
        "{text}"
    );
    assert!(text.contains("DUPLICATE_CLIENTID"), "{text}");

    let out = replay_bin(&[
        "explain", "--from", from, "--client", "sensor-7", "--format", "json",
    ]);
    let steps: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(steps.len(), 3);
    let last = &steps[2];
    assert_eq!(last["kind"], "disconnected");
    assert_eq!(last["presence"]["current"], new);
    let candidates: Vec<&str> = last["presence"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["session"].as_str().unwrap())
        .collect();
    assert_eq!(candidates, [old, new]);
    assert_eq!(last["state"]["connected"], true);
    assert_eq!(last["state"]["sessionId"], new);
}

#[test]
fn explain_says_why_a_message_became_a_push_and_the_html_is_self_contained() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "seeds.jsonl", seeds().join("\n").as_bytes());
    let html = tmp.path().join("bob.html");
    let out = replay_bin(&[
        "explain",
        "--from",
        path.to_str().unwrap(),
        "--client",
        "bob",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("delivery: push to bob"), "{text}");
    assert!(
        text.contains("no live WebSocket connection and no IoT session subscribed"),
        "{text}"
    );
    assert!(text.contains("delivery: mqtt to app/bob/chat/42"), "{text}");
    // bob's keep-alive timeout at 08:21:01 is the last time he was seen.
    assert!(
        text.contains("offline (last seen 2024-11-23T08:21:01.000Z)"),
        "{text}"
    );

    let page = std::fs::read_to_string(html).unwrap();
    assert!(page.contains("offline, last seen <span class=\"t\">2024-11-23T08:21:01.000Z</span>"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<svg"), "no chart");
    // The only session: its label is its id's beginning, the whole id in the tooltip.
    assert!(
        page.contains("v1 · b0b00000-0000-4000-8000…"),
        "session bar label"
    );
    assert!(
        page.contains("<title>b0b00000-0000-4000-8000-000000000001</title>"),
        "session tooltip"
    );
    assert!(page.contains("class=\"push\""), "push marker");
    for external in [
        "http:", "https:", "<script", "src=", "<link", "@import", "url(",
    ] {
        assert!(!page.contains(external), "the page refers to {external}");
    }
}

#[test]
fn explain_shows_a_catch_up_delivery_and_why() {
    // dana's join at +1 s is on a shard that lagged: the file has it after erin's message at
    // +10 s, which dana was a member at.
    let t = 1_732_350_000_000u64;
    let ws = |conn: &str, route: &str, at: u64, body: Option<&str>| {
        let mut line = serde_json::json!({"kind":"websocket","schemaVersion":2,
            "eventType": if route == "$connect" { "CONNECT" } else { "MESSAGE" },
            "routeKey":route,"connectionId":conn,"connectedAt":t,"requestTimeEpoch":at});
        if route == "$connect" {
            line["clientId"] = conn.trim_end_matches("-conn").into();
        }
        if let Some(body) = body {
            line["body"] = body.into();
        }
        line.to_string()
    };
    let lines = [
        ws("dana-conn", "$connect", t, None),
        ws("erin-conn", "$connect", t, None),
        ws(
            "erin-conn",
            "join",
            t + 5_000,
            Some(r#"{"action":"join","chatId":"7"}"#),
        ),
        ws(
            "erin-conn",
            "sendmessage",
            t + 10_000,
            Some(r#"{"action":"sendmessage","chatId":"7","message":"you there?"}"#),
        ),
        ws(
            "dana-conn",
            "join",
            t + 1_000,
            Some(r#"{"action":"join","chatId":"7"}"#),
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "late.jsonl", lines.join("\n").as_bytes());
    let out = replay_bin(&[
        "explain",
        "--from",
        path.to_str().unwrap(),
        "--client",
        "dana",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("delivery: websocket to dana-conn"), "{text}");
    let why = format!(
        "catch-up from room 7's history: joined at {}, processed after the message sent at {}",
        t + 1_000,
        t + 10_000
    );
    assert!(text.contains(&why), "{text}");
}

#[test]
fn explain_says_when_a_members_presence_rooms_heard_it_go_offline_and_when_nothing_was_sent() {
    use tests::aws::{ws_connect, ws_disconnect, ws_message};
    let t = 1_732_350_000_000u64;
    let join = serde_json::json!({"action":"join","chatId":"presence-7"});
    let lines = [
        ws_connect("alice-conn", "alice", t),
        ws_connect("bob-conn", "bob", t + 10),
        ws_message("alice-conn", t, t + 20, join.clone()),
        ws_message("bob-conn", t + 10, t + 30, join),
        // A second socket, then the first closes: bob stays online.
        ws_connect("bob-2", "bob", t + 40),
        ws_disconnect("bob-conn", t + 10, t + 50),
        ws_disconnect("bob-2", t + 40, t + 60),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "room.jsonl", lines.join("\n").as_bytes());
    let from = path.to_str().unwrap();
    let out = replay_bin(&["explain", "--from", from, "--client", "bob"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "room presence: online, as its presence rooms (presence-7) last heard: nothing sent"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "room presence: offline: its presence rooms (presence-7) heard `offline` (1 delivery)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "delivery: websocket to alice-conn (client alice): bob went offline in presence room \
             presence-7; member with live WebSocket connection alice-conn -> socket"
        ),
        "{text}"
    );
}

#[test]
fn explain_says_when_an_offline_is_put_off_for_the_presence_grace() {
    use tests::aws::{ws_connect, ws_disconnect, ws_message};
    let t = 1_732_350_000_000u64;
    let join = serde_json::json!({"action":"join","chatId":"presence-7"});
    let tick = serde_json::json!({"kind":"tick","schemaVersion":1,"shardId":"shardId-1",
        "timestamp":t + 20_000});
    let lines = [
        ws_connect("alice-conn", "alice", t),
        ws_connect("bob-conn", "bob", t + 10),
        ws_message("alice-conn", t, t + 20, join.clone()),
        ws_message("bob-conn", t + 10, t + 30, join),
        ws_disconnect("bob-conn", t + 10, t + 50),
        tick.to_string(),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "grace.jsonl", lines.join("\n").as_bytes());
    let from = path.to_str().unwrap();
    let args = [
        "explain",
        "--from",
        from,
        "--client",
        "bob",
        "--presence-grace",
        "10s",
    ];
    let out = replay_bin(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "room presence: offline, but its presence rooms (presence-7) last heard online: put \
             off for the presence grace"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "delivery: websocket to alice-conn (client alice): bob went offline in presence room \
             presence-7"
        ),
        "{text}"
    );
}

#[test]
fn explain_says_what_a_token_did_not_grant() {
    use tests::aws::{ws_connect, ws_message};
    let t = 1_732_350_000_000u64;
    // Alice's token grants room r1 only: API Gateway gives every record its authorizer context.
    let claimed = |line: String| {
        let mut v: Value = serde_json::from_str(&line).unwrap();
        v["authorizer"] = serde_json::json!({"principalId": "alice", "rooms": "[\"r1\"]"});
        v.to_string()
    };
    let lines = [
        claimed(ws_connect("alice-conn", "alice", t)),
        claimed(ws_message(
            "alice-conn",
            t,
            t + 10,
            serde_json::json!({"action":"join","chatId":"r1"}),
        )),
        claimed(ws_message(
            "alice-conn",
            t,
            t + 20,
            serde_json::json!({"action":"join","chatId":"r2"}),
        )),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let path = write(tmp.path(), "claims.jsonl", lines.join("\n").as_bytes());
    let out = replay_bin(&[
        "explain",
        "--from",
        path.to_str().unwrap(),
        "--client",
        "alice",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "join refused (forbidden), nothing changed or delivered: your token does not grant \
             room \"r2\""
        ),
        "{text}"
    );
}
