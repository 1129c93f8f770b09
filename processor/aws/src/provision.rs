//! `processor provision`: create the stream and the table (with TTL on `ttl`), idempotently, and
//! wait until both are active, polling with a deadline.

use anyhow::{bail, Context, Result};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_kinesis::types::StreamStatus;
use std::time::{Duration, Instant};

/// How long to wait for a resource to become active.
const DEADLINE: Duration = Duration::from_secs(120);

/// What to create.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The Kinesis stream.
    pub stream: String,
    /// Its shard count, when it has to be created.
    pub shards: i32,
    /// The DynamoDB table.
    pub table: String,
}

/// Creates whatever of `plan` does not exist yet. Returns what it did, one line per resource.
///
/// # Errors
/// AWS errors other than "already exists", or a resource not active before the deadline.
pub async fn provision(
    kinesis: &aws_sdk_kinesis::Client,
    dynamo: &aws_sdk_dynamodb::Client,
    plan: &Plan,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let created = kinesis
        .create_stream()
        .stream_name(&plan.stream)
        .shard_count(plan.shards)
        .send()
        .await;
    match created {
        Ok(_) => done.push(format!(
            "stream {}: created ({} shards)",
            plan.stream, plan.shards
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            done.push(format!("stream {}: exists", plan.stream))
        }
        Err(e) => {
            bail!(
                "creating stream {}: {}",
                plan.stream,
                aws_sdk_kinesis::error::DisplayErrorContext(e)
            )
        }
    }
    wait(&format!("stream {}", plan.stream), || async {
        let out = kinesis
            .describe_stream_summary()
            .stream_name(&plan.stream)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_kinesis::error::DisplayErrorContext(e)))?;
        Ok(out
            .stream_description_summary
            .is_some_and(|s| s.stream_status == StreamStatus::Active))
    })
    .await?;

    let key = |name: &str, t| -> Result<KeySchemaElement> {
        Ok(KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()?)
    };
    let attr = |name: &str| -> Result<AttributeDefinition> {
        Ok(AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()?)
    };
    let created = dynamo
        .create_table()
        .table_name(&plan.table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .send()
        .await;
    match created {
        Ok(_) => done.push(format!("table {}: created", plan.table)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            done.push(format!("table {}: exists", plan.table))
        }
        Err(e) => {
            bail!(
                "creating table {}: {}",
                plan.table,
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        }
    }
    wait(&format!("table {}", plan.table), || async {
        let out = dynamo
            .describe_table()
            .table_name(&plan.table)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(out
            .table
            .and_then(|t| t.table_status)
            .is_some_and(|s| s == TableStatus::Active))
    })
    .await?;
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name("ttl")
        .build()?;
    let enabled = dynamo
        .update_time_to_live()
        .table_name(&plan.table)
        .time_to_live_specification(ttl)
        .send()
        .await;
    match enabled {
        Ok(_) => done.push(format!("table {}: TTL on `ttl`", plan.table)),
        // Enabling TTL twice is a ValidationException ("already enabled").
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                aws_sdk_dynamodb::error::ProvideErrorMetadata::message(s)
                    .is_some_and(|m| m.contains("already enabled"))
            }) =>
        {
            done.push(format!("table {}: TTL already on", plan.table))
        }
        Err(e) => {
            bail!(
                "enabling TTL on {}: {}",
                plan.table,
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        }
    }
    Ok(done)
}

/// Polls `active` until it says yes, backing off, for at most [`DEADLINE`].
async fn wait<F, Fut>(what: &str, active: F) -> Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if active()
            .await
            .with_context(|| format!("describing {what}"))?
        {
            return Ok(());
        }
        if start.elapsed() > DEADLINE {
            bail!("{what} not active after {DEADLINE:?}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
