//! Building the AWS clients once, at start, with an optional endpoint override (an emulator).
//!
//! Retries: the SDK's standard retry mode retries throttling (`ThrottlingException`,
//! `ProvisionedThroughputExceededException`, `RequestLimitExceeded`), 5xx and transient network
//! errors with exponential backoff and full jitter; we raise its attempts from 3 to 5. What is
//! still failing after that is reported as a retryable batch failure, and Lambda (or `consume`)
//! retries the batch from the first record that did not complete.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// SDK attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 5;

/// The shared SDK configuration: the default credential and region chain, the endpoint override
/// if any, and standard retries.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// An SDK configuration for an emulator at `endpoint_url`: dummy credentials, `us-east-1`.
pub async fn emulator_config(endpoint_url: &str) -> SdkConfig {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "emulator");
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint_url)
        .credentials_provider(creds)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// A client of API Gateway's `@connections` API at `endpoint` (`https://{domain}/{stage}`, or a
/// test server's URL): each WebSocket API has its own, so it is always set explicitly.
pub fn connections_client(sdk: &SdkConfig, endpoint: &str) -> aws_sdk_apigatewaymanagement::Client {
    let conf = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_apigatewaymanagement::Client::from_conf(conf)
}
