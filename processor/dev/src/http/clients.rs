//! The projections: `GET /clients` (every client) and `GET /clients/{clientId}` (one), in the
//! shape `processor local --projections-out` writes. A query travels on the fold's own channel,
//! so it sees every record that arrived before it.

use super::{error, Shared};
use crate::fold::Input;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use projections::ClientProjection;
use tokio::sync::oneshot;

/// `GET /clients`.
pub async fn all(State(shared): State<Shared>) -> Response {
    match query(&shared, None).await {
        Ok(clients) => Json(clients).into_response(),
        Err(response) => response,
    }
}

/// `GET /clients/{clientId}`.
pub async fn one(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    match query(&shared, Some(id)).await {
        Ok(mut clients) => match clients.pop() {
            Some(client) => Json(client).into_response(),
            None => error(StatusCode::NOT_FOUND, "NotFoundException", "no such client"),
        },
        Err(response) => response,
    }
}

/// Asks the fold thread for one client's projection, or every client's.
async fn query(
    shared: &Shared,
    client_id: Option<String>,
) -> Result<Vec<ClientProjection>, Response> {
    let stopped = || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the processor has stopped",
        )
    };
    let (reply, answer) = oneshot::channel();
    shared
        .stream
        .send(Input::Clients { client_id, reply })
        .map_err(|_| stopped())?;
    match answer.await {
        Ok(Ok(clients)) => Ok(clients),
        Ok(Err(e)) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            &e,
        )),
        Err(_) => Err(stopped()),
    }
}
