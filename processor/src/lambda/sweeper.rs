//! The sweeper as a Lambda on an EventBridge schedule (every minute by default): the same
//! `processor-lambda` binary, chosen by the function's `Handler: sweeper` (Lambda passes it as
//! `_HANDLER`). Each invocation is one sweep ([`aws_adapters::sweep`]) at the Lambda's clock; the
//! report is logged (with its metrics line) and returned. The activity API Gateway reported is
//! remembered between invocations of a warm execution environment.

use crate::lambda::handler::now_ms;
use crate::lambda::metrics::{emit, function_name, sweep_line};
use crate::settings::{sweep_settings, AwsConfig};
use aws_adapters::clients;
use aws_adapters::dynamo::DynamoStore;
use aws_adapters::feedback::KinesisFeedback;
use aws_adapters::sinks::{ConfigError, SinksConfig};
use aws_adapters::sweep::probe::ApiGatewayProbe;
use aws_adapters::sweep::{SweepReport, Sweeper};
use lambda_runtime::{service_fn, LambdaEvent};
use std::sync::Arc;

/// The `Handler` value that makes `processor-lambda` the sweeper.
pub const HANDLER: &str = "sweeper";

/// Runs the sweeper: configuration and clients at cold start, then one sweep per scheduled
/// event until the runtime stops.
///
/// # Errors
/// Bad configuration (naming the variable), or the runtime API failing. A sweep that fails
/// (the lobby unreadable, the ticks not put) fails its invocation, so EventBridge retries it.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let config = AwsConfig::from_env()?;
    let settings = sweep_settings(|k| std::env::var(k).ok())?;
    let endpoint = SinksConfig::from_env()?.websocket_endpoint.ok_or_else(|| {
        ConfigError::new(
            "WEBSOCKET_API_ENDPOINT",
            "required, not set (or WEBSOCKET_API_DOMAIN and WEBSOCKET_API_STAGE)",
        )
    })?;
    let sdk = clients::sdk_config(config.endpoint_url.as_deref()).await;
    let sweeper = Arc::new(Sweeper::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table)
            .for_fold(&config.handler.fold),
        ApiGatewayProbe::new(&sdk, &endpoint),
        KinesisFeedback::new(aws_sdk_kinesis::Client::new(&sdk), &config.stream),
        settings,
    ));
    tracing::info!(table = %config.table, stream = %config.stream, "sweeper cold start");
    let function = Arc::new(function_name());
    lambda_runtime::run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let sweeper = Arc::clone(&sweeper);
        let function = Arc::clone(&function);
        async move {
            let report: SweepReport = sweeper.sweep(now_ms()).await?;
            report.log();
            emit(&sweep_line(&report, &function, now_ms()));
            Ok::<_, lambda_runtime::Error>(report)
        }
    }))
    .await
}
