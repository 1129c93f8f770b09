//! Push deliveries: an SNS `Publish` to one topic, addressed by message attributes.
//!
//! **Target per client.** Every push goes to one topic (`PUSH_TOPIC_ARN`) with the message
//! attribute `clientId` (and `deliveryId`, `type`); each subscriber selects its clients with a
//! subscription filter policy such as `{"clientId": ["bob"]}`, or (the usual case at scale) one
//! fan-out subscriber, e.g. a Lambda holding the device tokens, reads `clientId` and calls the
//! platform application. This keeps the processor stateless: it needs no per-client endpoint-ARN
//! lookup table, and adding a platform changes no processor code. The message is the delivery's
//! payload JSON, the same a socket recipient would get.
//!
//! On a FIFO topic (ARN ending in `.fifo`) the client id is the message group (per-client order)
//! and the delivery id is the de-duplication id, so SNS drops a retried batch's repeats.

use super::apigw::payload_bytes;
use super::classify::delivery_error;
use crate::sink_port::{DeliveryOutcome, DeliverySink, SinkError};
use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;
use projections::{Channel, Delivery};

/// SNS's maximum message size (256 KiB).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Publishes push deliveries to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsPushSink {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    fifo: bool,
}

impl SnsPushSink {
    /// A sink publishing to `topic_arn`; `endpoint` overrides the SNS endpoint (an emulator).
    pub fn new(sdk: &SdkConfig, endpoint: Option<&str>, topic_arn: &str) -> Self {
        let mut conf = aws_sdk_sns::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            conf = conf.endpoint_url(url);
        }
        SnsPushSink {
            client: aws_sdk_sns::Client::from_conf(conf.build()),
            topic_arn: topic_arn.to_owned(),
            fifo: topic_arn.ends_with(".fifo"),
        }
    }
}

fn string_attribute(d: &Delivery, value: &str) -> Result<MessageAttributeValue, SinkError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| SinkError::new(d, false, format!("SNS message attribute: {e}")))
}

impl DeliverySink for SnsPushSink {
    async fn deliver(&self, d: &Delivery) -> Result<DeliveryOutcome, SinkError> {
        let Channel::Push { client_id } = &d.channel else {
            return Err(SinkError::new(
                d,
                false,
                format!(
                    "delivery {}: the SNS sink sends push deliveries, not {}",
                    d.id,
                    d.channel.name()
                ),
            ));
        };
        let payload = payload_bytes(d)?;
        if payload.len() > MAX_MESSAGE_BYTES {
            return Ok(DeliveryOutcome::TooLarge);
        }
        // Serialized from a `serde_json::Value`: always UTF-8.
        let message = String::from_utf8_lossy(&payload).into_owned();
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message)
            .message_attributes("clientId", string_attribute(d, client_id)?)
            .message_attributes("deliveryId", string_attribute(d, &d.id)?);
        if let Some(kind) = d.payload.get("type").and_then(|t| t.as_str()) {
            publish = publish.message_attributes("type", string_attribute(d, kind)?);
        }
        if self.fifo {
            publish = publish
                .message_group_id(client_id)
                .message_deduplication_id(&d.id);
        }
        match publish.send().await {
            Ok(_) => Ok(DeliveryOutcome::Sent),
            Err(e) => delivery_error(d, &format!("SNS Publish for {client_id}"), &e),
        }
    }
}
