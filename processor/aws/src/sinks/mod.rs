//! Delivery sinks on AWS, behind the [`DeliverySink`](crate::sink_port::DeliverySink) port.
//!
//! - [`apigw`]: WebSocket deliveries, API Gateway `PostToConnection`;
//! - [`iot`]: MQTT deliveries, IoT data-plane `Publish` (QoS 1);
//! - [`sns`]: push deliveries, SNS `Publish` to one topic with a `clientId` attribute;
//! - [`router`]: one sink dispatching each delivery to its channel's sink;
//! - [`classify`]: what every adapter's errors mean for the caller (gone, too large, retryable,
//!   fatal), decided in one place;
//! - [`config`]: the adapters' typed settings from the environment.
//!
//! Each adapter is built once at cold start from an [`aws_config::SdkConfig`] and an optional
//! endpoint override (an emulator, or the test `@connections` server).

pub mod apigw;
pub mod classify;
pub mod config;
pub mod iot;
pub mod router;
pub mod select;
pub mod sns;

pub use apigw::ApiGatewaySink;
pub use config::{ConfigError, SinksConfig};
pub use iot::IotSink;
pub use router::{AwsRouter, Router};
pub use select::{AnyQuarantine, AnySink};
pub use sns::SnsPushSink;
