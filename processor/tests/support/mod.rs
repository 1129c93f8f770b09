//! Helpers shared by the adapter tests.

#![allow(dead_code)] // Each test crate uses a part.

pub mod moto;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sns::config::{Credentials, SharedCredentialsProvider};

/// An SDK config for a local endpoint: fixed test credentials, a region, and no SDK retries, so
/// a retryable answer reaches the adapter at once instead of after the SDK's backoff.
pub fn sdk_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .retry_config(RetryConfig::disabled())
        .build()
}
