//! Running under `lambda_runtime`: clients built once at cold start from the typed
//! configuration, then one [`Handler::handle`] per event.

use crate::lambda::handler::{now_ms, BatchReport, Handler};
use crate::lambda::metrics::{batch_line, emit, function_name, BatchContext};
use crate::settings::AwsConfig;
use aws_adapters::clients;
use aws_adapters::dynamo::DynamoStore;
use aws_adapters::feedback::{Feedback, KinesisFeedback};
use aws_adapters::quarantine_aws::S3Quarantine;
use aws_adapters::quarantine_port::Quarantine;
use aws_adapters::sink_port::DeliverySink;
use aws_adapters::sinks::{AwsRouter, ConfigError, SinksConfig};
use aws_adapters::source::InRecord;
use aws_adapters::store_port::RevisionedStore;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

/// The batch of a Kinesis event, in order. The shard comes from `eventID`
/// (`shardId-000000000000:4954...`).
pub fn batch_of(event: KinesisEvent) -> Vec<InRecord> {
    event
        .records
        .into_iter()
        .map(|r| {
            let shard = r
                .event_id
                .as_deref()
                .and_then(|id| id.split_once(':'))
                .map(|(shard, _)| shard.to_owned())
                .unwrap_or_default();
            InRecord {
                shard,
                seq: r.kinesis.sequence_number,
                data: r.kinesis.data.0,
            }
        })
        .collect()
}

/// The partial batch response: the first record that did not complete, or nothing.
pub fn response(batch: &[InRecord], report: &BatchReport) -> KinesisEventResponse {
    let mut response = KinesisEventResponse::default();
    if let Some(r) = report.failed_at.and_then(|i| batch.get(i)) {
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = Some(r.seq.clone());
        response.batch_item_failures.push(failure);
    }
    response
}

/// Handles one Lambda event, and writes its metrics line for `function`.
pub async fn handle_event<S, Q, D, F>(
    handler: &Handler<S, Q, D, F>,
    event: KinesisEvent,
    function: &str,
) -> KinesisEventResponse
where
    S: RevisionedStore,
    Q: Quarantine,
    D: DeliverySink,
    F: Feedback,
{
    let oldest = event
        .records
        .iter()
        .map(|r| r.kinesis.approximate_arrival_timestamp.0.timestamp_millis())
        .min()
        .and_then(|ms| u64::try_from(ms).ok());
    let started = now_ms();
    let batch = batch_of(event);
    let report = handler.handle(&batch).await;
    if let Some(first) = batch.first() {
        let ctx = BatchContext {
            function: function.to_owned(),
            shard: first.shard.clone(),
            at_ms: now_ms(),
            oldest_age_ms: oldest.map(|at| started.saturating_sub(at)),
        };
        emit(&batch_line(&report, &ctx));
    }
    response(&batch, &report)
}

/// Runs the Lambda: configuration and clients at cold start, then events until the runtime
/// stops. Deliveries go to the real channels (API Gateway `@connections`, IoT data plane, SNS),
/// poison records to the S3 quarantine (`QUARANTINE_URL`, required here), feedback to the stream.
///
/// # Errors
/// Bad configuration (naming the variable), or the runtime API failing.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let config = AwsConfig::from_env()?;
    let sinks = SinksConfig::from_env()?;
    // In Lambda a poison record must land somewhere durable: the bucket is required.
    let target = sinks.quarantine.clone().ok_or_else(|| {
        ConfigError::new("QUARANTINE_URL", "required, not set (s3://bucket/prefix)")
    })?;
    let sdk = clients::sdk_config(config.endpoint_url.as_deref()).await;
    let handler = Arc::new(Handler {
        store: DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table)
            .for_fold(&config.handler.fold),
        quarantine: S3Quarantine::for_target(&sdk, None, &target),
        sink: AwsRouter::from_config(&sdk, &sinks),
        feedback: KinesisFeedback::new(aws_sdk_kinesis::Client::new(&sdk), &config.stream),
        settings: config.handler.clone(),
    });
    tracing::info!(table = %config.table, stream = %config.stream, "cold start");
    let function: Arc<str> = function_name().into();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisEvent>| {
        let handler = Arc::clone(&handler);
        let function = Arc::clone(&function);
        async move {
            let response = handle_event(&handler, event.payload, &function).await;
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Kinesis event as Lambda delivers it (AWS's documented example, two records on one shard).
    fn event() -> KinesisEvent {
        let record = |n: u32, data: &str| {
            let seq = format!("4959033827149025660855969253836157109592157598913658889{n}");
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "alice-conn",
                    "sequenceNumber": seq,
                    "data": data,
                    "approximateArrivalTimestamp": 1_545_084_650.987
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000006:{seq}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role",
                "awsRegion": "us-east-2",
                "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
            })
        };
        let records = [record(1, "eyJhIjoxfQ=="), record(2, "eyJiIjoyfQ==")];
        serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
    }

    #[test]
    fn a_batch_keeps_order_shard_sequence_and_bytes() {
        let batch = batch_of(event());
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].shard, "shardId-000000000006");
        assert!(batch[0].seq.ends_with("8891"));
        assert_eq!(batch[0].data, br#"{"a":1}"#);
        assert_eq!(batch[1].data, br#"{"b":2}"#);
    }

    #[test]
    fn the_response_names_the_first_record_that_did_not_complete() {
        let batch = batch_of(event());
        let done = response(&batch, &BatchReport::default());
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            serde_json::json!({"batchItemFailures": []})
        );
        let failed = BatchReport {
            failed_at: Some(1),
            ..BatchReport::default()
        };
        assert_eq!(
            serde_json::to_value(response(&batch, &failed)).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": batch[1].seq}]})
        );
    }
}
