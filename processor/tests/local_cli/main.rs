//! Black-box tests of `processor local`: the built binary on small inputs in a temporary
//! directory, checked through its stdout, stderr, exit code and files. `restarts`: running again;
//! `reports`: what it says while it works.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod reports;
mod restarts;

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_processor");

fn connected(client: &str, session: &str, version: u64, ts: u64) -> String {
    format!(
        r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"connected","sessionIdentifier":"{session}","principalIdentifier":"p","ipAddress":"10.0.0.1","versionNumber":{version}}}"#
    )
}

fn subscribed(client: &str, session: &str, topic: &str, ts: u64) -> String {
    format!(
        r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"subscribed","sessionIdentifier":"{session}","topics":["{topic}"]}}"#
    )
}

fn disconnected(client: &str, session: &str, version: u64, ts: u64) -> String {
    format!(
        r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"disconnected","sessionIdentifier":"{session}","versionNumber":{version},"clientInitiatedDisconnect":true,"disconnectReason":"CLIENT_INITIATED_DISCONNECT"}}"#
    )
}

fn ws(event: &str, route: &str, conn: &str, client: &str, ts: u64, body: Option<&str>) -> String {
    let mut v = serde_json::json!({
        "kind": "websocket", "schemaVersion": 2, "eventType": event, "routeKey": route,
        "connectionId": conn, "connectedAt": 1_000, "requestTimeEpoch": ts, "clientId": client,
    });
    if let Some(body) = body {
        v["body"] = body.into();
    }
    v.to_string()
}

/// Two WebSocket clients connect; alice broadcasts; bob says something the API does not know.
fn chat() -> String {
    [
        ws("CONNECT", "$connect", "ca", "alice", 1_000, None),
        ws("CONNECT", "$connect", "cb", "bob", 1_001, None),
        ws(
            "MESSAGE",
            "sendmessage",
            "ca",
            "alice",
            1_002,
            Some(r#"{"action":"sendmessage","message":"hi"}"#),
        ),
        ws("MESSAGE", "$default", "cb", "bob", 1_003, Some("hello?")),
    ]
    .join("\n")
}

/// IoT lifecycle: one client online with a chat topic, one that came and went.
fn iot() -> String {
    [
        connected("dev1", "s1", 1, 1_000),
        subscribed("dev1", "s1", "app/dev1/chat/r1", 1_001),
        connected("dev2", "s2", 1, 1_002),
        disconnected("dev2", "s2", 1, 1_003),
    ]
    .join("\n")
}

struct Run {
    out: Output,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8(self.out.stdout.clone()).unwrap()
    }
    fn stderr(&self) -> String {
        String::from_utf8(self.out.stderr.clone()).unwrap()
    }
    fn code(&self) -> i32 {
        self.out.status.code().unwrap()
    }
    fn deliveries(&self) -> Vec<Value> {
        self.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn write_input(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("in.jsonl");
    std::fs::write(&path, format!("{text}\n")).unwrap();
    path
}

fn local(args: &[&str], stdin: Option<&str>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("local")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    Run {
        out: child.wait_with_output().unwrap(),
    }
}

fn run_on(dir: &Path, input: &Path, extra: &[&str]) -> Run {
    let store = dir.join("data");
    let mut args = vec![
        "--input",
        input.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    local(&args, None)
}

/// A WebSocket delivery's connection (camelCase, like every other field of the line).
fn connection(delivery: &Value) -> &Value {
    assert!(
        delivery.get("connection_id").is_none(),
        "snake_case field in {delivery}"
    );
    &delivery["connectionId"]
}

fn projections(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn prints_deliveries_as_json_lines_and_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let input = write_input(tmp.path(), &chat());
    let run = run_on(tmp.path(), &input, &[]);
    assert_eq!(run.code(), 0, "{}", run.stderr());

    let deliveries = run.deliveries();
    // The broadcast reaches bob's connection; bob's unknown message gets a usage reply.
    assert_eq!(deliveries.len(), 2, "{}", run.stdout());
    for d in &deliveries {
        assert_eq!(d["channel"], "websocket");
        assert!(d["id"].is_string() && d["payload"].is_object());
    }
    assert_eq!(connection(&deliveries[0]), "cb");
    assert_eq!(deliveries[0]["payload"]["message"], "hi");
    assert_eq!(connection(&deliveries[1]), "cb");

    let err = run.stderr();
    assert!(err.contains("4 events in"), "{err}");
    assert!(err.contains("events/s"), "{err}");
    assert!(err.contains("0 quarantined"), "{err}");
    assert!(err.contains("clients: 2 (2 online)"), "{err}");
    assert!(
        err.contains("deliveries: 2 (websocket 2, mqtt 0, push 0)"),
        "{err}"
    );
}

#[test]
fn writes_every_clients_projection_sorted_by_client_id() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("clients.jsonl");
    let input = write_input(tmp.path(), &iot());
    let run = run_on(
        tmp.path(),
        &input,
        &["--projections-out", out.to_str().unwrap()],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());

    let clients = projections(&out);
    assert_eq!(clients.len(), 2);
    let (dev1, dev2) = (&clients[0], &clients[1]);
    assert_eq!(dev1["clientId"], "dev1");
    assert_eq!(dev1["connected"], true);
    assert_eq!(dev1["online"], true);
    assert_eq!(dev1["sessionId"], "s1");
    assert_eq!(dev1["topics"], serde_json::json!(["app/dev1/chat/r1"]));
    assert_eq!(dev2["clientId"], "dev2");
    assert_eq!(dev2["connected"], false);
    assert_eq!(dev2["online"], false);
    assert!(dev2.get("sessionId").is_none());
    assert_eq!(dev2["topics"], serde_json::json!([]));
    // dev1 is online (seen now, the newest event time); dev2 was last seen disconnecting.
    assert_eq!(dev1["lastSeen"], 1_003);
    assert_eq!(dev2["lastSeen"], 1_003);

    // A later run on other input still lists the clients of the earlier one.
    let more = tmp.path().join("more.jsonl");
    std::fs::write(&more, connected("dev0", "s0", 1, 2_000)).unwrap();
    let run = run_on(
        tmp.path(),
        &more,
        &["--projections-out", out.to_str().unwrap()],
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let ids: Vec<Value> = projections(&out)
        .iter()
        .map(|c| c["clientId"].clone())
        .collect();
    assert_eq!(ids, vec!["dev0", "dev1", "dev2"]);
}

#[test]
fn quarantines_a_bad_line_and_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("clients.jsonl");
    let text = [
        connected("a", "s1", 1, 1_000),
        "{\"clientId\": \"b\", \"eventType\": \"connected\"".to_owned(),
        String::new(),
        connected("c", "s3", 1, 1_002),
    ]
    .join("\n");
    let input = write_input(tmp.path(), &text);
    let run = run_on(
        tmp.path(),
        &input,
        &["--projections-out", out.to_str().unwrap()],
    );
    assert_eq!(
        run.code(),
        0,
        "quarantined lines are not failures: {}",
        run.stderr()
    );
    let err = run.stderr();
    assert!(err.contains(":2: quarantined"), "{err}");
    assert!(err.contains("2 events in"), "{err}");
    assert!(err.contains("1 quarantined"), "{err}");

    let quarantine = std::fs::read_to_string(tmp.path().join("data/quarantine.jsonl")).unwrap();
    let items: Vec<Value> = quarantine
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(items.len(), 1, "blank lines are skipped silently");
    assert_eq!(items[0]["line"], 2);
    assert!(items[0]["input"].as_str().unwrap().ends_with("in.jsonl"));
    assert!(items[0]["raw"]
        .as_str()
        .unwrap()
        .starts_with("{\"clientId\": \"b\""));
    assert!(!items[0]["error"].as_str().unwrap().is_empty());

    let ids: Vec<Value> = projections(&out)
        .iter()
        .map(|c| c["clientId"].clone())
        .collect();
    assert_eq!(
        ids,
        vec!["a", "c"],
        "the line after the bad one was applied"
    );
}

#[test]
fn reads_stdin_when_the_input_is_a_dash() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("data");
    let out = tmp.path().join("clients.jsonl");
    let run = local(
        &[
            "--input",
            "-",
            "--store",
            store.to_str().unwrap(),
            "--projections-out",
            out.to_str().unwrap(),
            "--batch-size",
            "1",
        ],
        Some(&format!("{}\n", iot())),
    );
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stderr().contains("4 events in"), "{}", run.stderr());
    assert!(run.stderr().contains("4 batches"), "{}", run.stderr());
    assert_eq!(projections(&out).len(), 2);
}

#[test]
fn usage_errors_exit_2_and_help_documents_exit_codes() {
    let bad = local(&["--input", "-", "--chat-topic", "no/room/here"], Some(""));
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
    assert!(bad.stderr().contains("chatId"), "{}", bad.stderr());
    assert_eq!(
        local(&["--batch-size", "0", "--input", "-"], Some("")).code(),
        2
    );
    assert_eq!(local(&[], None).code(), 2);

    let help = local(&["--help"], None);
    assert_eq!(help.code(), 0);
    let text = help.stdout();
    assert!(text.contains("Exit codes"), "{text}");
    assert!(text.contains("processor local --input"), "{text}");
    assert!(text.contains("PRESENCE_STORE"), "{text}");
}

#[test]
fn a_missing_input_file_is_a_runtime_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_on(tmp.path(), &tmp.path().join("nope.jsonl"), &[]);
    assert_eq!(run.code(), 1);
    assert!(run.stderr().contains("nope.jsonl"), "{}", run.stderr());
}
