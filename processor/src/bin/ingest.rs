//! The ingest Lambda: API Gateway WebSocket route events to the Kinesis stream.
//!
//! Settings (read once at cold start; a bad one stops the start with a message naming it):
//! `STREAM_NAME` (required), `ALLOW_ANONYMOUS` (`false` by default: only the `$connect`
//! authorizer's `principalId` names a connection's client), the SDK's usual region and credentials,
//! and optionally `AWS_ENDPOINT_URL_KINESIS` (or `AWS_ENDPOINT_URL`) to write to an emulator. Each
//! event writes a CloudWatch metrics line (`EventsWritten`, `EventsRefused`, `EventsNotWritten`).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use processor::ingest::{handle, IngestConfig, KinesisWriter};
use processor::lambda::handler::now_ms;
use processor::lambda::metrics::{emit, function_name, ingest_line};

type Event = aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line.
        .init();
    let config = IngestConfig::from_env()?;
    let sdk = aws_config::load_from_env().await;
    let writer = KinesisWriter::new(&sdk, None, &config.stream_name);
    let writer = &writer;
    let function = function_name();
    let function = function.as_str();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let response = handle(writer, &event.payload, config.identity).await;
        emit(&ingest_line(response.status_code, function, now_ms()));
        Ok::<_, Error>(response)
    }))
    .await
}
