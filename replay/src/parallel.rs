//! The fold on two threads: the stream is split by what each record is about, each half is
//! folded into its own world, and the two worlds are joined at the end.
//!
//! Folding two streams is merging their folds (`folding_two_streams_is_merging_their_folds` in
//! `projections/tests/laws.rs`), and any order of the same events derives the same state, so how
//! the records are split cannot change the result, only how fast it comes. Lifecycle records go
//! by client, so each client's sessions, the fold's bulk, live on one side: a world per core, no
//! locks, and little to join at the end. Telemetry goes by device.
//!
//! A connection's records all go to one side: its client's, when its `$connect` is the first of
//! its records seen, else its own. This keeps every room membership of a client on its side, so
//! that each half can forget an old `Left` membership as a single fold would (see
//! `projections`' compaction): a half holding a client's leave could not otherwise know that the
//! other half holds an older join it overrules. For the rare client whose connection went to
//! the other side, both halves keep its history, and the joined world forgets it.

use crate::rebuild::Fold;
use crate::source::reader::Batch;
use projections::{Config, World};
use rustc_hash::{FxHashMap, FxHashSet};
use schemas::{Record, WsEventType};
use std::hash::Hasher;
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

/// Batches in flight to the other thread.
const DEPTH: usize = 4;

/// What the other thread folds next: records of a batch the reading thread made, shared and read
/// in place by index, so no record is copied and each is freed where it was made.
struct Work {
    /// Clients whose history it must keep, from now on ([`World::keep_history_of`]).
    keep: Vec<String>,
    /// The batch its records are in.
    batch: Arc<Batch>,
    /// Which of them, in arrival order.
    indices: Vec<u32>,
}

/// A fold whose second half runs on a helper thread.
pub struct ParallelFold {
    here: Fold,
    /// Clients to pin on the other thread with its next work.
    keep: Vec<String>,
    /// The side of every connection seen.
    conns: FxHashMap<String, u8>,
    /// Clients whose history both halves keep.
    kept: FxHashSet<String>,
    send: SyncSender<Work>,
    helper: JoinHandle<World>,
}

/// Why the parallel fold failed: only a panic of its helper thread, which is a bug.
#[derive(Debug, thiserror::Error)]
#[error("the fold's helper thread panicked (a bug in the fold)")]
pub struct HelperPanicked;

impl ParallelFold {
    /// Two empty complete worlds with `config`, one on a new thread.
    pub fn new(config: Config) -> Self {
        let fold = || Fold::new(World::in_memory(config.clone()));
        ParallelFold::start(fold(), fold())
    }

    /// [`ParallelFold::new`], each half compacting every `records` of its records.
    pub fn compacting_every(config: Config, records: u64) -> Self {
        let fold = || Fold::compacting_every(World::in_memory(config.clone()), records);
        ParallelFold::start(fold(), fold())
    }

    fn start(here: Fold, mut fold: Fold) -> Self {
        let (send, work) = mpsc::sync_channel::<Work>(DEPTH);
        let helper = thread::spawn(move || {
            for work in work {
                for client in &work.keep {
                    fold.world.keep_history_of(client);
                }
                for &i in &work.indices {
                    // Replay never sends: the deliveries the fold decides are dropped here.
                    drop(fold.apply(&work.batch.records[i as usize].0));
                }
            }
            fold.world
        });
        ParallelFold {
            here,
            keep: Vec::new(),
            conns: FxHashMap::default(),
            kept: FxHashSet::default(),
            send,
            helper,
        }
    }

    /// Folds the records of `batch` at `indices`, in order: some on this thread, the others on
    /// the helper, which holds a clone of `batch` until it has folded them.
    pub fn apply(&mut self, batch: &Arc<Batch>, indices: &[u32]) {
        let mut theirs = Vec::new();
        for &i in indices {
            let record = &batch.records[i as usize].0;
            if self.side(record) == 0 {
                drop(self.here.apply(record));
            } else {
                theirs.push(i);
            }
        }
        if theirs.is_empty() && self.keep.is_empty() {
            return;
        }
        let work = Work {
            keep: std::mem::take(&mut self.keep),
            batch: Arc::clone(batch),
            indices: theirs,
        };
        // A closed channel means the helper panicked; `finish` reports it.
        let _ = self.send.send(work);
    }

    /// Which half folds `record` (see the module's documentation).
    fn side(&mut self, record: &Record) -> u8 {
        let conn = match record {
            Record::Lifecycle(e) => return hash_side(e.client_id()),
            Record::Telemetry(t) => return hash_side(&t.device_id),
            Record::ConnectionGone(g) => return self.conn_side(&g.connection_id, None),
            Record::WebSocket(ws) => ws,
        };
        let client = Some(conn)
            .filter(|ws| ws.event_type == WsEventType::Connect)
            .and_then(|ws| ws.resolved_client_id());
        self.conn_side(&conn.connection_id, client)
    }

    /// The side of a connection's records, decided by the first one seen; `client` is the one
    /// a `$connect` names.
    fn conn_side(&mut self, conn: &str, client: Option<&str>) -> u8 {
        let side = match self.conns.get(conn) {
            Some(&side) => side,
            None => {
                let side = hash_side(client.unwrap_or(conn));
                self.conns.insert(conn.to_owned(), side);
                side
            }
        };
        if let Some(client) = client.filter(|c| hash_side(c) != side) {
            self.keep_history_of(client);
        }
        side
    }

    /// Both halves keep `client`'s history: its memberships are on both sides.
    fn keep_history_of(&mut self, client: &str) {
        if !self.kept.insert(client.to_owned()) {
            return;
        }
        self.here.world.keep_history_of(client);
        // Kept from the start of the batch, a little early: keeping only ever forgets less.
        self.keep.push(client.to_owned());
    }

    /// Waits for the other half and joins the two worlds into one.
    ///
    /// # Errors
    /// The helper thread panicked.
    pub fn finish(self) -> Result<World, HelperPanicked> {
        let ParallelFold {
            here, send, helper, ..
        } = self;
        // Closing the channel ends the helper's loop.
        drop(send);
        let there = helper.join().map_err(|_| HelperPanicked)?;
        let mut world = here.world;
        world.absorb(there);
        // The joined world holds every record again: it may forget what the halves kept.
        world.release_history();
        Ok(world)
    }
}

/// A side by the hash of an id.
fn hash_side(id: &str) -> u8 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(id.as_bytes());
    // The high bit: Fx's low bits mix the least.
    (h.finish() >> 63) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Location, Position};

    /// Records per batch in these tests: a few hundred batches.
    const BATCH: usize = 1000;

    /// Folds the records `keep` accepts on two threads, in batches as replay reads them (where
    /// `keep` is the time window), and on one.
    fn fold_both(
        one: &mut World,
        two: &mut ParallelFold,
        records: &[Record],
        keep: impl Fn(usize) -> bool,
    ) {
        for (n, chunk) in records.chunks(BATCH).enumerate() {
            let indices: Vec<u32> = (0..chunk.len())
                .filter(|i| keep(n * BATCH + i))
                .map(|i| u32::try_from(i).unwrap())
                .collect();
            for &i in &indices {
                drop(one.apply(&chunk[i as usize]));
            }
            let batch = Batch {
                records: chunk
                    .iter()
                    .map(|r| {
                        let at = Location::File;
                        (
                            r.clone(),
                            Position {
                                file: 0,
                                at,
                                arrived: None,
                            },
                        )
                    })
                    .collect(),
                errors: Vec::new(),
            };
            two.apply(&Arc::new(batch), &indices);
        }
    }

    /// Every seed's scenario (WebSocket, telemetry, feedback) and a generated lifecycle stream
    /// long enough for many hand-overs.
    fn records() -> Vec<Record> {
        let seeds = include_str!("../../examples/seeds.jsonl").lines();
        let lifecycle =
            ::tests::workload::iot_lifecycle_lines(3 * crate::source::reader::BATCH + 17, 300, 5);
        seeds
            .map(str::to_owned)
            .chain(lifecycle)
            .filter_map(|line| schemas::decode_json(line.as_bytes()).ok())
            .collect()
    }

    #[test]
    fn two_threads_derive_what_one_fold_does() {
        let records = records();

        let mut one = World::in_memory(Config::default());
        let mut two = ParallelFold::new(Config::default());
        // Some records outside the window: every batch folds some of its records, not all.
        fold_both(&mut one, &mut two, &records, |i| i % 7 != 3);
        let two = two.finish().unwrap();
        assert!(one.clients().len() > 300);
        assert_eq!(two.clients(), one.clients());
        let entries = |w: &World| {
            let mut keys: Vec<_> = w.keys().collect();
            keys.sort();
            keys.into_iter().map(|k| w.entry(&k)).collect::<Vec<_>>()
        };
        assert_eq!(entries(&two), entries(&one));
    }

    use ::tests::workload::Rng;
    use serde_json::json;

    const MIN: u64 = 60_000;
    const HOUR: u64 = 60 * MIN;
    const T0: u64 = 1_700_000_000_000;

    fn lifecycle(
        kind: &str,
        client: &str,
        session: &str,
        ts: u64,
        extra: serde_json::Value,
    ) -> String {
        let mut line = json!({"eventType": kind, "clientId": client, "timestamp": ts,
            "sessionIdentifier": session, "principalIdentifier": "p"});
        if let (Some(line), Some(extra)) = (line.as_object_mut(), extra.as_object()) {
            line.extend(extra.clone());
        }
        line.to_string()
    }

    /// Three days of event time: 40 clients running MQTT sessions one after another (takeovers
    /// included) and subscribing to chat rooms, and WebSocket connections joining, leaving and
    /// chatting. Arrival is by event time plus a delay under an hour (one record in five is
    /// minutes late, so joins often arrive before their connection's `$connect`), and 1% arrive
    /// twice.
    fn days_of_records(seed: u64) -> Vec<Record> {
        struct Mqtt {
            session: Option<(String, u64)>,
            version: u64,
            ended: u64,
            count: u64,
        }
        let mut rng = Rng::new(seed);
        let mut clients: Vec<Mqtt> = (0..40)
            .map(|_| Mqtt {
                session: None,
                version: 0,
                ended: 0,
                count: 0,
            })
            .collect();
        let mut live: Vec<(String, u64)> = Vec::new();
        let mut lines: Vec<(u64, String)> = Vec::new();
        let mut t = T0;
        while t < T0 + 72 * HOUR {
            t += rng.below(60_000);
            let c = rng.below(40) as usize;
            let client = format!("c{c}");
            let room = |rng: &mut Rng| format!("r{}", rng.below(6));
            match rng.below(10) {
                0..=5 => {
                    let m = &mut clients[c];
                    let open = m.session.clone();
                    let step = rng.below(6);
                    if let Some((session, _)) = open.as_ref().filter(|_| step < 4) {
                        let topic = format!("app/{client}/chat/{}", room(&mut rng));
                        let kind = if step < 3 {
                            "subscribed"
                        } else {
                            "unsubscribed"
                        };
                        lines.push((
                            t,
                            lifecycle(kind, &client, session, t, json!({"topics": [topic]})),
                        ));
                        continue;
                    }
                    if let Some((session, version)) = open {
                        // A takeover: the old session's disconnect comes just after the new connect.
                        let (at, reason) = if step == 5 {
                            (t + 1_000, "DUPLICATE_CLIENTID")
                        } else {
                            (t, "CONNECTION_LOST")
                        };
                        lines.push((at, lifecycle("disconnected", &client, &session, at,
                            json!({"versionNumber": version, "disconnectReason": reason, "clientInitiatedDisconnect": false}))));
                        m.session = None;
                        m.ended = at;
                        if step != 5 {
                            continue;
                        }
                    }
                    m.version = if t.saturating_sub(m.ended) > HOUR {
                        0
                    } else {
                        m.version + 1
                    };
                    m.count += 1;
                    let session = format!("{client}-s{}", m.count);
                    lines.push((
                        t,
                        lifecycle(
                            "connected",
                            &client,
                            &session,
                            t,
                            json!({"versionNumber": m.version}),
                        ),
                    ));
                    m.session = Some((session, m.version));
                }
                6 => {
                    let conn = format!("w{}", lines.len());
                    lines.push((t, ::tests::aws::ws_connect(&conn, &client, t)));
                    live.push((conn, t));
                }
                7 | 8 if !live.is_empty() => {
                    let i = rng.below(live.len() as u64) as usize;
                    let (conn, at) = live[i].clone();
                    if t >= at + 2 * HOUR {
                        live.swap_remove(i);
                        continue;
                    }
                    let body = match rng.below(5) {
                        0 | 1 => json!({"action": "join", "chatId": room(&mut rng)}),
                        2 | 3 => json!({"action": "leave", "chatId": room(&mut rng)}),
                        _ => {
                            json!({"action": "sendmessage", "chatId": room(&mut rng), "message": "hi"})
                        }
                    };
                    lines.push((t, ::tests::aws::ws_message(&conn, at, t, body)));
                }
                _ if !live.is_empty() => {
                    let (conn, at) = live.swap_remove(rng.below(live.len() as u64) as usize);
                    let line = json!({"kind":"websocket","schemaVersion":2,"eventType":"DISCONNECT",
                        "routeKey":"$disconnect","connectionId":conn,"connectedAt":at,"requestTimeEpoch":t});
                    lines.push((t, line.to_string()));
                }
                _ => {}
            }
        }
        let mut arriving: Vec<(u64, String)> = Vec::new();
        for (ts, line) in lines {
            let delay = if rng.below(5) == 0 {
                rng.below(HOUR - 1)
            } else {
                rng.below(10_000)
            };
            if rng.below(100) == 0 {
                arriving.push((ts + rng.below(HOUR - 1), line.clone()));
            }
            arriving.push((ts + delay, line));
        }
        arriving.sort_by_key(|(at, _)| *at);
        arriving
            .into_iter()
            .map(|(_, line)| schemas::decode_json(line.as_bytes()).unwrap())
            .collect()
    }

    fn members(world: &World, rooms: usize) -> Vec<Vec<String>> {
        (0..rooms)
            .map(|r| {
                let room = world.room_state(&format!("r{r}"));
                room.map(|r| r.joined().map(str::to_owned).collect())
                    .unwrap_or_default()
            })
            .collect()
    }

    fn memberships(world: &World) -> usize {
        world
            .clients()
            .iter()
            .filter_map(|c| world.client_state(&c.client_id))
            .map(|c| c.memberships().count())
            .sum()
    }

    #[test]
    fn two_threads_forgetting_over_days_derive_what_one_fold_remembering_all_does() {
        let config = Config {
            tombstone_retention_ms: HOUR,
            ..Config::default()
        };
        for seed in 1..=3 {
            let records = days_of_records(seed);
            let mut one = World::in_memory(config.clone());
            let mut two = ParallelFold::compacting_every(config.clone(), 200);
            fold_both(&mut one, &mut two, &records, |_| true);
            assert!(
                !two.kept.is_empty(),
                "some connection went to the other side than its client"
            );
            let mut two = two.finish().unwrap();
            two.compact_all();
            assert!(one.clients().len() == 40 && one.clients().iter().any(|c| !c.rooms.is_empty()));
            assert_eq!(two.clients(), one.clients(), "seed {seed}");
            assert_eq!(members(&two, 6), members(&one, 6), "seed {seed}");
            assert!(
                memberships(&two) < memberships(&one),
                "old leaves were forgotten"
            );
            let conns = |w: &World| {
                w.keys()
                    .filter(|k| matches!(k, projections::Key::Connection(_)))
                    .count()
            };
            assert!(
                conns(&two) < conns(&one),
                "day-old connections were forgotten"
            );
        }
    }
}
