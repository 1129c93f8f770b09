//! The I/O half of ingest: write the mapped record to the stream, answer API Gateway.

use super::map::{json_response, ok_response, to_record, Identity};
use aws_adapters::sinks::classify::{classify, facts, ErrorClass};
use aws_adapters::sinks::config::{flag, var, ConfigError};
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::http::{header::SEC_WEBSOCKET_PROTOCOL, HeaderValue};
use aws_sdk_kinesis::primitives::Blob;
use schemas::{encode_json, Record};
use std::future::Future;

/// Writing a record to the stream failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WriteError {
    /// Whether trying again later may succeed (the client may resend).
    pub retryable: bool,
    /// What went wrong, for logs.
    pub message: String,
}

/// Where ingest writes records: the Kinesis stream, or a vector in tests.
pub trait RecordWriter {
    /// Writes one record under `partition_key`.
    fn put(
        &self,
        partition_key: &str,
        data: Vec<u8>,
    ) -> impl Future<Output = Result<(), WriteError>> + Send;
}

/// Writes records with Kinesis `PutRecord`.
#[derive(Debug, Clone)]
pub struct KinesisWriter {
    client: aws_sdk_kinesis::Client,
    stream_name: String,
}

impl KinesisWriter {
    /// A writer to `stream_name`; `endpoint` overrides the Kinesis endpoint (an emulator).
    pub fn new(sdk: &SdkConfig, endpoint: Option<&str>, stream_name: &str) -> Self {
        let mut conf = aws_sdk_kinesis::config::Builder::from(sdk);
        if let Some(url) = endpoint {
            conf = conf.endpoint_url(url);
        }
        KinesisWriter {
            client: aws_sdk_kinesis::Client::from_conf(conf.build()),
            stream_name: stream_name.to_owned(),
        }
    }
}

impl RecordWriter for KinesisWriter {
    async fn put(&self, partition_key: &str, data: Vec<u8>) -> Result<(), WriteError> {
        self.client
            .put_record()
            .stream_name(&self.stream_name)
            .partition_key(partition_key)
            .data(Blob::new(data))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let (facts, message) = facts(&e);
                WriteError {
                    retryable: classify(&facts) == ErrorClass::Retryable,
                    message: format!("Kinesis PutRecord to {}: {message}", self.stream_name),
                }
            })
    }
}

/// Handles one WebSocket route event: map, validate, write partitioned by connection id.
///
/// Never fails: a bad event is answered with its [`super::IngestError::response`], a failed write
/// with a 500 (on `$connect` this refuses the connection, which is right: the processor would not
/// know about it; the client reconnects). A `$connect` that offered the `bearer` subprotocol (its
/// token) is answered with it, without which a browser fails the connection.
pub async fn handle<W: RecordWriter>(
    writer: &W,
    event: &ApiGatewayWebsocketProxyRequest,
    identity: Identity,
) -> ApiGatewayProxyResponse {
    let record = match to_record(event, identity) {
        Ok(record) => record,
        Err(e) => {
            tracing::warn!(
                connection_id = event.request_context.connection_id.as_deref().unwrap_or("-"),
                route = event.request_context.route_key.as_deref().unwrap_or("-"),
                status = e.status(),
                error = %e,
                "event refused"
            );
            return e.response();
        }
    };
    let connection_id = record.connection_id.clone();
    let route = record.route_key.clone();
    let connect = record.event_type == schemas::WsEventType::Connect;
    let data = encode_json(&Record::WebSocket(Box::new(record)));
    match writer.put(&connection_id, data).await {
        Ok(()) => {
            tracing::debug!(connection_id = %connection_id, route = %route, "event written");
            let mut response = ok_response();
            if connect && offers_bearer(event) {
                response.headers.insert(
                    SEC_WEBSOCKET_PROTOCOL,
                    HeaderValue::from_static(auth::BEARER_PROTOCOL),
                );
            }
            response
        }
        Err(e) => {
            tracing::error!(
                connection_id = %connection_id,
                route = %route,
                retryable = e.retryable,
                error = %e,
                "event not written"
            );
            json_response(
                500,
                &serde_json::json!({
                    "error": "the event could not be recorded; try again",
                    "field": null
                }),
            )
        }
    }
}

/// Whether the `$connect` request offered the `bearer` subprotocol.
fn offers_bearer(event: &ApiGatewayWebsocketProxyRequest) -> bool {
    let protocols = event
        .headers
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    auth::ConnectRequest {
        protocols,
        ..auth::ConnectRequest::default()
    }
    .offers_bearer()
}

/// The ingest Lambda's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// `STREAM_NAME`: the Kinesis stream records are written to.
    pub stream_name: String,
    /// `ALLOW_ANONYMOUS` (`true` or `false`, default `false`): whether a `$connect` without the
    /// authorizer's `principalId` may name itself with `?clientId=`.
    pub identity: Identity,
}

impl IngestConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let stream_name = var(&get, "STREAM_NAME")
            .ok_or_else(|| ConfigError::new("STREAM_NAME", "required: the Kinesis stream name"))?;
        let ok = stream_name.len() <= 128
            && stream_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !ok {
            return Err(ConfigError::new(
                "STREAM_NAME",
                format!("expected 1-128 characters of [a-zA-Z0-9_.-], found {stream_name:?}"),
            ));
        }
        let identity = if flag(&get, "ALLOW_ANONYMOUS")? {
            Identity::AllowAnonymous
        } else {
            Identity::Authenticated
        };
        Ok(IngestConfig {
            stream_name,
            identity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Memory {
        fail: bool,
        records: Mutex<Vec<(String, Vec<u8>)>>,
    }

    impl RecordWriter for Memory {
        async fn put(&self, partition_key: &str, data: Vec<u8>) -> Result<(), WriteError> {
            if self.fail {
                return Err(WriteError {
                    retryable: true,
                    message: "throttled".into(),
                });
            }
            self.records
                .lock()
                .unwrap()
                .push((partition_key.to_owned(), data));
            Ok(())
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn sendmessage() -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_value(serde_json::json!({
            "requestContext": {
                "routeKey": "sendmessage", "eventType": "MESSAGE", "connectionId": "c1=",
                "connectedAt": 1_000, "requestTimeEpoch": 2_000, "messageId": "m1"
            },
            "body": "{\"action\":\"sendmessage\",\"message\":\"hi\"}"
        }))
        .unwrap()
    }

    #[test]
    fn writes_the_record_partitioned_by_connection() {
        let writer = Memory::default();
        let response = block_on(handle(&writer, &sendmessage(), Identity::AllowAnonymous));
        assert_eq!(response.status_code, 200);
        let records = writer.records.lock().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0, "c1=");
        let Ok(Record::WebSocket(record)) = schemas::decode_json(&records[0].1) else {
            panic!("not a websocket record")
        };
        assert_eq!(record.route_key, "sendmessage");
        let value: serde_json::Value = serde_json::from_slice(&records[0].1).unwrap();
        assert_eq!(value["kind"], "websocket");
        assert_eq!(value["schemaVersion"], 2);
    }

    #[test]
    fn a_connect_offering_bearer_is_answered_with_it() {
        let event: ApiGatewayWebsocketProxyRequest = serde_json::from_value(serde_json::json!({
            "headers": {"Sec-WebSocket-Protocol": "bearer, a.b.c"},
            "requestContext": {
                "routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c1=",
                "connectedAt": 1_000, "requestTimeEpoch": 1_000,
                "authorizer": {"principalId": "alice"}
            }
        }))
        .unwrap();
        let writer = Memory::default();
        let response = block_on(handle(&writer, &event, Identity::Authenticated));
        assert_eq!(response.status_code, 200);
        assert_eq!(
            response.headers.get(SEC_WEBSOCKET_PROTOCOL).unwrap(),
            auth::BEARER_PROTOCOL
        );
        let response = block_on(handle(&writer, &sendmessage(), Identity::Authenticated));
        assert!(response.headers.get(SEC_WEBSOCKET_PROTOCOL).is_none());
    }

    #[test]
    fn anonymous_connections_are_allowed_only_when_asked() {
        let get = |anonymous: Option<&'static str>| {
            move |name: &str| match name {
                "STREAM_NAME" => Some("presence".to_owned()),
                "ALLOW_ANONYMOUS" => anonymous.map(str::to_owned),
                _ => None,
            }
        };
        let identity = |a| IngestConfig::from_lookup(get(a)).map(|c| c.identity);
        assert_eq!(identity(None), Ok(Identity::Authenticated));
        assert_eq!(identity(Some("true")), Ok(Identity::AllowAnonymous));
        assert!(identity(Some("yes")).is_err());
    }

    #[test]
    fn a_failed_write_is_a_500_with_a_json_error() {
        let writer = Memory {
            fail: true,
            ..Memory::default()
        };
        let response = block_on(handle(&writer, &sendmessage(), Identity::AllowAnonymous));
        assert_eq!(response.status_code, 500);
        assert!(response.body.is_some());
    }

    #[test]
    fn stream_name_is_required_and_checked() {
        let err = IngestConfig::from_lookup(|_| None).unwrap_err();
        assert_eq!(err.variable, "STREAM_NAME");
        let err = IngestConfig::from_lookup(|_| Some("a b".into())).unwrap_err();
        assert_eq!(err.variable, "STREAM_NAME");
        assert_eq!(
            IngestConfig::from_lookup(|name| (name == "STREAM_NAME").then(|| "presence".into())),
            Ok(IngestConfig {
                identity: Identity::Authenticated,
                stream_name: "presence".into()
            })
        );
    }
}
