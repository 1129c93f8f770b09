//! The SNS push sink, the S3 quarantine and the Kinesis ingest writer against moto's server.
//! One moto per test, each resource named uniquely; polling with deadlines, never fixed sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use aws_adapters::quarantine_aws::S3Quarantine;
use aws_adapters::quarantine_port::{PoisonRecord, Quarantine};
use aws_adapters::sink_port::{DeliveryOutcome, DeliverySink};
use aws_adapters::sinks::{AwsRouter, SinksConfig, SnsPushSink};
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use base64::Engine;
use processor::ingest::{handle, Identity, KinesisWriter};
use projections::{Channel, Delivery};
use schemas::{decode_json, EventId, Record};
use std::time::{Duration, Instant};
use support::moto::{unique, Moto};

fn push_to(client_id: &str) -> Delivery {
    Delivery::new(
        EventId(9),
        Channel::Push {
            client_id: client_id.into(),
        },
        None,
        serde_json::json!({"type": "message", "from": "alice", "chatId": "42", "message": "hi"}),
    )
}

fn sns_client(moto: &Moto, sdk: &aws_config::SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(sdk)
            .endpoint_url(&moto.endpoint)
            .build(),
    )
}

/// A new standard SNS topic in the emulator; its ARN.
async fn push_topic(sns: &aws_sdk_sns::Client) -> String {
    let topic = sns
        .create_topic()
        .name(unique("push"))
        .send()
        .await
        .unwrap();
    topic.topic_arn().unwrap().to_owned()
}

#[tokio::test]
async fn sns_push_sink_publishes_and_a_missing_topic_is_fatal() {
    let moto = Moto::start();
    let sdk = support::sdk_config();
    let sns = sns_client(&moto, &sdk);
    let topic = push_topic(&sns).await;
    let arn = topic.as_str();
    let sink = SnsPushSink::new(&sdk, Some(&moto.endpoint), arn);
    assert_eq!(
        sink.deliver(&push_to("bob")).await,
        Ok(DeliveryOutcome::Sent)
    );

    let missing = arn.replace("push-", "missing-");
    let sink = SnsPushSink::new(&sdk, Some(&moto.endpoint), &missing);
    let err = sink.deliver(&push_to("bob")).await.unwrap_err();
    assert!(!err.retryable, "{err}");

    // A FIFO topic gets a group and a de-duplication id (moto rejects a FIFO publish without).
    let fifo = sns
        .create_topic()
        .name(format!("{}.fifo", unique("push")))
        .attributes("FifoTopic", "true")
        .send()
        .await
        .unwrap();
    let sink = SnsPushSink::new(&sdk, Some(&moto.endpoint), fifo.topic_arn().unwrap());
    assert_eq!(
        sink.deliver(&push_to("bob")).await,
        Ok(DeliveryOutcome::Sent)
    );
}

#[tokio::test]
async fn s3_quarantine_puts_one_object_per_record() {
    let moto = Moto::start();
    let sdk = support::sdk_config();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .endpoint_url(&moto.endpoint)
            .force_path_style(true)
            .build(),
    );
    let bucket = unique("poison");
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let quarantine = S3Quarantine::new(&sdk, Some(&moto.endpoint), &bucket, "quarantine");
    let item = PoisonRecord {
        raw: br#"{"eventType":"connected","timestamp":"yesterday"}"#.to_vec(),
        error: "field `timestamp`: expected a ms epoch".into(),
        shard: "shardId-000000000000".into(),
        sequence_number: "49590338271490256608559692538361571095921575989136588898".into(),
        at_ms: 1_732_350_004_100,
        delivery_id: None,
    };
    quarantine.put(item.clone()).await.unwrap();
    // Idempotent: a retried batch quarantines onto the same object.
    quarantine.put(item.clone()).await.unwrap();

    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        ["quarantine/shardId-000000000000/49590338271490256608559692538361571095921575989136588898.json"]
    );
    let object = s3
        .get_object()
        .bucket(&bucket)
        .key(keys[0])
        .send()
        .await
        .unwrap();
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["error"], item.error.as_str());
    assert_eq!(value["sequenceNumber"], item.sequence_number.as_str());
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value["rawBase64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, item.raw);

    // A missing bucket is not retryable.
    let missing = S3Quarantine::new(&sdk, Some(&moto.endpoint), &unique("nobucket"), "q");
    let err = missing.put(item).await.unwrap_err();
    assert!(!err.retryable, "{err}");
}

#[tokio::test]
async fn ingest_writes_the_record_to_kinesis_by_connection_id() {
    let moto = Moto::start();
    let sdk = support::sdk_config();
    let kinesis = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::config::Builder::from(&sdk)
            .endpoint_url(&moto.endpoint)
            .build(),
    );
    let stream = unique("presence");
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(1)
        .send()
        .await
        .unwrap();
    // Poll until the stream is active, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let description = kinesis
            .describe_stream()
            .stream_name(&stream)
            .send()
            .await
            .unwrap();
        let status = description
            .stream_description()
            .map(|d| d.stream_status().clone());
        if status == Some(aws_sdk_kinesis::types::StreamStatus::Active) {
            break;
        }
        assert!(Instant::now() < deadline, "stream not active: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/apigw/sendmessage.event.json");
    let event: ApiGatewayWebsocketProxyRequest =
        serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let writer = KinesisWriter::new(&sdk, Some(&moto.endpoint), &stream);
    let response = handle(&writer, &event, Identity::Authenticated).await;
    assert_eq!(response.status_code, 200);

    let shards = kinesis
        .list_shards()
        .stream_name(&stream)
        .send()
        .await
        .unwrap();
    let shard = shards.shards()[0].shard_id().to_owned();
    let iterator = kinesis
        .get_shard_iterator()
        .stream_name(&stream)
        .shard_id(&shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let records = kinesis
        .get_records()
        .shard_iterator(iterator.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    let records = records.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].partition_key(), Some("BxRJocWOjoECJkw="));
    let Ok(Record::WebSocket(record)) = decode_json(records[0].data().as_ref()) else {
        panic!("not a websocket record")
    };
    assert_eq!(record.route_key, "sendmessage");
    assert_eq!(record.client_id.as_deref(), Some("bob"));

    // A stream that does not exist: a 500 the client can read, nothing written.
    let writer = KinesisWriter::new(&sdk, Some(&moto.endpoint), &unique("nostream"));
    let response = handle(&writer, &event, Identity::Authenticated).await;
    assert_eq!(response.status_code, 500);
}

#[tokio::test]
async fn router_from_config_sends_mqtt_and_push_and_names_missing_settings() {
    let moto = Moto::start();
    let sdk = support::sdk_config();
    let topic = push_topic(&sns_client(&moto, &sdk)).await;
    let config = SinksConfig {
        iot_data_endpoint: Some(moto.endpoint.clone()),
        ..SinksConfig::default()
    };
    let mut router = AwsRouter::from_config(&sdk, &config);
    // SNS's endpoint comes from `AWS_ENDPOINT_URL_SNS` in production; here, explicitly.
    router.push = Some(SnsPushSink::new(&sdk, Some(&moto.endpoint), &topic));

    let mqtt = Delivery::new(
        EventId(3),
        Channel::Mqtt {
            topic: "app/bob/chat/42".into(),
        },
        None,
        serde_json::json!({"type": "message", "chatId": "42", "message": "hi"}),
    );
    assert_eq!(router.deliver(&mqtt).await, Ok(DeliveryOutcome::Sent));
    assert_eq!(
        router.deliver(&push_to("bob")).await,
        Ok(DeliveryOutcome::Sent)
    );
    let ws = Delivery::new(
        EventId(3),
        Channel::WebSocket {
            connection_id: "c1".into(),
        },
        None,
        serde_json::json!({}),
    );
    let err = router.deliver(&ws).await.unwrap_err();
    assert!(!err.retryable);
    assert!(err.message.contains("WEBSOCKET_API_ENDPOINT"), "{err}");
}

/// `processor provision` and `processor consume` as a user runs them, against moto: provision
/// creates what consume needs and prints the settings to export; consume folds the README's
/// example from the stream, prints its five deliveries, quarantines the broken line into the
/// provisioned bucket, and a second run reads nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_then_consume_as_commands() {
    const BIN: &str = env!("CARGO_BIN_EXE_processor");
    let moto = Moto::start();
    let stream = unique("cli-stream");
    let table = unique("cli-table");
    let command = |args: &[&str], env: &[(String, String)]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .args([
                "--stream",
                &stream,
                "--table",
                &table,
                "--endpoint-url",
                &moto.endpoint,
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            // The region of the test's own clients (`support::sdk_config`).
            .env("AWS_REGION", "eu-west-1")
            .env_remove("QUARANTINE_URL")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {stderr}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    };

    let (_, provisioned) = command(&["provision"], &[]);
    let exports: Vec<(String, String)> = provisioned
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let quarantine_url = exports
        .iter()
        .find(|(k, _)| k == "QUARANTINE_URL")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no QUARANTINE_URL in {provisioned}"));

    let sdk = support::sdk_config();
    let kinesis = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::config::Builder::from(&sdk)
            .endpoint_url(&moto.endpoint)
            .build(),
    );
    let example = include_str!("../../examples/seeds.jsonl");
    for line in example.lines().filter(|l| !l.trim().is_empty()) {
        kinesis
            .put_record()
            .stream_name(&stream)
            .partition_key("k")
            .data(aws_sdk_kinesis::primitives::Blob::new(line.as_bytes()))
            .send()
            .await
            .unwrap();
    }

    let (deliveries, summary) = command(&["consume", "--until-idle"], &exports);
    assert!(summary.contains("consumed 21 records"), "{summary}");
    // Deliveries to different targets go out concurrently: compare them as a set.
    let mut channels: Vec<String> = deliveries
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["channel"].to_string())
        .collect();
    channels.sort();
    assert_eq!(
        channels,
        [
            r#""mqtt""#,
            r#""push""#,
            r#""websocket""#,
            r#""websocket""#,
            r#""websocket""#
        ],
        "{deliveries}"
    );

    let (bucket, prefix) = quarantine_url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .endpoint_url(&moto.endpoint)
            .force_path_style(true)
            .build(),
    );
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1, "{listed:?}");

    let (again, summary) = command(&["consume", "--until-idle"], &exports);
    assert!(again.is_empty(), "{again}");
    assert!(summary.contains("consumed 0 records"), "{summary}");
}
