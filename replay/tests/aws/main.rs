//! replay's AWS adapters against the emulator (moto's server, started by this test binary on a
//! loopback port and shared by its tests): the `s3://` and `kinesis://` sources, the
//! `dynamodb://` sink read back with processor's store, `replay diff`, and the issue's
//! requirement: replaying what an integration run put on the stream gives exactly the
//! projections the processor wrote live.
//!
//! moto is found as `$MOTO_SERVER`, else `.venv/bin/moto_server` at the workspace root, else on
//! `PATH`. When it cannot be started the tests FAIL, saying how to install it: never skipped.
//!
//! `sources`: the archive sources; `dynamodb`: the sink, `diff` and the replay of an integration
//! run; `unprocessed`: the sink when DynamoDB leaves items unprocessed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../common/mod.rs"]
mod common;
mod dynamodb;
mod sources;
mod unprocessed;

use aws_adapters::provision::{provision, Plan};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use common::{replay_bin_env, stderr};
use std::path::Path;
use tests::emulator::unique;

/// The emulator's endpoint; fails the test when moto cannot start.
fn moto() -> &'static str {
    match tests::emulator::emulator() {
        Ok(e) => &e.endpoint,
        Err(e) => panic!("{e}"),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn sdk() -> aws_config::SdkConfig {
    aws_adapters::clients::emulator_config(moto()).await
}

/// A fresh stream (`shards` shards) and table.
async fn fixture(shards: i32) -> (aws_sdk_kinesis::Client, aws_sdk_dynamodb::Client, Plan) {
    let sdk = sdk().await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let plan = Plan {
        stream: unique("stream"),
        shards,
        table: unique("table"),
    };
    provision(&kinesis, &dynamo, &plan).await.unwrap();
    (kinesis, dynamo, plan)
}

async fn put_lines(kinesis: &aws_sdk_kinesis::Client, stream: &str, lines: &[String]) {
    for (n, chunk) in lines.chunks(500).enumerate() {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| {
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("k{}", n * 500 + i))
                    .data(Blob::new(l.as_bytes()))
                    .build()
                    .unwrap()
            })
            .collect();
        let out = kinesis
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_record_count, Some(0));
    }
}

/// Runs the binary against the emulator.
fn run_replay(args: &[&str]) -> std::process::Output {
    let mut argv = args.to_vec();
    argv.extend(["--quiet", "--endpoint-url", moto()]);
    replay_bin_env(&argv)
}

fn rebuild_jsonl(dir: &Path, from: &str, extra: &[&str]) -> String {
    let out = dir.join(format!("{}.jsonl", unique("out")));
    let to = format!("jsonl:{}", out.display());
    let mut args = vec!["rebuild", "--from", from, "--to", &to];
    args.extend_from_slice(extra);
    let run = run_replay(&args);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    std::fs::read_to_string(out).unwrap()
}

const HOUR: u64 = 3_600_000;
/// 2024-11-23T00:00:00Z.
const DAY: u64 = 1_732_320_000_000;
