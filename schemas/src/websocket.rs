//! The WebSocket route record: what the ingest Lambda (or a direct API Gateway AWS-service
//! integration) writes to the stream for each `$connect`, `$disconnect` and message.
//!
//! This is our own record kind, so it carries `schemaVersion`; [`crate::decode`] upcasts older
//! versions. Version history:
//! - 1: the `$context` fields, identity, authorizer context, query string and raw body.
//! - 2: adds `clientId`, the client id resolved at ingest (authorizer `principalId` or
//!   `clientId`, else the `clientId` query parameter). Version 1 records are upcast by resolving it
//!   the same way when read.

use crate::lifecycle::EpochMillis;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The newest WebSocket record version this build writes.
pub const WEBSOCKET_SCHEMA_VERSION: u32 = 2;

/// API Gateway's `$context.eventType`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum WsEventType {
    /// `$connect`.
    Connect,
    /// A message on any route other than `$connect`/`$disconnect`.
    Message,
    /// `$disconnect` (best-effort: API Gateway does not guarantee it).
    Disconnect,
}

/// One WebSocket route event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebSocketRecord {
    /// Record schema version (see the module docs).
    pub schema_version: u32,
    /// `$context.eventType`.
    pub event_type: WsEventType,
    /// `$context.routeKey`: `$connect`, `$disconnect`, `$default`, `sendmessage`, ...
    pub route_key: String,
    /// `$context.connectionId`.
    pub connection_id: String,
    /// `$context.connectedAt`, ms epoch.
    pub connected_at: EpochMillis,
    /// `$context.requestTimeEpoch`, ms epoch: the event time of this record.
    pub request_time_epoch: EpochMillis,
    /// `$context.requestId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `$context.messageId` (MESSAGE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `$context.domainName`: with `stage`, where the `@connections` API lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// `$context.stage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// `$context.apiId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    /// `$context.identity.sourceIp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// `$context.identity.userAgent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The client id, resolved at ingest (schema version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `$context.authorizer.*`, as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorizer: BTreeMap<String, String>,
    /// The `$connect` request's query string parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query_string_parameters: BTreeMap<String, String>,
    /// The raw message body, exactly as the client sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `$disconnect` status code, when API Gateway gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_status_code: Option<i64>,
    /// `$disconnect` reason, when API Gateway gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<String>,
}

impl WebSocketRecord {
    /// The client id as ingest resolves it: the record's `clientId`, else the authorizer's
    /// `principalId` or `clientId`, else the `clientId` query parameter.
    pub fn resolved_client_id(&self) -> Option<&str> {
        self.client_id
            .as_deref()
            .or_else(|| self.authorizer.get("principalId").map(String::as_str))
            .or_else(|| self.authorizer.get("clientId").map(String::as_str))
            .or_else(|| {
                self.query_string_parameters
                    .get("clientId")
                    .map(String::as_str)
            })
            .filter(|id| !id.is_empty())
    }

    /// The route's action, parsed from the body: what the fold acts on.
    pub fn action(&self) -> crate::Action {
        match self.event_type {
            WsEventType::Connect => crate::Action::Connect,
            WsEventType::Disconnect => crate::Action::Disconnect,
            WsEventType::Message => crate::Action::parse_body(self.body.as_deref()),
        }
    }
}
