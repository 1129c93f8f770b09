//! replay's AWS adapters against the emulator (moto's server, started by this test binary on a
//! loopback port and shared by its tests): the `s3://` and `kinesis://` sources, the
//! `dynamodb://` sink read back with processor's store, `replay diff`, and the issue's
//! requirement: replaying what an integration run put on the stream gives exactly the
//! projections the processor wrote live.
//!
//! moto is found as `$MOTO_SERVER`, else `.venv/bin/moto_server` at the workspace root, else on
//! `PATH`. When it cannot be started the tests FAIL, saying how to install it: never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use aws_adapters::dynamo::DynamoStore;
use aws_adapters::provision::{provision, Plan};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use common::{expected, gzip, replay_bin_env, stderr, stdout, workload};
use std::path::Path;

mod moto {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    pub struct Moto {
        pub endpoint: String,
        _child: Child,
    }

    static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();

    fn program() -> PathBuf {
        if let Some(path) = std::env::var_os("MOTO_SERVER") {
            return PathBuf::from(path);
        }
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
        if venv.exists() {
            return venv;
        }
        PathBuf::from("moto_server")
    }

    /// The shared server, started on first use; panics (fails the test) when it cannot start.
    pub fn endpoint() -> &'static str {
        match MOTO.get_or_init(start) {
            Ok(m) => &m.endpoint,
            Err(e) => panic!("{e}"),
        }
    }

    fn start() -> Result<Moto, String> {
        let program = program();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        // The shell starts moto, then waits for EOF on its stdin: our end of that pipe closes
        // when this process exits, however it exits, and the shell then stops moto.
        let script = format!(
            "command -v '{0}' >/dev/null || exit 127; '{0}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
            program.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting sh: {e}"))?;
        let help = format!(
            "cannot start the AWS emulator {}: install it with `python3 -m venv .venv && \
             .venv/bin/pip install 'moto[server]'` at the workspace root, or set MOTO_SERVER",
            program.display()
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ready(port) {
                break;
            }
            if let Ok(Some(_)) = child.try_wait() {
                return Err(help);
            }
            if Instant::now() > deadline {
                return Err(format!("{help} (no answer on port {port} within 60 s)"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _child: child,
        })
    }

    fn ready(port: u16) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut buf = [0u8; 12];
        matches!(s.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/"))
    }
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn sdk() -> aws_config::SdkConfig {
    aws_adapters::clients::emulator_config(moto::endpoint()).await
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
fn replay(args: &[&str]) -> std::process::Output {
    let mut argv = args.to_vec();
    argv.extend(["--quiet", "--endpoint-url", moto::endpoint()]);
    replay_bin_env(&argv)
}

fn rebuild_jsonl(dir: &Path, from: &str, extra: &[&str]) -> String {
    let out = dir.join(format!("{}.jsonl", unique("out")));
    let to = format!("jsonl:{}", out.display());
    let mut args = vec!["rebuild", "--from", from, "--to", &to];
    args.extend_from_slice(extra);
    let run = replay(&args);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    std::fs::read_to_string(out).unwrap()
}

const HOUR: u64 = 3_600_000;
/// 2024-11-23T00:00:00Z.
const DAY: u64 = 1_732_320_000_000;

#[test]
fn s3_source_reads_the_firehose_hours_of_the_window() {
    let rt = rt();
    let bucket = unique("archive");
    let s3 = rt.block_on(async {
        let sdk = sdk().await;
        let s3 = replay::aws::s3_client(&sdk, Some(moto::endpoint()));
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        s3
    });
    // Hours 07..=11 of the day; each hour's object holds records of that hour, and the 09 and
    // 11 objects also hold a late arrival from the hour before (within the buffer interval).
    let mut all = Vec::new();
    let mut objects = Vec::new();
    for hour in 7..=11u64 {
        let start = DAY + hour * HOUR;
        let mut lines = Vec::new();
        if hour == 9 || hour == 11 {
            let late = start - 60_000;
            lines.push(tests::aws::ws_connect(
                &format!("late-{hour}"),
                &format!("late-client-{hour}"),
                late,
            ));
        }
        for i in 0..20u64 {
            let t = start + i * 60_000 + 1_000;
            let client = format!("c{}", i % 7);
            lines.push(tests::aws::ws_connect(
                &format!("conn-{hour}-{i}"),
                &client,
                t,
            ));
        }
        all.extend(lines.iter().cloned());
        let key = format!("firehose/2024/11/23/{hour:02}/raw-1-2024-11-23-{hour:02}-00-00-x");
        if hour == 10 {
            // Firehose's default: concatenated JSON, not gzipped.
            objects.push((key, lines.concat().into_bytes()));
        } else {
            objects.push((
                format!("{key}.gz"),
                gzip((lines.join("\n") + "\n").as_bytes()),
            ));
        }
    }
    rt.block_on(async {
        for (key, body) in objects {
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let from = format!("s3://{bucket}/firehose/");

    // Everything.
    let got = rebuild_jsonl(tmp.path(), &from, &[]);
    assert_eq!(got, expected(&all, |_| true));

    // 09:30 to 10:30: objects 08 (the hour before), 09, 10 and 11 (the hour after) are read,
    // then records are filtered by event time.
    let (since, until) = (DAY + 9 * HOUR + HOUR / 2, DAY + 10 * HOUR + HOUR / 2);
    let window = [
        "--since".to_owned(),
        since.to_string(),
        "--until".to_owned(),
        until.to_string(),
    ];
    let window: Vec<&str> = window.iter().map(String::as_str).collect();
    let got = rebuild_jsonl(tmp.path(), &from, &window);
    let want = expected(&all, |t| (since..=until).contains(&t));
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // --until 08:59:59.999: the 09 object (the hour after) is read too, for the record of
    // 08:59 that arrived at 09:00.
    let got = rebuild_jsonl(
        tmp.path(),
        &from,
        &["--until", &(DAY + 9 * HOUR - 1).to_string()],
    );
    assert!(got.contains("late-client-9"), "{got}");
    assert_eq!(got, expected(&all, |t| t < DAY + 9 * HOUR));
}

#[test]
fn kinesis_source_reads_every_shard_to_its_end() {
    let rt = rt();
    let (kinesis, _, plan) = rt.block_on(fixture(3));
    let lines = workload();
    rt.block_on(put_lines(&kinesis, &plan.stream, &lines));
    let tmp = tempfile::tempdir().unwrap();
    let got = rebuild_jsonl(tmp.path(), &format!("kinesis://{}", plan.stream), &[]);
    assert_eq!(got, expected(&lines, |_| true));
    assert!(!got.is_empty());
}

#[test]
fn dynamodb_sink_writes_processor_items_idempotently_and_diff_finds_changes() {
    let rt = rt();
    let (_, dynamo, plan) = rt.block_on(fixture(1));
    let lines = workload();
    let tmp = tempfile::tempdir().unwrap();
    let file = common::write(tmp.path(), "events.jsonl", lines.join("\n").as_bytes());
    let from = file.to_str().unwrap();
    let to = format!("dynamodb://{}", plan.table);

    let run = replay(&["rebuild", "--from", from, "--to", &to]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        !stderr(&run).contains(" 0 items written"),
        "{}",
        stderr(&run)
    );

    // processor's store reads back exactly the replayed projections.
    let world = tests::aws::expected(&lines);
    let store = DynamoStore::new(dynamo.clone(), &plan.table);
    let stored = rt.block_on(tests::aws::stored(&store, &world)).unwrap();
    assert_eq!(stored, world.clients());
    assert!(stored.len() > 10);

    // Re-running writes nothing: every item is already there with the same content.
    let again = replay(&["rebuild", "--from", from, "--to", &to]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(": 0 items written"),
        "{}",
        stderr(&again)
    );

    // diff: equal.
    let diff = replay(&["diff", "--from", from, "--table", &plan.table]);
    assert_eq!(diff.status.code(), Some(0), "{}", stderr(&diff));
    assert!(
        stdout(&diff).starts_with(&format!(
            "equal {}, different 0, missing live 0, missing in replay 0",
            stored.len()
        )),
        "{}",
        stdout(&diff)
    );

    // Give one online client another client's state, and delete a second client's item.
    let changed = stored.iter().find(|c| c.online).unwrap().client_id.clone();
    let donor = stored
        .iter()
        .find(|c| !c.online && c.client_id != changed)
        .unwrap()
        .client_id
        .clone();
    let deleted = stored
        .iter()
        .find(|c| c.client_id != changed && c.client_id != donor)
        .unwrap()
        .client_id
        .clone();
    rt.block_on(async {
        let donor_item =
            aws_adapters::dynamo::get_item(&dynamo, &plan.table, &format!("client#{donor}"))
                .await
                .unwrap()
                .unwrap();
        let mut item = donor_item.clone();
        item.insert(
            "pk".into(),
            aws_sdk_dynamodb::types::AttributeValue::S(format!("client#{changed}")),
        );
        dynamo
            .put_item()
            .table_name(&plan.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
        dynamo
            .delete_item()
            .table_name(&plan.table)
            .set_key(Some(aws_adapters::item::key_of(format!(
                "client#{deleted}"
            ))))
            .send()
            .await
            .unwrap();
    });
    let diff = replay(&["diff", "--from", from, "--table", &to]);
    assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
    let report = stdout(&diff);
    assert!(
        report.starts_with(&format!(
            "equal {}, different 1, missing live 1, missing in replay 0",
            stored.len() - 2
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!("different {changed}:")),
        "{report}"
    );
    assert!(
        report.contains("  online: replayed true, live false"),
        "{report}"
    );
    assert!(
        report.contains(&format!("missing live (only replayed): {deleted}")),
        "{report}"
    );
    assert!(stderr(&diff).contains("2 of"), "{}", stderr(&diff));

    // `--client` repairs that client's own item and nothing else.
    let one = replay(&["rebuild", "--from", from, "--to", &to, "--client", &changed]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert!(
        stderr(&one).contains(": 1 items written"),
        "{}",
        stderr(&one)
    );
    let diff = replay(&["diff", "--from", from, "--table", &to]);
    assert!(
        stdout(&diff).starts_with(&format!(
            "equal {}, different 0, missing live 1, missing in replay 0",
            stored.len() - 1
        )),
        "{}",
        stdout(&diff)
    );

    // Rebuilding again repairs exactly the other one.
    let repair = replay(&["rebuild", "--from", from, "--to", &to]);
    assert!(
        stderr(&repair).contains(": 1 items written"),
        "{}",
        stderr(&repair)
    );
    let diff = replay(&["diff", "--from", from, "--table", &to]);
    assert_eq!(diff.status.code(), Some(0), "{}", stdout(&diff));
}

#[test]
fn replaying_the_stream_of_an_integration_run_gives_the_projections_the_processor_wrote() {
    use aws_adapters::checkpoint::DynamoCheckpoints;
    use aws_adapters::feedback::KinesisFeedback;
    use aws_adapters::quarantine_port::MemoryQuarantine;
    use aws_adapters::sink_port::RecordingSink;
    use aws_adapters::source::KinesisSource;
    use processor::consume::{consume, Options};
    use processor::lambda::Handler;
    use processor::settings::HandlerSettings;
    use std::sync::Arc;

    let rt = rt();
    let (kinesis, dynamo, plan) = rt.block_on(fixture(2));
    let lines = workload();
    let store = Arc::new(DynamoStore::new(dynamo.clone(), &plan.table));
    rt.block_on(async {
        put_lines(&kinesis, &plan.stream, &lines).await;
        let handler = Handler {
            store: store.clone(),
            quarantine: MemoryQuarantine::new(),
            sink: RecordingSink::new(),
            feedback: KinesisFeedback::new(kinesis.clone(), &plan.stream),
            settings: HandlerSettings::default(),
        };
        let source = KinesisSource::new(kinesis.clone(), &plan.stream);
        let checkpoints = DynamoCheckpoints::new(dynamo.clone(), &plan.table, &plan.stream);
        let options = Options {
            until_idle: true,
            limit: 500,
            ..Options::default()
        };
        consume(&source, &checkpoints, &handler, &options)
            .await
            .unwrap();
    });
    // What the processor wrote live, read back with its own store.
    let world = tests::aws::expected(&lines);
    let live = rt
        .block_on(tests::aws::stored(store.as_ref(), &world))
        .unwrap();
    let live_jsonl: String = live
        .iter()
        .map(|c| serde_json::to_string(c).unwrap() + "\n")
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let from = format!("kinesis://{}", plan.stream);
    let replayed = rebuild_jsonl(tmp.path(), &from, &[]);
    assert_eq!(replayed, live_jsonl);

    let diff = replay(&["diff", "--from", &from, "--table", &plan.table]);
    assert_eq!(diff.status.code(), Some(0), "{}", stdout(&diff));
    assert!(
        stdout(&diff).starts_with(&format!("equal {}, different 0,", live.len())),
        "{}",
        stdout(&diff)
    );
}

/// DynamoDB may leave part of a BatchWriteItem unprocessed (throttling, a partition at its
/// limit) and moto never does, so an SDK interceptor makes it: it takes items out of a request
/// before it is sent, and puts them back into the response as `UnprocessedItems`, exactly what
/// DynamoDB answers when it did not write them.
mod unprocessed {
    use aws_sdk_dynamodb::config::interceptors::{
        BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextMut,
    };
    use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
    use aws_sdk_dynamodb::error::BoxError;
    use aws_sdk_dynamodb::operation::batch_write_item::{
        BatchWriteItemInput, BatchWriteItemOutput,
    };
    use aws_sdk_dynamodb::types::WriteRequest;
    use aws_smithy_types::config_bag::{Storable, StoreReplace};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Holds back every other item of the first `calls` BatchWriteItem calls.
    #[derive(Debug, Clone)]
    pub struct HoldBack {
        pub calls: Arc<AtomicUsize>,
        pub held: Arc<AtomicUsize>,
    }

    /// What one call held back, from its request to its response.
    #[derive(Debug)]
    struct Held(HashMap<String, Vec<WriteRequest>>);

    impl Storable for Held {
        type Storer = StoreReplace<Self>;
    }

    impl Intercept for HoldBack {
        fn name(&self) -> &'static str {
            "HoldBack"
        }

        fn modify_before_serialization(
            &self,
            context: &mut BeforeSerializationInterceptorContextMut<'_>,
            _: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let Some(input) = context.input_mut().downcast_mut::<BatchWriteItemInput>() else {
                return Ok(());
            };
            let budget = self.calls.load(Ordering::SeqCst);
            if budget == 0 {
                return Ok(());
            }
            self.calls.store(budget - 1, Ordering::SeqCst);
            let mut held = HashMap::new();
            for (table, requests) in input.request_items.iter_mut().flatten() {
                let all = std::mem::take(requests);
                let (keep, hold): (Vec<_>, Vec<_>) =
                    all.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
                *requests = keep.into_iter().map(|(_, r)| r).collect();
                self.held.fetch_add(hold.len(), Ordering::SeqCst);
                held.insert(table.clone(), hold.into_iter().map(|(_, r)| r).collect());
            }
            cfg.interceptor_state().store_put(Held(held));
            Ok(())
        }

        fn modify_before_completion(
            &self,
            context: &mut FinalizerInterceptorContextMut<'_>,
            _: &RuntimeComponents,
            cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let Some(Held(held)) = cfg.load::<Held>() else {
                return Ok(());
            };
            let Some(Ok(output)) = context.output_or_error_mut() else {
                return Ok(());
            };
            if let Some(output) = output.downcast_mut::<BatchWriteItemOutput>() {
                let unprocessed = output.unprocessed_items.get_or_insert_with(HashMap::new);
                for (table, requests) in held {
                    unprocessed
                        .entry(table.clone())
                        .or_default()
                        .extend(requests.iter().cloned());
                }
            }
            Ok(())
        }
    }
}

#[test]
fn dynamodb_sink_writes_items_the_table_left_unprocessed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let rt = rt();
    let (_, _, plan) = rt.block_on(fixture(1));
    let hold_back = unprocessed::HoldBack {
        calls: Arc::new(AtomicUsize::new(5)),
        held: Arc::new(AtomicUsize::new(0)),
    };
    let lines = workload();
    let mut world = tests::aws::expected(&lines);
    let store = rt.block_on(async {
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk().await)
            .interceptor(hold_back.clone())
            .build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), &plan.table)
    });
    let outcome = rt
        .block_on(replay::sink::dynamodb::write_world(&store, &mut world, &[]))
        .unwrap();
    assert_eq!(
        hold_back.calls.load(Ordering::SeqCst),
        0,
        "five calls held items back"
    );
    assert!(hold_back.held.load(Ordering::SeqCst) > 20);
    assert!(outcome.written > 100);
    // Every item is there all the same, and the stored projections are the replayed ones.
    let stored = rt.block_on(tests::aws::stored(&store, &world)).unwrap();
    assert_eq!(stored, world.clients());
    let again = rt
        .block_on(replay::sink::dynamodb::write_world(&store, &mut world, &[]))
        .unwrap();
    assert_eq!(again.written, 0, "nothing is left to write");
}
