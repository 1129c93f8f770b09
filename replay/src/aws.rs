//! What the AWS adapters share: a Tokio runtime per adapter (replay is otherwise synchronous: its
//! sources run on the decoding thread, its sinks on the main one) and the SDK configuration,
//! built with processor's own settings (the default credential and region chain, standard
//! retries, the `--endpoint-url` override).

use aws_config::SdkConfig;
use tokio::runtime::Runtime;

/// A single-threaded runtime that blocks the calling thread on each request.
///
/// # Errors
/// The runtime could not be built (no threads or file descriptors left).
pub fn runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The SDK configuration, with `endpoint_url` if given.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    aws_adapters::clients::sdk_config(endpoint_url).await
}

/// The S3 client: path-style addressing when an endpoint is given (emulators serve buckets
/// under the path, not as subdomains).
pub fn s3_client(sdk: &SdkConfig, endpoint_url: Option<&str>) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(endpoint_url.is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
