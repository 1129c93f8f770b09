//! The feedback port: records the processor writes back to its own stream. Today one kind,
//! `connection_gone`, after a delivery got 410 Gone (API Gateway's `$disconnect` is best-effort,
//! so this is how a dead connection ends). [`KinesisFeedback`] puts it on the stream with the
//! connection id as partition key, so it lands in the shard of the connection's other records.

use aws_sdk_kinesis::primitives::Blob;
use schemas::{ConnectionGone, Record};
use std::future::Future;
use std::sync::Mutex;

/// Writing feedback failed; the delivery that caused it is not done.
#[derive(Debug, Clone, thiserror::Error)]
#[error("feedback for connection {connection_id}: {message}")]
pub struct FeedbackError {
    /// The connection.
    pub connection_id: String,
    /// What went wrong.
    pub message: String,
}

/// Somewhere to send feedback records.
pub trait Feedback: Send + Sync {
    /// Puts one `connection_gone` record.
    fn connection_gone(
        &self,
        gone: ConnectionGone,
    ) -> impl Future<Output = Result<(), FeedbackError>> + Send;
}

/// Kinesis `PutRecord` on the processor's own stream.
#[derive(Debug, Clone)]
pub struct KinesisFeedback {
    client: aws_sdk_kinesis::Client,
    stream: String,
}

impl KinesisFeedback {
    /// Feedback to `stream`.
    pub fn new(client: aws_sdk_kinesis::Client, stream: impl Into<String>) -> Self {
        KinesisFeedback {
            client,
            stream: stream.into(),
        }
    }
}

impl Feedback for KinesisFeedback {
    async fn connection_gone(&self, gone: ConnectionGone) -> Result<(), FeedbackError> {
        let connection_id = gone.connection_id.clone();
        let data = schemas::encode_json(&Record::ConnectionGone(gone));
        self.client
            .put_record()
            .stream_name(&self.stream)
            .partition_key(&connection_id)
            .data(Blob::new(data))
            .send()
            .await
            .map_err(|e| FeedbackError {
                connection_id: connection_id.clone(),
                message: aws_sdk_kinesis::error::DisplayErrorContext(e).to_string(),
            })?;
        tracing::info!(connection_id = %connection_id, "connection_gone fed back");
        Ok(())
    }
}

/// Feedback kept in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryFeedback {
    records: Mutex<Vec<ConnectionGone>>,
}

impl MemoryFeedback {
    /// No feedback yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything fed back so far.
    pub fn records(&self) -> Vec<ConnectionGone> {
        self.records.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Feedback for MemoryFeedback {
    async fn connection_gone(&self, gone: ConnectionGone) -> Result<(), FeedbackError> {
        let mut records = self.records.lock().map_err(|_| FeedbackError {
            connection_id: gone.connection_id.clone(),
            message: "poisoned lock".into(),
        })?;
        records.push(gone);
        Ok(())
    }
}
