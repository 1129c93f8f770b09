//! The processor's CloudWatch metrics, in the embedded metric format: one JSON line per batch on
//! the function's log, which CloudWatch turns into metrics with no API call and no latency.
//!
//! Namespace [`NAMESPACE`]; every metric by `FunctionName`, and a batch's records and the age of
//! its oldest record also by `FunctionName` and `ShardId` (a shard falling behind shows there).
//! The sweeper writes a line per sweep and ingest one per event.

use crate::lambda::BatchReport;
use aws_adapters::sweep::SweepReport;
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

/// A metric's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// A duration.
    Milliseconds,
}

/// One metric on a line: its name, unit and value (none: left out, not zero).
pub type Metric = (&'static str, Unit, Option<u64>);

/// The metrics also written by `ShardId`.
const BY_SHARD: [&str; 2] = ["Records", "OldestRecordAge"];

/// An embedded-metric-format line: `metrics` by `FunctionName`, and those named in `by_shard`
/// by `FunctionName` and `ShardId` too when a shard is given.
pub fn line(
    function: &str,
    shard: Option<&str>,
    at_ms: u64,
    metrics: &[Metric],
    by_shard: &[&str],
) -> Value {
    let directive = |only: Option<&[&str]>| -> Vec<Value> {
        metrics
            .iter()
            .filter(|(name, _, value)| value.is_some() && only.is_none_or(|o| o.contains(name)))
            .map(|(name, unit, _)| {
                let unit = match unit {
                    Unit::Count => "Count",
                    Unit::Milliseconds => "Milliseconds",
                };
                json!({"Name": name, "Unit": unit})
            })
            .collect()
    };
    let mut directives = vec![
        json!({"Namespace": NAMESPACE, "Dimensions": [["FunctionName"]],
                                     "Metrics": directive(None)}),
    ];
    let mut out = Map::new();
    out.insert("FunctionName".into(), json!(function));
    if let Some(shard) = shard {
        directives.push(
            json!({"Namespace": NAMESPACE, "Dimensions": [["FunctionName", "ShardId"]],
                               "Metrics": directive(Some(by_shard))}),
        );
        out.insert("ShardId".into(), json!(shard));
    }
    out.insert(
        "_aws".into(),
        json!({"Timestamp": at_ms, "CloudWatchMetrics": directives}),
    );
    for (name, _, value) in metrics {
        if let Some(v) = value {
            out.insert((*name).into(), json!(v));
        }
    }
    Value::Object(out)
}

/// The line of one processor batch.
pub fn batch_line(report: &BatchReport, ctx: &BatchContext) -> Value {
    let n = |v: usize| Some(v as u64);
    let retried = report
        .failed_at
        .map_or(0, |at| report.records.saturating_sub(at));
    let metrics = [
        ("Records", Unit::Count, n(report.records)),
        ("Quarantined", Unit::Count, n(report.quarantined)),
        ("RecordsRetried", Unit::Count, n(retried)),
        (
            "DeliveriesWebSocket",
            Unit::Count,
            n(report.by_channel.websocket),
        ),
        ("DeliveriesMqtt", Unit::Count, n(report.by_channel.mqtt)),
        ("DeliveriesPush", Unit::Count, n(report.by_channel.push)),
        ("ConnectionsGone", Unit::Count, n(report.gone)),
        ("DuplicatesSkipped", Unit::Count, n(report.duplicates)),
        ("Conflicts", Unit::Count, n(report.conflicts)),
        ("DynamoDBRequests", Unit::Count, Some(report.cost.requests)),
        (
            "DynamoDBReadUnits",
            Unit::Count,
            Some(report.cost.read_units),
        ),
        (
            "DynamoDBWriteUnits",
            Unit::Count,
            Some(report.cost.write_units),
        ),
        ("BatchDuration", Unit::Milliseconds, Some(report.millis)),
        ("OldestRecordAge", Unit::Milliseconds, ctx.oldest_age_ms),
    ];
    line(
        &ctx.function,
        Some(&ctx.shard),
        ctx.at_ms,
        &metrics,
        &BY_SHARD,
    )
}

/// The line of one sweep.
pub fn sweep_line(report: &SweepReport, function: &str, at_ms: u64) -> Value {
    let n = |v: usize| Some(v as u64);
    let metrics = [
        ("ShardsTicked", Unit::Count, n(report.ticked)),
        ("ConnectionsOpen", Unit::Count, n(report.open)),
        ("ConnectionsExpired", Unit::Count, n(report.expired)),
        ("ConnectionsProbed", Unit::Count, n(report.probed)),
        ("ConnectionsGone", Unit::Count, n(report.gone)),
        ("ConnectionsDeferred", Unit::Count, n(report.deferred)),
        ("SweepFailures", Unit::Count, n(report.failures.len())),
    ];
    line(function, None, at_ms, &metrics, &[])
}

/// The line of one ingest event, by what became of it: written (a 2xx answer), refused (4xx),
/// or not written (5xx).
pub fn ingest_line(status: i64, function: &str, at_ms: u64) -> Value {
    let is = |range: std::ops::Range<i64>| Some(u64::from(range.contains(&status)));
    let metrics = [
        ("EventsWritten", Unit::Count, is(200..300)),
        ("EventsRefused", Unit::Count, is(400..500)),
        ("EventsNotWritten", Unit::Count, is(500..600)),
    ];
    line(function, None, at_ms, &metrics, &[])
}

/// The function's name, the metrics' `FunctionName` (read once, at cold start).
pub fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default()
}

/// Writes a metrics line on the function's log (stdout, a line of its own).
pub fn emit(line: &Value) {
    println!("{line}");
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
    fn ingest_counts_each_event_by_what_became_of_it() {
        let written = ingest_line(200, "ingest", 1);
        assert_eq!(
            (
                &written["EventsWritten"],
                &written["EventsRefused"],
                &written["EventsNotWritten"]
            ),
            (&json!(1), &json!(0), &json!(0))
        );
        assert_eq!(ingest_line(401, "ingest", 1)["EventsRefused"], 1);
        assert_eq!(ingest_line(500, "ingest", 1)["EventsNotWritten"], 1);
        // No shard: one directive, by function.
        assert_eq!(
            written["_aws"]["CloudWatchMetrics"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(written.get("ShardId").is_none());
    }

    #[test]
    fn a_sweep_says_what_it_found() {
        let report = SweepReport {
            ticked: 4,
            open: 10,
            gone: 2,
            failures: vec!["throttled".into()],
            ..SweepReport::default()
        };
        let line = sweep_line(&report, "sweeper", 1);
        assert_eq!(line["ShardsTicked"], 4);
        assert_eq!(line["ConnectionsGone"], 2);
        assert_eq!(line["SweepFailures"], 1);
        let named = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(named, 7);
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
