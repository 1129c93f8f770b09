//! Writes N realistic AWS IoT lifecycle events as JSON lines, for benchmarks of
//! `processor local`. Deterministic: the same arguments give the same bytes.
//!
//! ```text
//! cargo run --release -p processor --example gen_events -- 1000000 --seed 7 > big.jsonl
//! ```
//!
//! Options: `--seed S` (default 1), `--clients C` (default N/20), `--rooms R` (default 1000),
//! `--step-ms M` (the clock advances 0 to M-1 ms per event, default 4: a million events span
//! about 25 minutes; larger steps spread an archive over days).
//! Many clients connect, subscribe to `app/{client}/chat/{room}` (and a status topic),
//! unsubscribe and disconnect; some are taken over by a new session (`DUPLICATE_CLIENTID`, whose
//! disconnect AWS sends after the new connect); timestamps jitter like AWS's approximate ones; a
//! few events are delivered twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, BufWriter, Write};

/// SplitMix64: tiny, fast and good enough for test data; no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent_tenths: u64) -> bool {
        self.below(1000) < percent_tenths
    }
}

struct Session {
    id: String,
    version: u64,
    topics: Vec<String>,
}

struct Client {
    version: u64,
    session: Option<Session>,
}

const REASONS: [&str; 4] = [
    "CLIENT_INITIATED_DISCONNECT",
    "CONNECTION_LOST",
    "MQTT_KEEP_ALIVE_TIMEOUT",
    "SERVER_INITIATED_DISCONNECT",
];

fn arg(args: &[String], name: &str) -> Option<u64> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

const USAGE: &str = "\
usage: gen_events [N] [--seed S] [--clients C] [--rooms R] [--step-ms M] > events.jsonl

Writes N (default 1000000) realistic AWS IoT lifecycle events as JSON lines; the same
arguments give the same bytes.
  --seed S      the random stream (default 1)
  --clients C   how many client ids (default N/20)
  --rooms R     how many chat rooms the clients subscribe to (default 1000)
  --step-ms M   the clock advances 0 to M-1 ms per event (default 4: a million events span
                about 25 minutes; larger steps spread an archive over days)";

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = ["--seed", "--clients", "--rooms", "--step-ms"];
    let unknown = args
        .iter()
        .enumerate()
        .find(|(i, a)| {
            let value_of_option = *i > 0 && options.contains(&args[i - 1].as_str());
            let count = *i == 0 && a.parse::<u64>().is_ok();
            !(value_of_option || count || options.contains(&a.as_str()))
        })
        .map(|(_, a)| a);
    if let Some(arg) = unknown {
        let help = arg == "-h" || arg == "--help";
        if !help {
            eprintln!("gen_events: unexpected argument {arg:?}\n");
        }
        eprintln!("{USAGE}");
        std::process::exit(if help { 0 } else { 2 });
    }
    let n: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seed = arg(&args, "--seed").unwrap_or(1);
    let clients_n = arg(&args, "--clients").unwrap_or((n / 20).max(1));
    let rooms = arg(&args, "--rooms").unwrap_or(1000);
    let step = arg(&args, "--step-ms").unwrap_or(4).max(1);

    let mut rng = Rng(seed);
    let mut clients: Vec<Client> = (0..clients_n)
        .map(|_| Client {
            version: 0,
            session: None,
        })
        .collect();
    let out = io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, out.lock());
    let mut line = String::with_capacity(512);
    let mut previous = String::new();
    let mut clock: u64 = 1_700_000_000_000;
    let mut written = 0u64;

    while written < n {
        clock += rng.below(step);
        // AWS's timestamps are approximate: some events carry a slightly older time.
        let ts = clock - if rng.chance(50) { rng.below(2_000) } else { 0 };
        let c = rng.below(clients_n) as usize;
        let client_id = format!("device-{c:07}");
        let client = &mut clients[c];
        line.clear();
        let mut after = None;
        match &mut client.session {
            None => {
                client.version += 1;
                let session = Session {
                    id: session_id(&mut rng),
                    version: client.version,
                    topics: Vec::new(),
                };
                connected(&mut line, &client_id, &session, ts, c);
                client.session = Some(session);
            }
            Some(session) => {
                let roll = rng.below(100);
                if roll < 40 {
                    let topic = format!("app/{client_id}/chat/room-{}", rng.below(rooms));
                    subscription(&mut line, "subscribed", &client_id, &session.id, &topic, ts);
                    session.topics.push(topic);
                } else if roll < 50 {
                    let topic = format!("app/{client_id}/status");
                    subscription(&mut line, "subscribed", &client_id, &session.id, &topic, ts);
                } else if roll < 70 && !session.topics.is_empty() {
                    let i = rng.below(session.topics.len() as u64) as usize;
                    let topic = session.topics.swap_remove(i);
                    subscription(
                        &mut line,
                        "unsubscribed",
                        &client_id,
                        &session.id,
                        &topic,
                        ts,
                    );
                } else if roll < 95 {
                    let reason = REASONS[rng.below(REASONS.len() as u64) as usize];
                    disconnected(&mut line, &client_id, session, reason, ts);
                    client.session = None;
                } else {
                    // Takeover: the new session connects, then AWS reports the old one's end.
                    client.version += 1;
                    let new = Session {
                        id: session_id(&mut rng),
                        version: client.version,
                        topics: Vec::new(),
                    };
                    connected(&mut line, &client_id, &new, ts, c);
                    let mut old = String::new();
                    disconnected(&mut old, &client_id, session, "DUPLICATE_CLIENTID", ts + 1);
                    after = Some(old);
                    client.session = Some(new);
                }
            }
        }
        // Lifecycle messages may be delivered twice.
        if !previous.is_empty() && rng.chance(5) && written + 1 < n {
            w.write_all(previous.as_bytes())?;
            written += 1;
        }
        w.write_all(line.as_bytes())?;
        written += 1;
        std::mem::swap(&mut previous, &mut line);
        if let Some(old) = after {
            if written < n {
                w.write_all(old.as_bytes())?;
                written += 1;
            }
        }
    }
    w.flush()
}

fn session_id(rng: &mut Rng) -> String {
    let (a, b) = (rng.next(), rng.next());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

fn connected(line: &mut String, client: &str, s: &Session, ts: u64, n: usize) {
    use std::fmt::Write;
    let _ = writeln!(
        line,
        r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"connected","sessionIdentifier":"{}","principalIdentifier":"{:064x}","ipAddress":"10.{}.{}.{}","versionNumber":{}}}"#,
        s.id,
        n as u128 * 0x9e37_79b9,
        (n >> 16) & 0xff,
        (n >> 8) & 0xff,
        n & 0xff,
        s.version
    );
}

fn disconnected(line: &mut String, client: &str, s: &Session, reason: &str, ts: u64) {
    use std::fmt::Write;
    let by_client = reason == "CLIENT_INITIATED_DISCONNECT";
    let _ = writeln!(
        line,
        r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"disconnected","sessionIdentifier":"{}","principalIdentifier":"p","clientInitiatedDisconnect":{by_client},"disconnectReason":"{reason}","versionNumber":{}}}"#,
        s.id, s.version
    );
}

fn subscription(line: &mut String, kind: &str, client: &str, session: &str, topic: &str, ts: u64) {
    use std::fmt::Write;
    let _ = writeln!(
        line,
        r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"{kind}","sessionIdentifier":"{session}","principalIdentifier":"p","topics":["{topic}"]}}"#
    );
}
