//! A deterministic, realistic IoT lifecycle stream: many clients connecting, subscribing to chat
//! topics, unsubscribing and disconnecting, with takeovers, duplicates and out-of-order arrival,
//! as AWS IoT delivers them. Seeded, so benches and runs are repeatable. Also what the benches
//! do with it: its frames ([`frames_of`]) and the decode + fold loop ([`decode_and_fold`]).

use std::fmt::Write;

/// A small, fast, seeded generator (SplitMix64): no dependency, same stream on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48 & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

/// `n` lifecycle records as JSON lines (no trailing newlines), over `clients` clients.
///
/// Each client runs sessions: `connected`, one or two `subscribed` (chat and telemetry topics),
/// sometimes an `unsubscribed`, then `disconnected`; one session in eight ends in a takeover
/// whose `DUPLICATE_CLIENTID` disconnect comes after the new connect. About 1% of records are
/// duplicated and neighbours are sometimes swapped, as AWS allows.
pub fn iot_lifecycle_lines(n: usize, clients: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let mut out: Vec<String> = Vec::with_capacity(n + n / 64);
    let mut versions = vec![0u64; clients.max(1)];
    let mut ts: u64 = 1_700_000_000_000;
    while out.len() < n {
        let c = rng.below(clients as u64) as usize;
        let client = format!("device-{c:06}");
        let principal = format!(
            "{:064x}",
            (c as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C834)
        );
        versions[c] += 1;
        let version = versions[c];
        let session = rng.uuid();
        ts += rng.below(40);
        let mut session_lines = Vec::with_capacity(6);
        session_lines.push(format!(
            r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"connected","sessionIdentifier":"{session}","principalIdentifier":"{principal}","ipAddress":"10.{}.{}.{}","versionNumber":{version}}}"#,
            c % 256,
            (c / 256) % 256,
            rng.below(256)
        ));
        let chat = format!("app/{client}/chat/{}", rng.below(500));
        session_lines.push(subscription(
            &client,
            &session,
            &principal,
            ts + 5,
            "subscribed",
            &chat,
        ));
        if rng.below(2) == 0 {
            let params = format!("devices/{client}/params");
            session_lines.push(subscription(
                &client,
                &session,
                &principal,
                ts + 7,
                "subscribed",
                &params,
            ));
        }
        if rng.below(4) == 0 {
            session_lines.push(subscription(
                &client,
                &session,
                &principal,
                ts + 900,
                "unsubscribed",
                &chat,
            ));
        }
        let reason = match rng.below(8) {
            0 => "DUPLICATE_CLIENTID",
            1 => "MQTT_KEEP_ALIVE_TIMEOUT",
            2 => "CONNECTION_LOST",
            _ => "CLIENT_INITIATED_DISCONNECT",
        };
        let end = ts + 1_000 + rng.below(60_000);
        session_lines.push(format!(
            r#"{{"clientId":"{client}","timestamp":{end},"eventType":"disconnected","clientInitiatedDisconnect":{},"sessionIdentifier":"{session}","principalIdentifier":"{principal}","disconnectReason":"{reason}","versionNumber":{version}}}"#,
            reason == "CLIENT_INITIATED_DISCONNECT"
        ));
        // Neighbours swapped: lifecycle messages may arrive out of order.
        if session_lines.len() > 2 && rng.below(5) == 0 {
            let i = rng.below(session_lines.len() as u64 - 1) as usize;
            session_lines.swap(i, i + 1);
        }
        for line in session_lines {
            if rng.below(100) == 0 {
                out.push(line.clone());
            }
            out.push(line);
        }
    }
    out.truncate(n);
    out
}

fn subscription(
    client: &str,
    session: &str,
    principal: &str,
    ts: u64,
    kind: &str,
    topic: &str,
) -> String {
    let mut s = String::with_capacity(256);
    let _ = write!(
        s,
        r#"{{"clientId":"{client}","timestamp":{ts},"eventType":"{kind}","sessionIdentifier":"{session}","principalIdentifier":"{principal}","topics":["{topic}"]}}"#
    );
    s
}

/// The records of `lines` that decode, as MessagePack frames (our local log and archive
/// format), one after another.
pub fn frames_of(lines: &[String]) -> Vec<u8> {
    let mut frames = Vec::new();
    for record in lines
        .iter()
        .filter_map(|l| schemas::decode_json(l.as_bytes()).ok())
    {
        schemas::frame::encode_frame(&record, &mut frames);
    }
    frames
}

/// How many lifecycle events the decode + fold bench's stream holds ([`bench_stream`]).
pub const BENCH_EVENTS: usize = 200_000;
/// How many clients the bench's stream spreads its events over.
pub const BENCH_CLIENTS: usize = 10_000;

/// The stream the criterion bench `decode_fold` times and `scripts/bench/instructions` counts
/// (through the `decode_fold_loop` example), as JSON lines: one definition, so that the two
/// cannot measure different streams.
pub fn bench_stream() -> Vec<String> {
    iot_lifecycle_lines(BENCH_EVENTS, BENCH_CLIENTS, 42)
}

/// Decodes `frames` one by one with a single `FrameDecoder`, which reuses its records, and folds
/// each into `world`; returns how many it folded. The loop that criterion times as
/// `decode_frame+fold` and `scripts/bench/instructions` counts, so both measure the same code.
///
/// # Errors
/// The first frame that does not decode: a bench must not time or count a stream cut short.
pub fn decode_and_fold(
    world: &mut projections::World,
    frames: &[u8],
) -> Result<usize, schemas::DecodeError> {
    let mut decoder = schemas::FrameDecoder::new();
    let (mut at, mut folded) = (0, 0);
    while let Some((record, used)) = decoder.decode(&frames[at..], at as u64)? {
        world.apply(record);
        at += used;
        folded += 1;
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_deterministic_and_every_line_decodes() {
        let a = iot_lifecycle_lines(2_000, 50, 7);
        assert_eq!(a, iot_lifecycle_lines(2_000, 50, 7));
        assert_eq!(a.len(), 2_000);
        for line in &a {
            schemas::decode_json(line.as_bytes()).unwrap();
        }
        let kinds = |k: &str| {
            a.iter()
                .filter(|l| l.contains(&format!("\"eventType\":\"{k}\"")))
                .count()
        };
        assert!(
            kinds("connected") > 100 && kinds("disconnected") > 100 && kinds("unsubscribed") > 10
        );
    }
}
