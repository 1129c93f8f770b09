//! MQTT deliveries: an IoT data-plane `Publish` to the delivery's topic, QoS 1, the payload JSON
//! as the message. One publish reaches every session subscribed to the topic.
//!
//! The endpoint should be the account's ATS data endpoint (`IOT_DATA_ENDPOINT`, see
//! [`super::config`]).

use super::apigw::payload_bytes;
use super::classify::delivery_error;
use crate::sink_port::{DeliveryOutcome, DeliverySink, SinkError};
use aws_config::SdkConfig;
use aws_sdk_iotdataplane::primitives::Blob;
use projections::{Channel, Delivery};

/// AWS IoT's maximum MQTT payload (128 KB).
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// Publishes MQTT deliveries.
#[derive(Debug, Clone)]
pub struct IotSink {
    client: aws_sdk_iotdataplane::Client,
}

impl IotSink {
    /// A sink publishing through the IoT data plane; `endpoint` overrides the SDK's default.
    pub fn new(sdk: &SdkConfig, endpoint: Option<&str>) -> Self {
        let mut conf = aws_sdk_iotdataplane::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            conf = conf.endpoint_url(url);
        }
        IotSink {
            client: aws_sdk_iotdataplane::Client::from_conf(conf.build()),
        }
    }
}

impl DeliverySink for IotSink {
    async fn deliver(&self, d: &Delivery) -> Result<DeliveryOutcome, SinkError> {
        let Channel::Mqtt { topic } = &d.channel else {
            return Err(SinkError::new(
                d,
                false,
                format!(
                    "delivery {}: the IoT sink sends mqtt deliveries, not {}",
                    d.id,
                    d.channel.name()
                ),
            ));
        };
        let payload = payload_bytes(d)?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Ok(DeliveryOutcome::TooLarge);
        }
        match self
            .client
            .publish()
            .topic(topic)
            .qos(1)
            .content_type("application/json")
            .payload(Blob::new(payload))
            .send()
            .await
        {
            Ok(_) => Ok(DeliveryOutcome::Sent),
            Err(e) => delivery_error(d, &format!("IoT Publish {topic}"), &e),
        }
    }
}
