//! The delivery sink port: how a decided [`Delivery`] reaches its recipient. The API Gateway,
//! IoT data-plane and SNS adapters implement it; [`RecordingSink`] records deliveries for tests
//! (and answers `Gone` for connections it is told are gone, or fails on demand).

use projections::Delivery;
use std::collections::HashSet;
use std::future::Future;
use std::sync::Mutex;

/// What became of one delivery that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Accepted by the service.
    Sent,
    /// The WebSocket connection no longer exists (API Gateway 410 `GoneException`): the
    /// processor feeds a `connection_gone` record back to the stream.
    Gone,
    /// Too large for the channel (API Gateway `PayloadTooLargeException`): never retried.
    TooLarge,
}

/// A delivery failed. `retryable` errors (throttling, 5xx, timeouts) retry the batch from the
/// record that caused the delivery; the others are quarantined and never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{channel} delivery {delivery_id}: {message}")]
pub struct SinkError {
    /// Whether trying again later may succeed.
    pub retryable: bool,
    /// The channel (`websocket`, `mqtt`, `push`).
    pub channel: &'static str,
    /// The delivery's id.
    pub delivery_id: String,
    /// What went wrong.
    pub message: String,
}

impl SinkError {
    /// An error about `d`.
    pub fn new(d: &Delivery, retryable: bool, message: impl Into<String>) -> Self {
        SinkError {
            retryable,
            channel: d.channel.name(),
            delivery_id: d.id.clone(),
            message: message.into(),
        }
    }
}

/// Sends deliveries. Called concurrently for different targets, in order for one target.
pub trait DeliverySink: Send + Sync {
    /// Sends one delivery.
    fn deliver(
        &self,
        d: &Delivery,
    ) -> impl Future<Output = Result<DeliveryOutcome, SinkError>> + Send;
}

impl<T: DeliverySink> DeliverySink for std::sync::Arc<T> {
    fn deliver(
        &self,
        d: &Delivery,
    ) -> impl Future<Output = Result<DeliveryOutcome, SinkError>> + Send {
        (**self).deliver(d)
    }
}

/// Records every delivery attempt that succeeded, in order.
#[derive(Debug, Default)]
pub struct RecordingSink {
    sent: Mutex<Vec<Delivery>>,
    gone: Mutex<HashSet<String>>,
}

impl RecordingSink {
    /// A sink that accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deliveries accepted so far (including those answered `Gone`), in order.
    pub fn sent(&self) -> Vec<Delivery> {
        self.sent.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// From now on, deliveries to this WebSocket connection answer `Gone`.
    pub fn set_gone(&self, connection_id: &str) {
        if let Ok(mut g) = self.gone.lock() {
            g.insert(connection_id.to_owned());
        }
    }
}

impl DeliverySink for RecordingSink {
    async fn deliver(&self, d: &Delivery) -> Result<DeliveryOutcome, SinkError> {
        let gone = match &d.channel {
            projections::Channel::WebSocket { connection_id } => self
                .gone
                .lock()
                .map(|g| g.contains(connection_id))
                .unwrap_or(false),
            _ => false,
        };
        self.sent
            .lock()
            .map_err(|_| SinkError::new(d, false, "poisoned lock"))?
            .push(d.clone());
        Ok(if gone {
            DeliveryOutcome::Gone
        } else {
            DeliveryOutcome::Sent
        })
    }
}

/// Prints each delivery as one JSON line on stdout, as `processor local` does: what
/// `processor consume` sends to by default (`--deliver stdout`).
#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutSink;

impl DeliverySink for StdoutSink {
    async fn deliver(&self, d: &Delivery) -> Result<DeliveryOutcome, SinkError> {
        let line = serde_json::to_string(d).map_err(|e| SinkError::new(d, false, e.to_string()))?;
        println!("{line}");
        Ok(DeliveryOutcome::Sent)
    }
}
