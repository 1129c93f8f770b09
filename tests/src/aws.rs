//! Fixtures for the tests against the AWS emulator: a fresh stream and table per test, record
//! builders, and reading projections back from the table.

use crate::emulator;
use aws_adapters::dynamo::DynamoStore;
use aws_adapters::provision::{provision, Plan};
use aws_adapters::source::InRecord;
use aws_adapters::store_port::RevisionedStore;
use projections::{ClientProjection, Config, World};
use std::sync::Arc;

/// A stream and a table of one test.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The table's store.
    pub store: Arc<DynamoStore>,
    /// DynamoDB.
    pub dynamo: aws_sdk_dynamodb::Client,
    /// Kinesis.
    pub kinesis: aws_sdk_kinesis::Client,
    /// The table.
    pub table: String,
    /// The stream.
    pub stream: String,
}

/// Creates a stream (with `shards` shards) and a table with unique names.
///
/// # Errors
/// The emulator is not available or provisioning failed.
pub async fn fixture(shards: i32) -> Result<Fixture, String> {
    let sdk = emulator::sdk_config().await?;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let plan = Plan {
        stream: emulator::unique("stream"),
        shards,
        table: emulator::unique("table"),
    };
    provision(&kinesis, &dynamo, &plan)
        .await
        .map_err(|e| format!("{e:#}"))?;
    Ok(Fixture {
        store: Arc::new(DynamoStore::new(dynamo.clone(), &plan.table)),
        dynamo,
        kinesis,
        table: plan.table,
        stream: plan.stream,
    })
}

/// Puts `lines` on the fixture's stream, in order, all with one partition key (one shard).
///
/// # Errors
/// A `PutRecord` failed.
pub async fn put_all(f: &Fixture, lines: &[String]) -> Result<(), String> {
    for l in lines {
        f.kinesis
            .put_record()
            .stream_name(&f.stream)
            .partition_key("k")
            .data(aws_sdk_kinesis::primitives::Blob::new(l.as_bytes()))
            .send()
            .await
            .map_err(|e| aws_sdk_kinesis::error::DisplayErrorContext(e).to_string())?;
    }
    Ok(())
}

/// A batch of `lines` from one shard, sequence numbers `00000`, `00001`, ...
pub fn batch(shard: &str, lines: &[String]) -> Vec<InRecord> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| InRecord {
            shard: shard.to_owned(),
            seq: format!("{i:05}"),
            data: l.clone().into_bytes(),
        })
        .collect()
}

/// The projections of a complete in-memory fold of `lines` (the bad ones skipped).
pub fn expected(lines: &[String]) -> World {
    let mut world = World::in_memory(Config::default());
    for l in lines {
        if let Ok(r) = schemas::decode_json(l.as_bytes()) {
            world.apply(&r);
        }
    }
    world
}

/// The projections of `expected`'s clients, as the table holds them.
///
/// # Errors
/// Reading the table failed.
pub async fn stored<S: RevisionedStore>(
    store: &S,
    expected: &World,
) -> Result<Vec<ClientProjection>, String> {
    let keys: Vec<projections::Key> = expected.keys().collect();
    let loaded = store.load_many(&keys).await.map_err(|e| e.to_string())?;
    let mut world = World::new(Config::default()).clock_from_entries();
    for (k, l) in keys.into_iter().zip(loaded) {
        world.load(k, l.entry);
    }
    Ok(world.clients())
}

/// Asserts that the table holds exactly the projections a complete fold of `lines` derives.
///
/// # Panics
/// When it does not, or when the table cannot be read: it is for tests.
#[allow(clippy::panic)]
pub async fn assert_stored_as_folded<S: RevisionedStore>(store: &S, lines: &[String]) {
    let want = expected(lines);
    match stored(store, &want).await {
        Ok(got) => assert_eq!(got, want.clients()),
        Err(e) => panic!("reading the table: {e}"),
    }
}

/// alice (`alice-conn`) and bob (`bob-conn`) connect at `t` and `t + 10`; bob joins room 42 at
/// `t + 20`.
pub fn bob_in_room_42(t: u64) -> Vec<String> {
    vec![
        ws_connect("alice-conn", "alice", t),
        ws_connect("bob-conn", "bob", t + 10),
        ws_message(
            "bob-conn",
            t + 10,
            t + 20,
            serde_json::json!({"action":"join","chatId":"42"}),
        ),
    ]
}

/// alice and bob connect at `t` and `t + 10` and join room 42 at `t + 20` and `t + 30`.
pub fn both_in_room_42(t: u64) -> Vec<String> {
    let join = serde_json::json!({"action":"join","chatId":"42"});
    vec![
        ws_connect("alice-conn", "alice", t),
        ws_connect("bob-conn", "bob", t + 10),
        ws_message("alice-conn", t, t + 20, join.clone()),
        ws_message("bob-conn", t + 10, t + 30, join),
    ]
}

/// A WebSocket `$connect` record.
pub fn ws_connect(conn: &str, client: &str, t: u64) -> String {
    serde_json::json!({"kind":"websocket","schemaVersion":2,"eventType":"CONNECT","routeKey":"$connect",
        "connectionId":conn,"connectedAt":t,"requestTimeEpoch":t,"clientId":client})
    .to_string()
}

/// A WebSocket `$disconnect` record at `t` of a connection opened at `connected_at`.
pub fn ws_disconnect(conn: &str, connected_at: u64, t: u64) -> String {
    serde_json::json!({"kind":"websocket","schemaVersion":2,"eventType":"DISCONNECT",
        "routeKey":"$disconnect","connectionId":conn,"connectedAt":connected_at,
        "requestTimeEpoch":t})
    .to_string()
}

/// A WebSocket message record with `body` (an action).
pub fn ws_message(conn: &str, connected_at: u64, t: u64, body: serde_json::Value) -> String {
    let route = body["action"].as_str().unwrap_or("$default").to_owned();
    serde_json::json!({"kind":"websocket","schemaVersion":2,"eventType":"MESSAGE","routeKey":route,
        "connectionId":conn,"connectedAt":connected_at,"requestTimeEpoch":t,
        "messageId":format!("m-{conn}-{t}"),"body":body.to_string()})
    .to_string()
}

/// A sink that fails the `fail_on`-th delivery (1-based) once, as a throttled API would, and
/// records the others.
pub struct FlakySink {
    /// What was delivered.
    pub inner: aws_adapters::sink_port::RecordingSink,
    calls: std::sync::atomic::AtomicUsize,
    fail_on: usize,
}

impl FlakySink {
    /// Fails the `fail_on`-th call.
    pub fn new(fail_on: usize) -> Self {
        FlakySink {
            inner: aws_adapters::sink_port::RecordingSink::new(),
            calls: std::sync::atomic::AtomicUsize::new(0),
            fail_on,
        }
    }
}

impl aws_adapters::sink_port::DeliverySink for FlakySink {
    async fn deliver(
        &self,
        d: &projections::Delivery,
    ) -> Result<aws_adapters::sink_port::DeliveryOutcome, aws_adapters::sink_port::SinkError> {
        use std::sync::atomic::Ordering;
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_on {
            return Err(aws_adapters::sink_port::SinkError::new(
                d,
                true,
                "LimitExceededException: throttled",
            ));
        }
        self.inner.deliver(d).await
    }
}

/// The batch handler with in-memory quarantine and feedback, default settings.
pub fn handler<S, D>(
    store: S,
    sink: D,
) -> processor::lambda::Handler<
    S,
    aws_adapters::quarantine_port::MemoryQuarantine,
    D,
    aws_adapters::feedback::MemoryFeedback,
>
where
    S: RevisionedStore,
    D: aws_adapters::sink_port::DeliverySink,
{
    processor::lambda::Handler {
        store,
        quarantine: aws_adapters::quarantine_port::MemoryQuarantine::new(),
        sink,
        feedback: aws_adapters::feedback::MemoryFeedback::new(),
        settings: processor::settings::HandlerSettings::default(),
    }
}

/// The batch handler over the fixture's table, feeding `connection_gone` back to the fixture's
/// stream; its sink records deliveries and answers 410 Gone for the connections in `gone`.
pub fn feeding_back(
    f: &Fixture,
    gone: &[&str],
) -> processor::lambda::Handler<
    Arc<DynamoStore>,
    aws_adapters::quarantine_port::MemoryQuarantine,
    aws_adapters::sink_port::RecordingSink,
    aws_adapters::feedback::KinesisFeedback,
> {
    let sink = aws_adapters::sink_port::RecordingSink::new();
    for connection_id in gone {
        sink.set_gone(connection_id);
    }
    processor::lambda::Handler {
        store: f.store.clone(),
        quarantine: aws_adapters::quarantine_port::MemoryQuarantine::new(),
        sink,
        feedback: aws_adapters::feedback::KinesisFeedback::new(f.kinesis.clone(), &f.stream),
        settings: processor::settings::HandlerSettings::default(),
    }
}

/// `processor consume --until-idle`'s options, 100 records a batch.
pub fn until_idle() -> processor::consume::Options {
    processor::consume::Options {
        until_idle: true,
        limit: 100,
        ..processor::consume::Options::default()
    }
}

/// Consumes the fixture's stream with `handler` until idle, from the checkpoints in its table.
///
/// # Errors
/// Reading the stream or the checkpoints failed, or a shard kept failing.
pub async fn consume_until_idle<S, Q, D, F>(
    f: &Fixture,
    handler: &processor::lambda::Handler<S, Q, D, F>,
) -> Result<processor::consume::Summary, String>
where
    S: RevisionedStore,
    Q: aws_adapters::quarantine_port::Quarantine,
    D: aws_adapters::sink_port::DeliverySink,
    F: aws_adapters::feedback::Feedback,
{
    let source = aws_adapters::source::KinesisSource::new(f.kinesis.clone(), &f.stream);
    let checkpoints =
        aws_adapters::checkpoint::DynamoCheckpoints::new(f.dynamo.clone(), &f.table, &f.stream);
    processor::consume::consume(&source, &checkpoints, handler, &until_idle())
        .await
        .map_err(|e| format!("{e:#}"))
}
