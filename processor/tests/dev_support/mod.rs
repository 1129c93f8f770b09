//! The `processor dev` harness: the built binary on ports 0 in a fresh store, read back from its
//! stderr (the ports) and stdout (push deliveries), plus third-party clients: tokio-tungstenite
//! for WebSocket, rumqttc for MQTT, and a minimal HTTP GET. Everything polls with deadlines.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    missing_docs
)]

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long any expected thing may take.
mod ws;
// Each test binary uses part of the harness.
#[allow(unused_imports)]
pub use ws::Ws;

pub const DEADLINE: Duration = Duration::from_secs(10);

/// Whether a JSON array of strings holds `item`.
pub fn has(list: &serde_json::Value, item: &str) -> bool {
    list.as_array()
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(item)))
}

/// Polls a process's captured output until a line parses as JSON satisfying `ok`.
pub async fn wait_json_line(
    lines: &Mutex<Vec<String>>,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = Instant::now() + DEADLINE;
    loop {
        let found = lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| ok(v));
        if let Some(v) = found {
            return v;
        }
        if Instant::now() > until {
            panic!("never {what}; lines: {:?}", lines.lock().unwrap());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A running `processor dev`.
pub struct Dev {
    child: Option<Child>,
    pub ws: u16,
    pub mqtt: u16,
    pub http: u16,
    pub stdout: Arc<Mutex<Vec<String>>>,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub store: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Dev {
    /// Starts `processor dev` in a new temporary store.
    pub fn start() -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let mut dev = Dev::start_in(&store);
        dev._dir = Some(dir);
        dev
    }

    /// Starts `processor dev` in a new temporary store, with extra flags.
    pub fn start_flags(flags: &[&str]) -> Dev {
        let dir = tempfile::tempdir().unwrap();
        let mut dev = Dev::start_with(&dir.path().join("store"), flags);
        dev._dir = Some(dir);
        dev
    }

    /// Starts `processor dev` on `store`.
    pub fn start_in(store: &Path) -> Dev {
        Dev::start_with(store, &[])
    }

    /// Starts `processor dev` on `store` with extra flags.
    pub fn start_with(store: &Path, flags: &[&str]) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_processor"))
            .args([
                "dev",
                "--ws-port",
                "0",
                "--mqtt-port",
                "0",
                "--http-port",
                "0",
            ])
            .arg("--store")
            .arg(store)
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (ports_tx, ports_rx) = std::sync::mpsc::channel();
        {
            let lines = stderr.clone();
            let err = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if line.starts_with("ws=") {
                        let _ = ports_tx.send(line.clone());
                    }
                    lines.lock().unwrap().push(line);
                }
            });
            let lines = stdout.clone();
            let out = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let line = match ports_rx.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("no ports line; stderr: {:?}", stderr.lock().unwrap());
            }
        };
        let port = |name: &str| -> u16 {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap()
                .parse()
                .unwrap()
        };
        Dev {
            ws: port("ws"),
            mqtt: port("mqtt"),
            http: port("http"),
            child: Some(child),
            stdout,
            stderr,
            store: store.to_owned(),
            _dir: None,
        }
    }

    /// Ctrl-C, and the exit status (within the deadline).
    pub fn interrupt(&mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > until {
                let _ = child.kill();
                panic!("processor dev did not stop on SIGINT");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: a crash, nothing flushed or committed beyond what already was.
    pub fn kill(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Moves the temporary store out, so it outlives this run (for a restart).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    /// `GET path` on the HTTP port: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        http(self.http, "GET", path, b"")
    }

    /// A client's projection, when it has one.
    pub fn client(&self, id: &str) -> Option<serde_json::Value> {
        let (status, body) = self.get(&format!("/clients/{id}"));
        match status {
            200 => Some(serde_json::from_str(&body).unwrap()),
            404 => None,
            other => panic!("GET /clients/{id}: {other} {body}"),
        }
    }

    /// Polls a client's projection until `ok` holds; returns it.
    pub async fn wait_client(
        &self,
        id: &str,
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let until = Instant::now() + DEADLINE;
        loop {
            let client = self.client(id);
            if let Some(c) = client.as_ref().filter(|c| ok(c)) {
                return c.clone();
            }
            if Instant::now() > until {
                panic!("client {id}: never {what}; last: {client:?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls stdout until a line satisfies `ok`.
    pub async fn wait_stdout(
        &self,
        what: &str,
        ok: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        wait_json_line(&self.stdout, &format!("on stdout: {what}"), ok).await
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A minimal blocking HTTP/1.1 request (`Connection: close`): status and body.
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// An MQTT client (rumqttc), its event loop polled on a task that forwards incoming publishes
/// and stops at the first connection error (so a taken-over client does not reconnect).
pub struct Mqtt {
    pub client: AsyncClient,
    pub publishes: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    pub connected: tokio::sync::watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Mqtt {
    /// Connects as `client_id` and waits for the CONNACK.
    pub async fn connect(dev: &Dev, client_id: &str) -> Mqtt {
        let mut options = MqttOptions::new(client_id, "127.0.0.1", dev.mqtt);
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut events) = AsyncClient::new(options, 64);
        let (tx, publishes) = mpsc::unbounded_channel();
        let (up_tx, mut connected) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = up_tx.send(true);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                    }
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                        // Let the DISCONNECT reach the socket, then stop.
                        let _ = events.poll().await;
                        let _ = up_tx.send(false);
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let _ = up_tx.send(false);
                        return;
                    }
                }
            }
        });
        tokio::time::timeout(DEADLINE, connected.wait_for(|c| *c))
            .await
            .expect("no CONNACK")
            .unwrap();
        Mqtt {
            client,
            publishes,
            connected,
            task,
        }
    }

    /// Subscribes at QoS 1.
    pub async fn subscribe(&self, filter: &str) {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .unwrap();
    }

    /// Publishes JSON at QoS 1.
    pub async fn publish(&self, topic: &str, payload: serde_json::Value) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.to_string())
            .await
            .unwrap();
    }

    /// The next publish received, within the deadline.
    pub async fn recv(&mut self) -> (String, serde_json::Value) {
        let (topic, payload) = tokio::time::timeout(DEADLINE, self.publishes.recv())
            .await
            .expect("no publish within the deadline")
            .expect("the client stopped");
        (topic, serde_json::from_slice(&payload).unwrap())
    }

    /// Sends DISCONNECT and waits for the event loop to stop.
    pub async fn disconnect(self) {
        self.client.disconnect().await.unwrap();
        let _ = tokio::time::timeout(DEADLINE, self.task).await;
    }

    /// Waits until the broker has dropped this client (e.g. taken over).
    pub async fn wait_dropped(&mut self) {
        tokio::time::timeout(DEADLINE, self.connected.wait_for(|c| !*c))
            .await
            .expect("never dropped")
            .unwrap();
    }
}
