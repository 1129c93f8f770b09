//! Builders for records and a given-events / expect-projection helper.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use projections::{Batch, ClientProjection, CommitOutcome, Config, Delivery, Plan, Step, World};
use schemas::{
    Connected, ConnectionGone, DisconnectReason, Disconnected, Lifecycle, Record, Subscription,
    Telemetry, WebSocketRecord, WsEventType,
};
use std::collections::BTreeMap;

pub mod rooms;
pub mod shared;
pub mod strategies;

pub const MIN: u64 = 60_000;
/// The shard a [`MemStore`]'s batches are from, as its ticks name it.
pub const SHARD: &str = "shard-0";
pub const HOUR: u64 = 60 * MIN;
/// A base time, so that tests read as offsets.
pub const T0: u64 = 1_700_000_000_000;

pub fn connected(client: &str, session: &str, version: Option<u64>, ts: u64) -> Record {
    Record::Lifecycle(Lifecycle::Connected(Connected {
        client_id: client.into(),
        thing_name: None,
        timestamp: ts,
        session_identifier: session.into(),
        principal_identifier: Some("cert".into()),
        ip_address: Some("10.0.0.1".into()),
        version_number: version,
    }))
}

pub fn disconnected(
    client: &str,
    session: &str,
    version: Option<u64>,
    ts: u64,
    reason: &str,
) -> Record {
    Record::Lifecycle(Lifecycle::Disconnected(Disconnected {
        client_id: client.into(),
        thing_name: None,
        timestamp: ts,
        session_identifier: session.into(),
        principal_identifier: Some("cert".into()),
        version_number: version,
        client_initiated_disconnect: Some(reason == "CLIENT_INITIATED_DISCONNECT"),
        disconnect_reason: Some(DisconnectReason::parse(reason)),
    }))
}

/// A refused connection of `client` at `ts`: a record about it that changes no session.
pub fn connect_failed(client: &str, ts: u64) -> Record {
    Record::Lifecycle(Lifecycle::ConnectFailed(schemas::ConnectFailed {
        client_id: client.into(),
        thing_name: None,
        timestamp: ts,
        connect_failure_reason: Some("AUTHORIZATION_FAILED".into()),
        principal_identifier: None,
        session_identifier: None,
        ip_address: None,
    }))
}

fn subscription(client: &str, session: &str, topics: &[&str], ts: u64) -> Subscription {
    Subscription {
        client_id: client.into(),
        thing_name: None,
        timestamp: ts,
        session_identifier: session.into(),
        principal_identifier: None,
        topics: topics.iter().map(|t| t.to_string()).collect(),
    }
}

pub fn subscribed(client: &str, session: &str, topics: &[&str], ts: u64) -> Record {
    Record::Lifecycle(Lifecycle::Subscribed(subscription(
        client, session, topics, ts,
    )))
}

pub fn unsubscribed(client: &str, session: &str, topics: &[&str], ts: u64) -> Record {
    Record::Lifecycle(Lifecycle::Unsubscribed(subscription(
        client, session, topics, ts,
    )))
}

fn ws(
    event_type: WsEventType,
    route: &str,
    conn: &str,
    client: Option<&str>,
    at: u64,
    ts: u64,
) -> WebSocketRecord {
    WebSocketRecord {
        schema_version: 2,
        event_type,
        route_key: route.into(),
        connection_id: conn.into(),
        connected_at: at,
        request_time_epoch: ts,
        request_id: Some(format!("req-{conn}-{ts}")),
        message_id: None,
        domain_name: Some("abc.execute-api.us-east-1.amazonaws.com".into()),
        stage: Some("prod".into()),
        api_id: Some("abc".into()),
        source_ip: Some("192.0.2.1".into()),
        user_agent: None,
        client_id: client.map(str::to_owned),
        authorizer: BTreeMap::new(),
        query_string_parameters: BTreeMap::new(),
        body: None,
        disconnect_status_code: None,
        disconnect_reason: None,
    }
}

pub fn ws_connect(conn: &str, client: &str, at: u64) -> Record {
    Record::WebSocket(Box::new(ws(
        WsEventType::Connect,
        "$connect",
        conn,
        Some(client),
        at,
        at,
    )))
}

pub fn ws_disconnect(conn: &str, at: u64, ts: u64) -> Record {
    Record::WebSocket(Box::new(ws(
        WsEventType::Disconnect,
        "$disconnect",
        conn,
        None,
        at,
        ts,
    )))
}

/// A message on `conn` (connected at `at`), whose client ingest could not resolve.
pub fn ws_message(conn: &str, at: u64, ts: u64, body: &str) -> Record {
    let route = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("action").and_then(|a| a.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "$default".into());
    let mut r = ws(WsEventType::Message, &route, conn, None, at, ts);
    r.body = Some(body.into());
    r.message_id = Some(format!("msg-{conn}-{ts}"));
    Record::WebSocket(Box::new(r))
}

pub fn telemetry(device: &str, ts: u64, params: serde_json::Value) -> Record {
    Record::Telemetry(Telemetry {
        device_id: device.into(),
        timestamp: ts,
        parameters: params.as_object().cloned().unwrap_or_default(),
    })
}

pub fn gone(conn: &str, ts: u64) -> Record {
    Record::ConnectionGone(ConnectionGone {
        schema_version: 1,
        connection_id: conn.into(),
        timestamp: ts,
        delivery_id: None,
    })
}

pub fn tick(shard: &str, ts: u64) -> Record {
    Record::Tick(schemas::Tick::new(shard, ts))
}

/// Folds `records` in order into a complete world; returns it and every delivery.
pub fn fold(records: &[Record]) -> (World, Vec<Delivery>) {
    fold_with(Config::default(), records)
}

pub fn fold_with(config: Config, records: &[Record]) -> (World, Vec<Delivery>) {
    let mut world = World::in_memory(config);
    let deliveries = records.iter().flat_map(|r| world.apply(r)).collect();
    (world, deliveries)
}

/// Given these events, the projection of `client`.
pub fn given(records: &[Record], client: &str) -> ClientProjection {
    fold(records)
        .0
        .client(client)
        .unwrap_or_else(|| panic!("no projection for {client}"))
}

/// Every derived view, as JSON, for whole-world comparisons: client projections, each room's
/// members, and each device's live watchers (checked against the connections' own lists).
pub fn views(world: &World) -> serde_json::Value {
    let mut rooms = BTreeMap::new();
    let mut devices = BTreeMap::new();
    for key in world.keys() {
        match key {
            projections::Key::Room(id) => {
                let members: Vec<String> = world
                    .room_state(&id)
                    .unwrap()
                    .joined()
                    .map(str::to_owned)
                    .collect();
                if !members.is_empty() {
                    rooms.insert(id, members);
                }
            }
            projections::Key::Device(id) => {
                let Some(projections::Entry::Device(d)) =
                    world.entry(&projections::Key::Device(id.clone()))
                else {
                    panic!("device entry")
                };
                let now = world.watermark();
                let live: Vec<String> = d
                    .watchers
                    .keys()
                    .filter(|c| {
                        world.connection_state(c).is_some_and(|c| {
                            c.summary.is_live(now, world.config().connection_max_age_ms)
                                && c.watches(&id)
                        })
                    })
                    .cloned()
                    .collect();
                if !live.is_empty() {
                    devices.insert(id, live);
                }
            }
            _ => {}
        }
    }
    serde_json::json!({ "clients": world.clients(), "rooms": rooms, "devices": devices })
}

/// Every raw entry, sorted by key, for exact state comparisons: the state records imply, so
/// without what a client's presence rooms last heard (`ClientState::announced`), the
/// announcements put off (`Key::Pending`) and a connection's rate buckets
/// (`ConnectionState::rate`), which are bookkeeping of deliveries and depend on order and
/// batching.
pub fn entries(world: &World) -> Vec<(projections::Key, projections::Entry)> {
    let mut keys: Vec<_> = world.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let mut e = world.entry(&k).unwrap();
            match &mut e {
                projections::Entry::Client(c) => c.announced = None,
                projections::Entry::Connection(c) => c.rate = Default::default(),
                _ => {}
            }
            (k, e)
        })
        // What the presence grace put off is bookkeeping of deliveries too.
        .filter(|(k, _)| !matches!(k, projections::Key::Pending(_)))
        .collect()
}

/// A store in memory, with the batch protocol ([`projections::batch`]) driven over it.
/// `crash_after` stops a batch before it commits, after that many records, to simulate a Lambda
/// that died mid-batch.
#[derive(Default)]
pub struct MemStore {
    pub items: BTreeMap<projections::Key, projections::Entry>,
}

impl MemStore {
    pub fn process(
        &mut self,
        config: &Config,
        batch: &[Record],
        crash_after: Option<usize>,
    ) -> Vec<Delivery> {
        // A fresh world per batch, as a Lambda invocation would have, over a store that keeps a
        // room's members apart (as DynamoDB does).
        let mut world = World::new(config.clone())
            .parts_apart()
            .clock_from_entries();
        // One shard's batches, whose ticks say `SHARD`.
        world.on_shard(SHARD);
        self.process_in(&mut world, batch, crash_after)
    }

    /// [`MemStore::process`] in `world`, which a caller keeps from batch to batch as a cache of
    /// the store (as `processor local` does): what it loaded stays loaded, and each batch
    /// persists only what changed since the last.
    pub fn process_in(
        &mut self,
        world: &mut World,
        batch: &[Record],
        crash_after: Option<usize>,
    ) -> Vec<Delivery> {
        // A crash after the last record is no crash: the batch commits.
        let crash = crash_after.filter(|&n| n < batch.len());
        let records = &batch[..crash.unwrap_or(batch.len())];
        let mut protocol = Batch::new(records, Plan::shared(1));
        loop {
            match protocol.next(world).unwrap() {
                Step::Load(keys) => {
                    for key in keys {
                        let entry = self.items.get(&*key.stored()).cloned();
                        protocol.load(world, key, entry, None);
                    }
                }
                Step::Publish(messages) => {
                    for key in messages {
                        let entry = world.entry(&key).unwrap();
                        self.put(key, entry);
                    }
                }
                // The crash: the records before it are folded, nothing is persisted.
                Step::Commit(_) if crash.is_some() => break,
                Step::Commit(writes) => {
                    for write in writes {
                        let entry = world.entry(&write.key).unwrap();
                        self.put(write.key, entry);
                    }
                    protocol.committed(world, CommitOutcome::default());
                }
                Step::Done => break,
            }
        }
        protocol
            .into_deliveries()
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    }

    /// Writes `entry`: a part (a room's member, a connection of the lobby) is joined into its
    /// whole, as DynamoDB keeps the newer register of a member and the grown summary of a
    /// connection.
    pub fn put(&mut self, key: projections::Key, entry: projections::Entry) {
        if key.is_part() {
            let whole = key.whole();
            let joined = key.join_part(self.items.remove(&whole), &entry);
            self.items.insert(whole, joined.expect("a part's entry"));
        } else {
            self.items.insert(key, entry);
        }
    }

    /// A complete world holding every stored entry, to read projections from.
    pub fn world(&self, config: &Config) -> World {
        let mut world = World::new(config.clone()).clock_from_entries();
        for (k, e) in &self.items {
            world.load(k.clone(), Some(e.clone()));
        }
        world
    }
}

/// Every permutation of `records` gives the projection `check` accepts, and the same one.
pub fn in_every_order(
    records: &[schemas::Record],
    client: &str,
    check: impl Fn(&projections::ClientProjection),
) {
    let mut order: Vec<usize> = (0..records.len()).collect();
    let first = given(records, client);
    check(&first);
    // Heap's algorithm over indices: all n! orders (n is small in these tests).
    let mut c = vec![0; order.len()];
    let mut i = 0;
    while i < order.len() {
        if c[i] < i {
            if i % 2 == 0 {
                order.swap(0, i)
            } else {
                order.swap(c[i], i)
            }
            let permuted: Vec<_> = order.iter().map(|&j| records[j].clone()).collect();
            let p = given(&permuted, client);
            assert_eq!(p, first, "order {order:?} derived a different projection");
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
}
