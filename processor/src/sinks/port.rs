//! The ports the processor's handler talks to: where deliveries go ([`DeliverySink`]) and where
//! poison records go ([`Quarantine`]).
//!
//! These are the shapes part A's `aws::sink_port` and `aws::quarantine_port` define; they live here
//! too so both halves could be written at once, and are unified when merged.

use std::future::Future;

/// What became of one delivery that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The target accepted it.
    Sent,
    /// The target no longer exists (API Gateway's 410 `GoneException`): the caller feeds a
    /// `connection_gone` record back to the stream.
    Gone,
    /// The target refused the payload as too large. Retrying can never succeed: the caller
    /// quarantines the delivery instead.
    TooLarge,
}

/// A delivery failed. `retryable` says what the caller does next: retry the batch from this
/// record (throttling, 5xx, network), or give up on this delivery (forbidden, bad request,
/// misconfiguration) and log it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// Whether trying again later may succeed.
    pub retryable: bool,
    /// What went wrong, for logs.
    pub message: String,
}

impl SinkError {
    /// A failure that may go away: throttling, 5xx, timeouts, network.
    pub fn retryable(message: impl Into<String>) -> Self {
        SinkError {
            retryable: true,
            message: message.into(),
        }
    }

    /// A failure that will not go away by retrying.
    pub fn fatal(message: impl Into<String>) -> Self {
        SinkError {
            retryable: false,
            message: message.into(),
        }
    }
}

/// Sends deliveries.
pub trait DeliverySink {
    /// Sends one delivery.
    fn deliver(
        &self,
        d: &projections::Delivery,
    ) -> impl Future<Output = Result<DeliveryOutcome, SinkError>> + Send;
}

/// A record that could not be decoded or processed, kept with why (DESIGN.md section 5, step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoisonRecord {
    /// The record's bytes, exactly as read from the stream.
    pub raw: Vec<u8>,
    /// Why it was quarantined.
    pub error: String,
    /// The Kinesis shard it came from.
    pub shard: String,
    /// Its sequence number in that shard.
    pub sequence_number: String,
    /// When it was quarantined, ms epoch (wall clock: an operator's record, not part of the fold).
    pub at_ms: u64,
}

/// Writing to the quarantine failed. The caller must not drop the record: it reports the batch
/// as failed from this record, so it is retried (and quarantined again, idempotently).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quarantine: {message}")]
pub struct QuarantineError {
    /// Whether trying again later may succeed.
    pub retryable: bool,
    /// What went wrong, for logs.
    pub message: String,
}

/// Keeps poison records.
pub trait Quarantine {
    /// Stores one poison record.
    fn put(&self, item: PoisonRecord) -> impl Future<Output = Result<(), QuarantineError>> + Send;
}
