//! `processor dev` driven by the command-line clients people use by hand: `wscat` (npm) and
//! `mosquitto_pub`/`mosquitto_sub` (Debian's mosquitto-clients). `scripts/test` installs them;
//! a missing tool fails these tests (never skips them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dev_support;

use dev_support::{has, wait_json_line, Dev, DEADLINE};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A tool from `$PATH`, or (wscat) from `.tools/` where `scripts/test` installs it.
fn tool(name: &str) -> PathBuf {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/node_modules/.bin")
        .join(name);
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| local.is_file().then_some(local))
        .unwrap_or_else(|| {
            panic!("{name} is not installed: scripts/test installs it (wscat with npm, mosquitto-clients with apt-get)")
        })
}

/// A running client whose stdout lines are collected.
struct Cli {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// Held open: wscat exits at the end of its stdin, even with `-x`.
    _stdin: Option<std::process::ChildStdin>,
}

impl Cli {
    fn spawn(command: &mut Command) -> Cli {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let stdin = child.stdin.take();
        Cli {
            child,
            lines,
            _stdin: stdin,
        }
    }

    /// Polls until a stdout line parses as JSON satisfying `ok`.
    async fn wait_json(
        &self,
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        wait_json_line(&self.lines, &format!("printed: {what}"), ok).await
    }

    /// Waits for the client to exit by itself.
    async fn wait_exit(&mut self) {
        let until = Instant::now() + DEADLINE;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < until, "the client did not exit");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wscat` connected as `client_id`, sending `messages` on open and staying `wait` seconds.
fn wscat(dev: &Dev, client_id: &str, messages: &[&str], wait: u32) -> Cli {
    let mut command = Command::new(tool("wscat"));
    command
        .arg("-c")
        .arg(format!("ws://127.0.0.1:{}/?clientId={client_id}", dev.ws));
    for m in messages {
        command.args(["-x", m]);
    }
    command.args(["-w", &wait.to_string()]);
    Cli::spawn(&mut command)
}

/// Seed 001 with wscat: bob gets alice's broadcast, alice does not get her own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_001_with_wscat() {
    let dev = Dev::start();
    // An empty notify list: a valid message that causes no reply, to keep wscat scripted.
    let bob = wscat(
        &dev,
        "bob",
        &[r#"{"action":"set_notify_list","devices":[]}"#],
        30,
    );
    dev.wait_client("bob", "online", |c| c["online"] == true)
        .await;
    let mut alice = wscat(
        &dev,
        "alice",
        &[r#"{"action":"sendmessage","message":"hi all"}"#],
        1,
    );
    let got = bob
        .wait_json("alice's message", |v| v["message"] == "hi all")
        .await;
    assert_eq!(got["from"], "alice");
    alice.wait_exit().await;
    assert!(alice.lines.lock().unwrap().is_empty(), "{:?}", alice.lines);
}

/// Seed 002 with wscat and mosquitto_pub: telemetry reaches the watching WebSocket client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_with_wscat_and_mosquitto_pub() {
    let dev = Dev::start();
    let carol = wscat(
        &dev,
        "carol",
        &[r#"{"action":"set_notify_list","devices":["thermostat-1"]}"#],
        30,
    );
    dev.wait_client("carol", "watching", |c| has(&c["watching"], "thermostat-1"))
        .await;
    let status = Command::new(tool("mosquitto_pub"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &dev.mqtt.to_string(),
            "-i",
            "thermostat-1",
            "-q",
            "1",
        ])
        .args([
            "-t",
            "devices/thermostat-1/params",
            "-m",
            r#"{"temp":21.5}"#,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let got = carol
        .wait_json("telemetry", |v| v["type"] == "telemetry")
        .await;
    assert_eq!(got["deviceId"], "thermostat-1");
    assert_eq!(got["params"]["temp"], 21.5);
}

/// Seed 000 with mosquitto_sub and wscat: socket delivery over MQTT, then push once bob left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_000_with_mosquitto_sub_and_wscat() {
    let dev = Dev::start();
    let mut bob = Cli::spawn(
        Command::new(tool("mosquitto_sub"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &dev.mqtt.to_string(),
                "-i",
                "bob",
                "-q",
                "1",
            ])
            .args(["-t", "app/bob/chat/42", "-C", "1"]),
    );
    dev.wait_client("bob", "in room 42", |c| {
        c["connected"] == true && has(&c["rooms"], "42")
    })
    .await;
    let _alice = wscat(
        &dev,
        "alice",
        &[r#"{"action":"sendmessage","chatId":42,"message":"lunch?"}"#],
        1,
    );
    let got = bob
        .wait_json("the chat message", |v| v["type"] == "message")
        .await;
    assert_eq!(got["message"], "lunch?");
    // `-C 1`: bob exits after one message, disconnecting.
    bob.wait_exit().await;
    let c = dev
        .wait_client("bob", "disconnected", |c| c["connected"] == false)
        .await;
    assert_eq!(c["lastDisconnectReason"], "CLIENT_INITIATED_DISCONNECT");
    let _again = wscat(
        &dev,
        "alice",
        &[r#"{"action":"sendmessage","chatId":42,"message":"still?"}"#],
        1,
    );
    let push = dev
        .wait_stdout("a push to bob", |v| v["channel"] == "push")
        .await;
    assert_eq!(push["clientId"], "bob");
    assert_eq!(push["payload"]["message"], "still?");
}

/// Seed 003 with mosquitto_sub: presence flips with a connection's start and end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003_with_mosquitto_sub() {
    let dev = Dev::start();
    let lamp = Cli::spawn(
        Command::new(tool("mosquitto_sub"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &dev.mqtt.to_string(),
                "-i",
                "lamp-1",
            ])
            .args(["-t", "lamps/lamp-1/set"]),
    );
    // The broker emits `connected` when the client connects and `subscribed` when it then
    // subscribes: the projection may show the first without the second for a moment.
    let c = dev
        .wait_client("lamp-1", "connected and subscribed", |c| {
            c["connected"] == true && has(&c["topics"], "lamps/lamp-1/set")
        })
        .await;
    assert_eq!(c["online"], true);
    drop(lamp);
    let c = dev
        .wait_client("lamp-1", "disconnected", |c| c["connected"] == false)
        .await;
    assert_eq!(c["online"], false);
    assert_eq!(c["lastDisconnectReason"], "CONNECTION_LOST");
}
