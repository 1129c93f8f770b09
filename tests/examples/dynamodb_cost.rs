//! What the processor's DynamoDB calls cost per event, at fleet size: each workload is put on a
//! fresh 4-shard stream in the emulator (moto, started here), `processor consume --until-idle`
//! folds it into a fresh table, and its summary line gives requests, read units, write units and
//! bytes written, as the processor counts them by DynamoDB's rules. Beside them: the largest
//! item the table ends with, and what seed 001's layout would cost on the same records.
//!
//! Run by `scripts/bench/dynamodb-cost`, which builds the processor first:
//! `cargo run -p tests --example dynamodb_cost -- target/debug/processor [websocket|iot]...`

use aws_adapters::cost::item_size;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use std::process::{Command, Stdio};
use tests::fleet::{self, Put};

/// Shards of each workload's stream.
const SHARDS: i32 = 4;

type Error = Box<dyn std::error::Error>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((processor, workloads)) = args.split_first() else {
        eprintln!("usage: dynamodb_cost PROCESSOR_BINARY [websocket|iot]...");
        std::process::exit(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dynamodb_cost: starting a runtime: {e}");
            std::process::exit(1);
        }
    };
    let names: Vec<&str> = if workloads.is_empty() {
        vec!["websocket", "iot"]
    } else {
        workloads.iter().map(String::as_str).collect()
    };
    for name in names {
        if let Err(e) = runtime.block_on(run(processor, name)) {
            eprintln!("dynamodb_cost: {name}: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(processor: &str, name: &str) -> Result<(), Error> {
    let (title, puts, seed) = match name {
        "websocket" => (
            "WebSocket fleet: 8,000 connections join 8 rooms, then 400 chat messages",
            fleet::websocket_fleet(8_000, 8, 400),
            Some("seed 001's layout (a PutItem per connect, a Scan per message)"),
        ),
        "iot" => (
            "IoT lifecycle: 20,000 events over 2,000 devices",
            fleet::iot_lifecycle(20_000, 2_000),
            None,
        ),
        other => return Err(format!("no workload named {other}: websocket or iot").into()),
    };
    println!("== {title}: {} records on {SHARDS} shards", puts.len());
    let f = tests::aws::fixture(SHARDS).await?;
    put_all(&f, &puts).await?;
    let endpoint = tests::emulator::emulator()?.endpoint.clone();
    let out = Command::new(processor)
        .args([
            "consume",
            "--until-idle",
            "--stream",
            &f.stream,
            "--table",
            &f.table,
        ])
        .args(["--endpoint-url", &endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        // The region of the fixture's own clients (`aws_adapters::clients::emulator_config`).
        .env("AWS_REGION", "us-east-1")
        .env("RUST_LOG", "warn")
        .env_remove("QUARANTINE_URL")
        .stdout(Stdio::piped())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("processor consume failed: {stderr}").into());
    }
    for line in stderr.lines().filter(|l| l.starts_with("consumed ")) {
        println!("processor: {line}");
    }
    println!(
        "{}",
        deliveries(&puts, &String::from_utf8_lossy(&out.stdout))?
    );
    let (items, largest) = largest_item(&f).await?;
    println!("table: {items} items, the largest {largest} bytes");
    if let Some(layout) = seed {
        let cost = fleet::seed_001_cost(&puts);
        let per = |x: f64| x / puts.len() as f64;
        println!(
            "{layout}: {:.3} requests, {:.3} read units, {:.3} write units per record",
            per(cost.requests as f64),
            per(cost.read_units),
            per(cost.write_units)
        );
    }
    Ok(())
}

/// What the processor delivered (its stdout: one JSON delivery a line) against what one fold of
/// the records in event-time order delivers, which is what the shards' interleaving must not
/// change: distinct delivery ids made of those intended, duplicates, and any not intended.
fn deliveries(puts: &[Put], stdout: &str) -> Result<String, Error> {
    let mut records: Vec<schemas::Record> = puts
        .iter()
        .map(|p| schemas::decode_json(p.line.as_bytes()))
        .collect::<Result<_, _>>()?;
    records.sort_by_key(schemas::Record::event_time);
    let mut world = projections::World::in_memory(projections::Config::default());
    let intended: std::collections::HashSet<String> = records
        .iter()
        .flat_map(|r| world.apply(r))
        .map(|d| d.id)
        .collect();
    let mut made = std::collections::HashSet::new();
    let mut lines = 0;
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let delivery: serde_json::Value = serde_json::from_str(line)?;
        let id = delivery["id"].as_str().ok_or("a delivery without an id")?;
        made.insert(id.to_owned());
        lines += 1;
    }
    let of_intended = made.intersection(&intended).count();
    Ok(format!(
        "deliveries: {of_intended} of {} intended (by one fold in event-time order), \
         {} sent twice, {} not intended",
        intended.len(),
        lines - made.len(),
        made.len() - of_intended
    ))
}

/// Puts the records, 500 a call, in order per partition key.
async fn put_all(f: &tests::aws::Fixture, puts: &[Put]) -> Result<(), Error> {
    for chunk in puts.chunks(500) {
        let entries = chunk
            .iter()
            .map(|p| {
                PutRecordsRequestEntry::builder()
                    .partition_key(&p.key)
                    .data(Blob::new(p.line.as_bytes()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = f
            .kinesis
            .put_records()
            .stream_name(&f.stream)
            .set_records(Some(entries))
            .send()
            .await?;
        if out.failed_record_count.unwrap_or(0) > 0 {
            return Err("the emulator refused some records".into());
        }
    }
    Ok(())
}

/// How many items the table holds and the size of the largest (a Scan, not counted as cost).
async fn largest_item(f: &tests::aws::Fixture) -> Result<(usize, u64), Error> {
    let (mut items, mut largest) = (0, 0);
    let mut start = None;
    loop {
        let page = f
            .dynamo
            .scan()
            .table_name(&f.table)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            items += 1;
            largest = largest.max(item_size(item));
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return Ok((items, largest));
        }
    }
}
