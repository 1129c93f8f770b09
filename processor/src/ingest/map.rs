//! The pure half of ingest: an API Gateway WebSocket event to a [`WebSocketRecord`], or an
//! [`IngestError`] that says which field is at fault and what the client gets back.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{header::CONTENT_TYPE, HeaderValue};
use base64::Engine;
use schemas::{
    decode_json, encode_json, websocket::WEBSOCKET_SCHEMA_VERSION, DecodeError, Record,
    WebSocketRecord, WsEventType,
};
use std::collections::BTreeMap;

/// API Gateway's WebSocket message quota (128 KB). API Gateway closes a connection that sends
/// more (1009) before it reaches us, so a bigger body means something else is calling.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// Why an event is not written to the stream. Each maps to an HTTP status and a JSON body the
/// client can read: `{"error": "...", "field": "..."}` ([`IngestError::response`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// API Gateway's request context lacks a field it always sends: this Lambda is not behind a
    /// WebSocket route, or a test sent a hand-made event.
    #[error("the event has no requestContext.{field}: is this function on an API Gateway WebSocket route?")]
    MissingContext {
        /// The missing `requestContext` field.
        field: &'static str,
    },
    /// A `$connect` with no client id: no authorizer `principalId`/`clientId` and no `clientId`
    /// query parameter. The connection is refused (401).
    #[error("no client id: connect with ?clientId=... or through an authorizer that returns a principalId")]
    MissingClientId,
    /// A `$connect` without an authenticated identity where anonymous connections are not
    /// allowed: no authorizer `principalId` (is the authorizer attached to `$connect`?). The
    /// connection is refused (401).
    #[error("no authenticated identity: the $connect authorizer gave no principalId")]
    Unauthenticated,
    /// A message over [`MAX_MESSAGE_BYTES`].
    #[error("message of {size} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge {
        /// The body's size in bytes.
        size: usize,
    },
    /// A binary (base64-encoded) message that is not UTF-8 text.
    #[error("binary messages are not supported: send JSON text")]
    NotText,
    /// The record failed validation (the same decoder the processor reads it with).
    #[error("invalid record: {0}")]
    Invalid(DecodeError),
}

impl IngestError {
    /// The HTTP status API Gateway answers with.
    pub fn status(&self) -> u16 {
        match self {
            IngestError::MissingClientId | IngestError::Unauthenticated => 401,
            IngestError::TooLarge { .. } => 413,
            IngestError::MissingContext { .. } | IngestError::NotText | IngestError::Invalid(_) => {
                400
            }
        }
    }

    /// The field at fault, as the client knows it.
    pub fn field(&self) -> Option<String> {
        match self {
            IngestError::MissingContext { field } => Some(format!("requestContext.{field}")),
            IngestError::MissingClientId => Some("clientId".into()),
            IngestError::Unauthenticated => Some("token".into()),
            IngestError::TooLarge { .. } | IngestError::NotText => Some("body".into()),
            IngestError::Invalid(DecodeError::InvalidField { field, .. }) => Some(field.clone()),
            IngestError::Invalid(DecodeError::MissingField { field, .. }) => {
                Some((*field).to_owned())
            }
            IngestError::Invalid(_) => None,
        }
    }

    /// The response: this error's status and `{"error": ..., "field": ...}`.
    pub fn response(&self) -> ApiGatewayProxyResponse {
        let body = serde_json::json!({ "error": self.to_string(), "field": self.field() });
        json_response(self.status(), &body)
    }
}

/// A response with a JSON body.
pub fn json_response(status: u16, body: &serde_json::Value) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.body = Some(Body::Text(body.to_string()));
    response
}

/// The success response: 200 with no body (on `$connect`, this accepts the connection).
pub fn ok_response() -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response
}

fn required<'a>(v: &'a Option<String>, field: &'static str) -> Result<&'a str, IngestError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or(IngestError::MissingContext { field })
}

fn millis(v: i64, field: &str) -> Result<u64, IngestError> {
    u64::try_from(v).map_err(|_| {
        IngestError::Invalid(DecodeError::InvalidField {
            field: field.to_owned(),
            expected: "a non-negative ms epoch".into(),
            found: v.to_string(),
        })
    })
}

/// The message body as text: base64-decoded when API Gateway says it is (binary frames), and
/// never over the quota. A body that is not JSON is fine: it is routed to `$default`.
fn body(event: &ApiGatewayWebsocketProxyRequest) -> Result<Option<String>, IngestError> {
    let Some(raw) = event.body.as_deref() else {
        return Ok(None);
    };
    let text = if event.is_base64_encoded {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| IngestError::NotText)?;
        String::from_utf8(bytes).map_err(|_| IngestError::NotText)?
    } else {
        raw.to_owned()
    };
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(IngestError::TooLarge { size: text.len() });
    }
    Ok(Some(text))
}

/// Who ingest takes a connection's client to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// Only the `$connect` authorizer's `principalId`: a connection without one is refused, and
    /// a `clientId` query parameter is never read. The deployed default.
    Authenticated,
    /// The authorizer's `principalId` or `clientId`, else the `clientId` query parameter: anyone
    /// may connect as anyone (`ALLOW_ANONYMOUS=true`, for development).
    AllowAnonymous,
}

/// Maps an API Gateway WebSocket event to the record ingest writes (schema version 2), validated
/// by the processor's own decoder.
///
/// The client id is resolved here, as `identity` says. A `$connect` must have one; other events
/// may not (the query string comes only with `$connect`; the fold knows the connection's client
/// from it). A `token` query parameter is a credential: it is left out of the record.
pub fn to_record(
    event: &ApiGatewayWebsocketProxyRequest,
    identity: Identity,
) -> Result<WebSocketRecord, IngestError> {
    let ctx = &event.request_context;
    let event_type = match required(&ctx.event_type, "eventType")? {
        "CONNECT" => WsEventType::Connect,
        "MESSAGE" => WsEventType::Message,
        "DISCONNECT" => WsEventType::Disconnect,
        other => {
            return Err(IngestError::Invalid(DecodeError::InvalidField {
                field: "eventType".into(),
                expected: "CONNECT, MESSAGE or DISCONNECT".into(),
                found: format!("{other:?}"),
            }))
        }
    };
    // Authorizer context values may be numbers or booleans; the record keeps strings.
    let authorizer: BTreeMap<String, String> = ctx
        .authorizer
        .fields
        .iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some((k.clone(), s.clone())),
            other => Some((k.clone(), other.to_string())),
        })
        .collect();
    let query_string_parameters: BTreeMap<String, String> = event
        .query_string_parameters
        .iter()
        .filter(|(k, _)| *k != auth::TOKEN_PARAM)
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut record = WebSocketRecord {
        schema_version: WEBSOCKET_SCHEMA_VERSION,
        event_type,
        route_key: required(&ctx.route_key, "routeKey")?.to_owned(),
        connection_id: required(&ctx.connection_id, "connectionId")?.to_owned(),
        connected_at: millis(ctx.connected_at, "connectedAt")?,
        request_time_epoch: millis(ctx.request_time_epoch, "requestTimeEpoch")?,
        request_id: ctx.request_id.clone(),
        message_id: ctx.message_id.clone(),
        domain_name: ctx.domain_name.clone(),
        stage: ctx.stage.clone(),
        api_id: ctx.apiid.clone(),
        source_ip: ctx.identity.source_ip.clone(),
        user_agent: ctx.identity.user_agent.clone(),
        client_id: None,
        authorizer,
        query_string_parameters,
        body: body(event)?,
        disconnect_status_code: ctx.disconnect_status_code,
        disconnect_reason: ctx.disconnect_reason.clone(),
    };
    record.client_id = match identity {
        Identity::AllowAnonymous => record.resolved_client_id().map(str::to_owned),
        Identity::Authenticated => record
            .authorizer
            .get("principalId")
            .filter(|p| !p.is_empty())
            .cloned(),
    };
    if event_type == WsEventType::Connect && record.client_id.is_none() {
        return Err(match identity {
            Identity::AllowAnonymous => IngestError::MissingClientId,
            Identity::Authenticated => IngestError::Unauthenticated,
        });
    }
    // Validate with the decoder the processor reads the stream with: what ingest accepts, the
    // processor can read.
    match decode_json(&encode_json(&Record::WebSocket(Box::new(record)))) {
        Ok(Record::WebSocket(record)) => Ok(*record),
        Ok(other) => Err(IngestError::Invalid(DecodeError::UnknownKind {
            found: other.kind_name().to_owned(),
        })),
        Err(e) => Err(IngestError::Invalid(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: serde_json::Value) -> ApiGatewayWebsocketProxyRequest {
        serde_json::from_value(value).unwrap()
    }

    fn message(body: serde_json::Value) -> ApiGatewayWebsocketProxyRequest {
        event(json!({
            "requestContext": {
                "routeKey": "$default", "eventType": "MESSAGE", "connectionId": "c1=",
                "connectedAt": 1_000, "requestTimeEpoch": 2_000, "messageId": "m1",
                "authorizer": {"principalId": "alice", "tier": 3, "nothing": null}
            },
            "body": body,
            "isBase64Encoded": false
        }))
    }

    fn connect(query: serde_json::Value) -> ApiGatewayWebsocketProxyRequest {
        event(json!({
            "queryStringParameters": query,
            "requestContext": {
                "routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c1=",
                "connectedAt": 1_000, "requestTimeEpoch": 1_000
            }
        }))
    }

    #[test]
    fn non_json_body_is_kept_for_default() {
        let record = to_record(&message(json!("hi?")), Identity::AllowAnonymous).unwrap();
        assert_eq!(record.body.as_deref(), Some("hi?"));
        assert_eq!(record.client_id.as_deref(), Some("alice"));
        assert_eq!(record.authorizer.get("tier").map(String::as_str), Some("3"));
        assert!(!record.authorizer.contains_key("nothing"));
        assert_eq!(record.action(), schemas::Action::parse_body(Some("hi?")));
    }

    #[test]
    fn connect_needs_a_client_id() {
        let err = to_record(&connect(json!({"other": "x"})), Identity::AllowAnonymous).unwrap_err();
        assert_eq!(err, IngestError::MissingClientId);
        assert_eq!(err.status(), 401);
        let response = err.response();
        assert_eq!(response.status_code, 401);
        let Some(Body::Text(text)) = response.body else {
            panic!("no body")
        };
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["field"], "clientId");
        assert!(body["error"].as_str().unwrap().contains("clientId"));

        let ok = to_record(
            &connect(json!({"clientId": "bob"})),
            Identity::AllowAnonymous,
        )
        .unwrap();
        assert_eq!(ok.client_id.as_deref(), Some("bob"));
        // An empty clientId is no client id.
        assert_eq!(
            to_record(&connect(json!({"clientId": ""})), Identity::AllowAnonymous),
            Err(IngestError::MissingClientId)
        );
    }

    #[test]
    fn authenticated_only_the_authorizer_names_the_client() {
        let query = json!({"clientId": "bob", "token": "a.b.c"});
        let err = to_record(&connect(query.clone()), Identity::Authenticated).unwrap_err();
        assert_eq!(err, IngestError::Unauthenticated);
        assert_eq!(err.status(), 401);
        let mut e = connect(query);
        e.request_context
            .authorizer
            .fields
            .insert("principalId".into(), json!("alice"));
        let record = to_record(&e, Identity::Authenticated).unwrap();
        assert_eq!(record.client_id.as_deref(), Some("alice"));
        assert_eq!(record.resolved_client_id(), Some("alice"));
        // The token is a credential: it never reaches the stream.
        assert_eq!(
            record.query_string_parameters.keys().collect::<Vec<_>>(),
            ["clientId"]
        );
        // A message's client comes from the authorizer too, never from what it claims.
        let record = to_record(&message(json!("hi")), Identity::Authenticated).unwrap();
        assert_eq!(record.client_id.as_deref(), Some("alice"));
    }

    #[test]
    fn oversized_message_is_413_on_body() {
        let big = "x".repeat(MAX_MESSAGE_BYTES + 1);
        let err = to_record(&message(json!(big)), Identity::AllowAnonymous).unwrap_err();
        assert_eq!(err.status(), 413);
        assert_eq!(err.field().as_deref(), Some("body"));
        let exactly = "x".repeat(MAX_MESSAGE_BYTES);
        assert!(to_record(&message(json!(exactly)), Identity::AllowAnonymous).is_ok());
    }

    #[test]
    fn base64_text_is_decoded_binary_is_refused() {
        let mut e = message(json!("eyJhY3Rpb24iOiJqb2luIiwiY2hhdElkIjoiNDIifQ=="));
        e.is_base64_encoded = true;
        let record = to_record(&e, Identity::AllowAnonymous).unwrap();
        assert_eq!(
            record.body.as_deref(),
            Some(r#"{"action":"join","chatId":"42"}"#)
        );
        let mut e = message(json!("/w=="));
        e.is_base64_encoded = true;
        assert_eq!(
            to_record(&e, Identity::AllowAnonymous),
            Err(IngestError::NotText)
        );
    }

    #[test]
    fn missing_context_names_the_field() {
        let e = event(json!({
            "requestContext": {"eventType": "MESSAGE", "routeKey": "$default",
                               "connectedAt": 1, "requestTimeEpoch": 2}
        }));
        let err = to_record(&e, Identity::AllowAnonymous).unwrap_err();
        assert_eq!(
            err,
            IngestError::MissingContext {
                field: "connectionId"
            }
        );
        assert_eq!(err.status(), 400);
        assert_eq!(err.field().as_deref(), Some("requestContext.connectionId"));
    }

    #[test]
    fn unknown_event_type_and_negative_times_are_invalid() {
        let e = event(json!({
            "requestContext": {"eventType": "PING", "routeKey": "$default", "connectionId": "c",
                               "connectedAt": 1, "requestTimeEpoch": 2}
        }));
        assert_eq!(
            to_record(&e, Identity::AllowAnonymous)
                .unwrap_err()
                .field()
                .as_deref(),
            Some("eventType")
        );
        let e = event(json!({
            "requestContext": {"eventType": "MESSAGE", "routeKey": "$default", "connectionId": "c",
                               "connectedAt": -1, "requestTimeEpoch": 2}
        }));
        assert_eq!(
            to_record(&e, Identity::AllowAnonymous)
                .unwrap_err()
                .field()
                .as_deref(),
            Some("connectedAt")
        );
    }
}
