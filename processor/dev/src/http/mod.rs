//! The HTTP port, served by axum:
//!
//! - `GET /` is the live page ([`page`]): who is online, rooms, watched devices, the latest
//!   deliveries, updated by the server-sent events of `GET /events`;
//! - `GET /clients/{clientId}` is one client's projection, `GET /clients` all of them: the shape
//!   `processor local --projections-out` writes ([`clients`]);
//! - `GET /clients/{clientId}/timeline` is the client's timeline from the log, the page
//!   `replay explain --html` makes ([`timeline`]);
//! - API Gateway's `@connections/{connectionId}` management API over the local gateway's sockets
//!   ([`connections`]), also under a stage prefix (`/local/@connections/{id}`), so that an AWS
//!   SDK client whose endpoint names a stage works too.
//!
//! Path segments are percent-decoded: `/clients/a%2Fb` is the MQTT client `a/b`.

pub mod clients;
pub mod connections;
pub mod page;
pub mod timeline;

use super::fold::{Input, Stream};
use super::gateway::Gateway;
use super::live::Feed;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use projections::Config;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

/// What every handler may use.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The open WebSocket connections.
    pub gateway: Arc<Gateway>,
    /// The fold's input: queries travel on it.
    pub stream: Stream,
    /// What the page hears.
    pub feed: Arc<Feed>,
    /// The log's directory: timelines are folded from it.
    pub log_dir: PathBuf,
    /// How the fold folds, for timelines.
    pub config: Config,
    /// Flips when `processor dev` stops: live streams end then.
    pub shutdown: watch::Receiver<bool>,
}

/// The routes.
pub fn router(shared: Shared) -> Router {
    let connection = get(connections::describe)
        .post(connections::post)
        .delete(connections::delete);
    Router::new()
        .route("/", get(page::index))
        .route("/page.js", get(page::script))
        .route("/page.css", get(page::style))
        .route("/events", get(page::events))
        .route("/deliveries", get(page::deliveries))
        .route("/clients", get(clients::all))
        .route("/clients/{id}", get(clients::one))
        .route("/clients/{id}/timeline", get(timeline::page))
        .route("/@connections/{id}", connection.clone())
        .route("/{stage}/@connections/{id}", connection)
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "NotFoundException",
                "no such resource",
            )
        })
        .with_state(shared)
}

/// Serves requests until `shutdown` flips.
pub async fn serve(listener: TcpListener, shared: Shared) {
    let mut shutdown = shared.shutdown.clone();
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, router(shared))
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!("the HTTP port stopped: {e}");
    }
}

/// Asks the fold thread: sends the input `ask` makes with a reply channel, and waits for the
/// answer. It travels behind every record already queued, so it sees them folded.
///
/// # Errors
/// 503 when the fold thread has stopped.
pub async fn ask_fold<T>(
    shared: &Shared,
    ask: impl FnOnce(oneshot::Sender<T>) -> Input,
) -> Result<T, Response> {
    let stopped = || {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the processor has stopped",
        )
    };
    let (reply, answer) = oneshot::channel();
    shared.stream.send(ask(reply)).map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())
}

/// A 500 saying what failed.
pub fn internal(message: &str) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        message,
    )
}

/// An error as API Gateway's management API writes it: `{"message", "__type"}`.
pub fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"message": message, "__type": kind})),
    )
        .into_response()
}
