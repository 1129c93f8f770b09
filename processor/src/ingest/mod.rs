//! The ingest Lambda: API Gateway WebSocket route events (`$connect`, `$disconnect`, `$default`
//! and the custom routes) to `"kind":"websocket"` records (schema version 2) on the Kinesis
//! stream, partitioned by connection id, so each connection's events stay in order.
//!
//! [`map`] is pure (`event -> Result<WebSocketRecord, IngestError>`), golden-tested with real
//! events under `processor/tests/fixtures/apigw/`; [`handler`] does the I/O (Kinesis `PutRecord`
//! behind the [`handler::RecordWriter`] port) and answers API Gateway. `src/bin/ingest.rs` wires
//! them into the Lambda runtime.
//!
//! **What is refused.** A `$connect` without the authorizer's `principalId` (401), unless the stack
//! allows anonymous connections (`ALLOW_ANONYMOUS=true`: then one with no client id at all);
//! otherwise only what is structurally invalid: a message over API Gateway's 128 KB quota (413), a
//! binary message that is not UTF-8 text, or an event without the request context API Gateway
//! always sends (400). Each answer is JSON the client can read, `{"error": "...", "field": "..."}`.
//! A body that is not JSON, or whose `action` names no route, is legitimate: it is written as is
//! and the processor answers it on `$default` with a usage reply.
//!
//! # The alternative: a direct AWS-service integration
//!
//! API Gateway can write to Kinesis itself, with no Lambda: give each route an AWS integration
//! (`arn:aws:apigateway:{region}:kinesis:action/PutRecord`, an execution role allowed
//! `kinesis:PutRecord`) and this request mapping template, which produces the same record:
//!
//! ```text
//! #set($body = $util.escapeJavaScript($input.body).replaceAll("\\'", "'"))
//! #set($clientId = $context.authorizer.principalId)
//! #if("$!clientId" == "")#set($clientId = $input.params('clientId'))#end
//! #set($record = "{""kind"":""websocket"",""schemaVersion"":2,""eventType"":""$context.eventType"",""routeKey"":""$context.routeKey"",""connectionId"":""$context.connectionId"",""connectedAt"":$context.connectedAt,""requestTimeEpoch"":$context.requestTimeEpoch,""requestId"":""$context.requestId"",""messageId"":""$!context.messageId"",""domainName"":""$context.domainName"",""stage"":""$context.stage"",""apiId"":""$context.apiId"",""sourceIp"":""$context.identity.sourceIp"",""userAgent"":""$util.escapeJavaScript($context.identity.userAgent)"",""clientId"":""$!clientId"",""body"":""$body""}")
//! {
//!   "StreamName": "presence-stream",
//!   "PartitionKey": "$context.connectionId",
//!   "Data": "$util.base64Encode($record)"
//! }
//! ```
//!
//! (`$util.escapeJavaScript` escapes `'` as `\'`, which JSON does not allow: hence the
//! `replaceAll`.) What it gives up, and why the Lambda is the default: it cannot refuse a
//! `$connect` without a client id (it writes `"clientId":""`, which the processor reads as no
//! client: the connection is accepted and never gets deliveries); it does not copy the whole
//! authorizer context (so the fold sees no claims and bounds no room), the query string or the
//! `$disconnect` status and reason; absent values become empty strings rather than absent fields.
//! It costs no Lambda invocation per message and adds no latency, so it suits high message rates
//! with an authorizer that always sets `principalId`.

pub mod handler;
pub mod map;

pub use handler::{handle, IngestConfig, KinesisWriter, RecordWriter, WriteError};
pub use map::{to_record, Identity, IngestError, MAX_MESSAGE_BYTES};
