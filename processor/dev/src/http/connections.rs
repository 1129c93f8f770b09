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
            "connectedAt": iso8601(connected_at),
            "lastActiveAt": iso8601(last_active_at),
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

/// ms epoch as `2024-01-02T03:04:05.678Z`.
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or_default();
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_api_gateway() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
