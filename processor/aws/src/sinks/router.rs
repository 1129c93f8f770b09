//! The router: one [`DeliverySink`] that dispatches each delivery to its channel's sink.

use super::apigw::ApiGatewaySink;
use super::config::SinksConfig;
use super::iot::IotSink;
use super::sns::SnsPushSink;
use crate::sink_port::{DeliveryOutcome, DeliverySink, SinkError};
use aws_config::SdkConfig;
use projections::{Channel, Delivery};

/// Dispatches deliveries by channel. A channel without a sink fails its deliveries (not
/// retryable: retrying cannot configure it) with a message naming the setting.
#[derive(Debug, Clone)]
pub struct Router<W, M, P> {
    /// `websocket` deliveries.
    pub websocket: Option<W>,
    /// `mqtt` deliveries.
    pub mqtt: Option<M>,
    /// `push` deliveries.
    pub push: Option<P>,
}

/// The router over the AWS sinks.
pub type AwsRouter = Router<ApiGatewaySink, IotSink, SnsPushSink>;

impl AwsRouter {
    /// The AWS sinks `config` asks for: API Gateway when a WebSocket endpoint is set, SNS when a
    /// push topic is set, and IoT always (its endpoint defaults to the SDK's).
    pub fn from_config(sdk: &SdkConfig, config: &SinksConfig) -> Self {
        Router {
            websocket: config
                .websocket_endpoint
                .as_deref()
                .map(|url| ApiGatewaySink::new(sdk, url)),
            mqtt: Some(IotSink::new(sdk, config.iot_data_endpoint.as_deref())),
            push: config
                .push_topic_arn
                .as_deref()
                .map(|arn| SnsPushSink::new(sdk, None, arn)),
        }
    }
}

fn unconfigured(d: &Delivery, setting: &str) -> SinkError {
    SinkError::new(
        d,
        false,
        format!(
            "delivery {}: no {} sink configured (set {setting})",
            d.id,
            d.channel.name()
        ),
    )
}

impl<W, M, P> DeliverySink for Router<W, M, P>
where
    W: DeliverySink + Sync,
    M: DeliverySink + Sync,
    P: DeliverySink + Sync,
{
    async fn deliver(&self, d: &Delivery) -> Result<DeliveryOutcome, SinkError> {
        match &d.channel {
            Channel::WebSocket { .. } => match &self.websocket {
                Some(sink) => sink.deliver(d).await,
                None => Err(unconfigured(
                    d,
                    "WEBSOCKET_API_ENDPOINT or WEBSOCKET_API_DOMAIN and WEBSOCKET_API_STAGE",
                )),
            },
            Channel::Mqtt { .. } => match &self.mqtt {
                Some(sink) => sink.deliver(d).await,
                None => Err(unconfigured(d, "IOT_DATA_ENDPOINT")),
            },
            Channel::Push { .. } => match &self.push {
                Some(sink) => sink.deliver(d).await,
                None => Err(unconfigured(d, "PUSH_TOPIC_ARN")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::EventId;
    use std::sync::Mutex;

    /// Records what it was asked to send and answers `outcome`.
    struct Fake {
        name: &'static str,
        seen: Mutex<Vec<String>>,
    }

    impl Fake {
        fn new(name: &'static str) -> Self {
            Fake {
                name,
                seen: Mutex::new(Vec::new()),
            }
        }
        fn seen(&self) -> Vec<String> {
            self.seen.lock().unwrap().clone()
        }
    }

    impl DeliverySink for Fake {
        async fn deliver(&self, d: &Delivery) -> Result<DeliveryOutcome, SinkError> {
            self.seen
                .lock()
                .unwrap()
                .push(format!("{}:{}", self.name, d.channel.target()));
            Ok(DeliveryOutcome::Sent)
        }
    }

    fn delivery(channel: Channel) -> Delivery {
        Delivery::new(
            EventId(1),
            channel,
            None,
            serde_json::json!({"type": "message"}),
        )
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn dispatches_by_channel() {
        let router = Router {
            websocket: Some(Fake::new("ws")),
            mqtt: Some(Fake::new("mqtt")),
            push: Some(Fake::new("push")),
        };
        let deliveries = [
            delivery(Channel::WebSocket {
                connection_id: "c1".into(),
            }),
            delivery(Channel::Mqtt {
                topic: "app/bob/chat/42".into(),
            }),
            delivery(Channel::Push {
                client_id: "bob".into(),
            }),
        ];
        for d in &deliveries {
            assert_eq!(block_on(router.deliver(d)), Ok(DeliveryOutcome::Sent));
        }
        let ws = router.websocket.as_ref().unwrap();
        let mqtt = router.mqtt.as_ref().unwrap();
        let push = router.push.as_ref().unwrap();
        assert_eq!(ws.seen(), ["ws:c1"]);
        assert_eq!(mqtt.seen(), ["mqtt:app/bob/chat/42"]);
        assert_eq!(push.seen(), ["push:bob"]);
    }

    #[test]
    fn unconfigured_channel_is_a_fatal_error_naming_the_setting() {
        let router: Router<Fake, Fake, Fake> = Router {
            websocket: None,
            mqtt: None,
            push: None,
        };
        let d = delivery(Channel::Push {
            client_id: "bob".into(),
        });
        let err = block_on(router.deliver(&d)).unwrap_err();
        assert!(!err.retryable);
        assert!(err.message.contains("PUSH_TOPIC_ARN"), "{err}");
    }
}
