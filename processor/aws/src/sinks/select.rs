//! Choosing adapters at start-up: the real AWS delivery sinks or stdout, an S3 quarantine or the
//! log. The handler is generic over its ports; these enums let one binary pick at run time.

use super::{AwsRouter, SinksConfig};
use crate::quarantine_aws::S3Quarantine;
use crate::quarantine_port::{LogQuarantine, PoisonRecord, Quarantine, QuarantineError};
use crate::sink_port::{DeliveryOutcome, DeliverySink, SinkError, StdoutSink};
use aws_config::SdkConfig;
use projections::Delivery;

/// Where deliveries go.
#[derive(Debug)]
pub enum AnySink {
    /// API Gateway `PostToConnection`, IoT publish, SNS push.
    Aws(Box<AwsRouter>),
    /// One JSON line per delivery on stdout (local runs, emulators without `@connections`).
    Stdout(StdoutSink),
}

impl AnySink {
    /// The AWS sinks as `config` sets them up.
    pub fn aws(sdk: &SdkConfig, config: &SinksConfig) -> Self {
        AnySink::Aws(Box::new(AwsRouter::from_config(sdk, config)))
    }
}

impl DeliverySink for AnySink {
    async fn deliver(&self, d: &Delivery) -> Result<DeliveryOutcome, SinkError> {
        match self {
            AnySink::Aws(router) => router.deliver(d).await,
            AnySink::Stdout(stdout) => stdout.deliver(d).await,
        }
    }
}

/// Where poison records go.
#[derive(Debug)]
pub enum AnyQuarantine {
    /// An S3 object per poison record (`QUARANTINE_URL=s3://bucket/prefix`).
    S3(S3Quarantine),
    /// The log only (stderr): for local runs without a bucket.
    Log(LogQuarantine),
}

impl AnyQuarantine {
    /// S3 if `config` names a target, else the log.
    pub fn from_config(sdk: &SdkConfig, config: &SinksConfig) -> Self {
        match &config.quarantine {
            Some(target) => AnyQuarantine::S3(S3Quarantine::for_target(sdk, None, target)),
            None => AnyQuarantine::Log(LogQuarantine),
        }
    }
}

impl Quarantine for AnyQuarantine {
    async fn put(&self, item: PoisonRecord) -> Result<(), QuarantineError> {
        match self {
            AnyQuarantine::S3(s3) => s3.put(item).await,
            AnyQuarantine::Log(log) => log.put(item).await,
        }
    }
}
