//! The processor's CloudWatch metrics, in the embedded metric format: one JSON line per batch on
//! the function's log, which CloudWatch turns into metrics with no API call and no latency.
//!
//! Namespace [`NAMESPACE`]; every metric by `FunctionName`, and the records and the age of the
//! oldest record also by `FunctionName` and `ShardId` (a shard falling behind shows there).

use crate::lambda::BatchReport;
use serde_json::{json, Map, Value};

/// The metrics' namespace.
pub const NAMESPACE: &str = "PresenceStream";

/// What the metrics line says of a batch besides its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchContext {
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function: String,
    /// The batch's shard.
    pub shard: String,
    /// When the batch was done, ms since the epoch.
    pub at_ms: u64,
    /// How long its oldest record had been on the stream when the batch started (from Kinesis's
    /// approximate arrival time), if known.
    pub oldest_age_ms: Option<u64>,
}

/// The metrics and their units, as the line names them.
const METRICS: [(&str, &str); 14] = [
    ("Records", "Count"),
    ("Quarantined", "Count"),
    ("RecordsRetried", "Count"),
    ("DeliveriesWebSocket", "Count"),
    ("DeliveriesMqtt", "Count"),
    ("DeliveriesPush", "Count"),
    ("ConnectionsGone", "Count"),
    ("DuplicatesSkipped", "Count"),
    ("Conflicts", "Count"),
    ("DynamoDBRequests", "Count"),
    ("DynamoDBReadUnits", "Count"),
    ("DynamoDBWriteUnits", "Count"),
    ("BatchDuration", "Milliseconds"),
    ("OldestRecordAge", "Milliseconds"),
];

/// The metrics by shard too.
const BY_SHARD: [&str; 2] = ["Records", "OldestRecordAge"];

/// The embedded-metric-format line of one batch.
pub fn batch_line(report: &BatchReport, ctx: &BatchContext) -> Value {
    let retried = report
        .failed_at
        .map_or(0, |at| report.records.saturating_sub(at));
    let values: [(&str, Option<u64>); 14] = [
        ("Records", Some(report.records as u64)),
        ("Quarantined", Some(report.quarantined as u64)),
        ("RecordsRetried", Some(retried as u64)),
        (
            "DeliveriesWebSocket",
            Some(report.by_channel.websocket as u64),
        ),
        ("DeliveriesMqtt", Some(report.by_channel.mqtt as u64)),
        ("DeliveriesPush", Some(report.by_channel.push as u64)),
        ("ConnectionsGone", Some(report.gone as u64)),
        ("DuplicatesSkipped", Some(report.duplicates as u64)),
        ("Conflicts", Some(report.conflicts as u64)),
        ("DynamoDBRequests", Some(report.cost.requests)),
        ("DynamoDBReadUnits", Some(report.cost.read_units)),
        ("DynamoDBWriteUnits", Some(report.cost.write_units)),
        ("BatchDuration", Some(report.millis)),
        ("OldestRecordAge", ctx.oldest_age_ms),
    ];
    let present = |name: &str| values.iter().any(|(n, v)| *n == name && v.is_some());
    let directive = |names: &mut dyn Iterator<Item = &str>| -> Vec<Value> {
        names
            .filter(|n| present(n))
            .map(|n| {
                let unit = METRICS
                    .iter()
                    .find(|(m, _)| *m == n)
                    .map_or("None", |m| m.1);
                json!({"Name": n, "Unit": unit})
            })
            .collect()
    };
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": ctx.at_ms,
            "CloudWatchMetrics": [
                {"Namespace": NAMESPACE, "Dimensions": [["FunctionName"]],
                 "Metrics": directive(&mut METRICS.iter().map(|m| m.0))},
                {"Namespace": NAMESPACE, "Dimensions": [["FunctionName", "ShardId"]],
                 "Metrics": directive(&mut BY_SHARD.into_iter())},
            ],
        }),
    );
    line.insert("FunctionName".into(), json!(ctx.function));
    line.insert("ShardId".into(), json!(ctx.shard));
    for (name, value) in values {
        if let Some(v) = value {
            line.insert(name.into(), json!(v));
        }
    }
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(oldest_age_ms: Option<u64>) -> BatchContext {
        BatchContext {
            function: "presence-processor".into(),
            shard: "shardId-000000000003".into(),
            at_ms: 1_732_350_000_000,
            oldest_age_ms,
        }
    }

    #[test]
    fn every_metric_a_directive_names_is_a_number_on_the_line() {
        let mut report = BatchReport {
            records: 100,
            failed_at: Some(90),
            quarantined: 1,
            ..BatchReport::default()
        };
        report.by_channel.websocket = 7;
        report.by_channel.push = 2;
        report.cost.requests = 12;
        report.millis = 85;
        let line = batch_line(&report, &ctx(Some(1_500)));
        let directives = line["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 2);
        for d in directives {
            assert_eq!(d["Namespace"], NAMESPACE);
            for dims in d["Dimensions"].as_array().unwrap() {
                for dim in dims.as_array().unwrap() {
                    assert!(line[dim.as_str().unwrap()].is_string(), "{dim}");
                }
            }
            for m in d["Metrics"].as_array().unwrap() {
                let name = m["Name"].as_str().unwrap();
                assert!(line[name].is_u64(), "{name} missing from {line}");
            }
        }
        assert_eq!(directives[0]["Metrics"].as_array().unwrap().len(), 14);
        assert_eq!(line["Records"], 100);
        assert_eq!(line["RecordsRetried"], 10);
        assert_eq!(line["DeliveriesWebSocket"], 7);
        assert_eq!(line["DeliveriesPush"], 2);
        assert_eq!(line["OldestRecordAge"], 1_500);
        assert_eq!(line["_aws"]["Timestamp"], 1_732_350_000_000u64);
    }

    #[test]
    fn an_unknown_age_is_left_out_not_zero() {
        let line = batch_line(&BatchReport::default(), &ctx(None));
        assert!(line.get("OldestRecordAge").is_none());
        let names: Vec<&str> = line["_aws"]["CloudWatchMetrics"][1]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Records"]);
    }
}
