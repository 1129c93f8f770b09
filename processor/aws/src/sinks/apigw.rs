//! WebSocket deliveries: API Gateway's `@connections` API (`PostToConnection`).
//!
//! The endpoint is the API's own, `https://{domain}/{stage}` (see [`super::config`]); the SDK signs
//! each call with SigV4 and posts to `{endpoint}/@connections/{connectionId}`. Outcomes:
//! 200 is [`DeliveryOutcome::Sent`]; 410 `GoneException` (the connection no longer exists) is
//! [`DeliveryOutcome::Gone`], so the caller feeds `connection_gone` back to the stream;
//! `PayloadTooLargeException` is [`DeliveryOutcome::TooLarge`], so the caller quarantines it;
//! throttling, `LimitExceededException` and 5xx are retryable errors; `ForbiddenException` is not
//! (see [`super::classify`]).

use super::classify::delivery_error;
use crate::sink_port::{DeliveryOutcome, DeliverySink, SinkError};
use aws_config::SdkConfig;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use projections::{Channel, Delivery};

/// API Gateway's maximum WebSocket message size (128 KB): a bigger payload can never be sent, so
/// it is [`DeliveryOutcome::TooLarge`] without a call.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Posts WebSocket deliveries to their connections.
#[derive(Debug, Clone)]
pub struct ApiGatewaySink {
    client: aws_sdk_apigatewaymanagement::Client,
}

impl ApiGatewaySink {
    /// A sink posting through the `@connections` API at `endpoint` (`https://{domain}/{stage}`,
    /// or a test server's URL).
    pub fn new(sdk: &SdkConfig, endpoint: &str) -> Self {
        ApiGatewaySink {
            client: crate::clients::connections_client(sdk, endpoint),
        }
    }
}

/// The bytes a recipient receives: the delivery's payload as JSON.
pub(crate) fn payload_bytes(d: &Delivery) -> Result<Vec<u8>, SinkError> {
    serde_json::to_vec(&d.payload)
        .map_err(|e| SinkError::new(d, false, format!("delivery {}: payload: {e}", d.id)))
}

impl DeliverySink for ApiGatewaySink {
    async fn deliver(&self, d: &Delivery) -> Result<DeliveryOutcome, SinkError> {
        let Channel::WebSocket { connection_id } = &d.channel else {
            return Err(SinkError::new(
                d,
                false,
                format!(
                    "delivery {}: the API Gateway sink sends websocket deliveries, not {}",
                    d.id,
                    d.channel.name()
                ),
            ));
        };
        let data = payload_bytes(d)?;
        if data.len() > MAX_MESSAGE_BYTES {
            return Ok(DeliveryOutcome::TooLarge);
        }
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
        {
            Ok(_) => Ok(DeliveryOutcome::Sent),
            Err(e) => delivery_error(d, &format!("PostToConnection {connection_id}"), &e),
        }
    }
}
