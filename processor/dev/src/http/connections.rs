//! API Gateway's `@connections` management API over the local gateway's sockets: `POST` sends
//! the body to the socket, `GET` describes the connection (`connectedAt`, `lastActiveAt`,
//! `identity`, as API Gateway writes them), `DELETE` closes it. A gone id is 410 `GoneException`.

use super::{error, Shared};
use crate::gateway::MAX_MESSAGE;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemas::time::Rfc3339;
use std::collections::HashMap;

/// The connection id from either route (with or without a stage).
fn connection_id(mut params: HashMap<String, String>) -> String {
    params.remove("id").unwrap_or_default()
}

fn gone() -> Response {
    error(StatusCode::GONE, "GoneException", "the connection is gone")
}

/// `POST @connections/{id}`: `PostToConnection`.
pub async fn post(
    State(shared): State<Shared>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if body.len() > MAX_MESSAGE {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "over 128 KB",
        );
    }
    if shared.gateway.send(&connection_id(params), body.to_vec()) {
        StatusCode::OK.into_response()
    } else {
        gone()
    }
}

/// `GET @connections/{id}`: `GetConnection`.
pub async fn describe(
    State(shared): State<Shared>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    match shared.gateway.describe(&connection_id(params)) {
        Some((connected_at, last_active_at, source_ip, user_agent)) => Json(serde_json::json!({
            "connectedAt": Rfc3339(connected_at).to_string(),
            "lastActiveAt": Rfc3339(last_active_at).to_string(),
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        }))
        .into_response(),
        None => gone(),
    }
}

/// `DELETE @connections/{id}`: `DeleteConnection`.
pub async fn delete(
    State(shared): State<Shared>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    if shared.gateway.close(&connection_id(params)) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        gone()
    }
}
