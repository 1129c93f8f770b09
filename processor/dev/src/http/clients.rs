//! The projections: `GET /clients` (every client) and `GET /clients/{clientId}` (one), in the
//! shape `processor local --projections-out` writes. A query travels on the fold's own channel,
//! so it sees every record that arrived before it.

use super::{ask_fold, error, internal, Shared};
use crate::fold::Input;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use projections::ClientProjection;

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
    ask_fold(shared, |reply| Input::Clients { client_id, reply })
        .await?
        .map_err(|e| internal(&e))
}
