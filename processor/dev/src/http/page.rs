//! The live page: plain HTML, CSS and JavaScript built into the binary (nothing to build or
//! fetch), and the server-sent events it updates itself from.
//!
//! The page loads `GET /clients` and `GET /deliveries`, then listens to `GET /events`: a
//! `delivery` event is added to the list as it is; a `folded` event makes it load the
//! projections again (at most a few times a second).

use super::Shared;
use crate::live::Event;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

const INDEX: &str = include_str!("../../page/index.html");
const SCRIPT: &str = include_str!("../../page/page.js");
const STYLE: &str = include_str!("../../page/page.css");

/// `GET /`.
pub async fn index() -> Html<&'static str> {
    Html(INDEX)
}

/// `GET /page.js`.
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /page.css`.
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    // A development server: a rebuilt binary's page is seen at the next load.
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-store")],
        body,
    )
        .into_response()
}

/// `GET /deliveries`: the latest deliveries, oldest first.
pub async fn deliveries(State(shared): State<Shared>) -> Response {
    Json(shared.feed.recent()).into_response()
}

/// `GET /events`: the feed as server-sent events, until `processor dev` stops. A page that falls
/// behind is sent a `folded` event, so that it loads the projections again.
pub async fn events(
    State(shared): State<Shared>,
) -> Sse<impl Stream<Item = Result<sse::Event, axum::Error>>> {
    let readers = (shared.feed.subscribe(), shared.shutdown);
    let stream = futures_util::stream::unfold(readers, |(mut feed, mut shutdown)| async move {
        let event = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return None,
            event = feed.recv() => match event {
                Ok(event) => event,
                Err(RecvError::Lagged(_)) => Event::Folded { records: 0 },
                Err(RecvError::Closed) => return None,
            },
        };
        let sent = sse::Event::default().event(event.name()).json_data(&event);
        Some((sent, (feed, shutdown)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
