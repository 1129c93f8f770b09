//! The `dynamodb://` sink read back with the processor's store, `replay diff`, and replaying
//! what an integration run put on the stream.

use crate::common::{self, stderr, stdout, workload};
use crate::{fixture, put_lines, rebuild_jsonl, rt, run_replay};
use aws_adapters::dynamo::DynamoStore;

#[test]
fn dynamodb_sink_writes_processor_items_idempotently_and_diff_finds_changes() {
    let rt = rt();
    let (_, dynamo, plan) = rt.block_on(fixture(1));
    let lines = workload();
    let tmp = tempfile::tempdir().unwrap();
    let file = common::write(tmp.path(), "events.jsonl", lines.join("\n").as_bytes());
    let from = file.to_str().unwrap();
    let to = format!("dynamodb://{}", plan.table);

    let run = run_replay(&["rebuild", "--from", from, "--to", &to]);
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
    let again = run_replay(&["rebuild", "--from", from, "--to", &to]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(": 0 items written"),
        "{}",
        stderr(&again)
    );

    // diff: equal.
    let diff = run_replay(&["diff", "--from", from, "--table", &plan.table]);
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
    let diff = run_replay(&["diff", "--from", from, "--table", &to]);
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
    let one = run_replay(&["rebuild", "--from", from, "--to", &to, "--client", &changed]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert!(
        stderr(&one).contains(": 1 items written"),
        "{}",
        stderr(&one)
    );
    let diff = run_replay(&["diff", "--from", from, "--table", &to]);
    assert!(
        stdout(&diff).starts_with(&format!(
            "equal {}, different 0, missing live 1, missing in replay 0",
            stored.len() - 1
        )),
        "{}",
        stdout(&diff)
    );

    // Rebuilding again repairs exactly the other one.
    let repair = run_replay(&["rebuild", "--from", from, "--to", &to]);
    assert!(
        stderr(&repair).contains(": 1 items written"),
        "{}",
        stderr(&repair)
    );
    let diff = run_replay(&["diff", "--from", from, "--table", &to]);
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

    let diff = run_replay(&["diff", "--from", &from, "--table", &plan.table]);
    assert_eq!(diff.status.code(), Some(0), "{}", stdout(&diff));
    assert!(
        stdout(&diff).starts_with(&format!("equal {}, different 0,", live.len())),
        "{}",
        stdout(&diff)
    );
}
