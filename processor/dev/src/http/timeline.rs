//! `GET /clients/{clientId}/timeline`: the client's timeline from the dev store's log, the same
//! page `replay explain --html` makes (every event about it, the projection after each, why it
//! is online or not, the deliveries and their reasons, a chart running to now).
//!
//! The log is read up to where it ends when the request arrives (the fold thread says where), so
//! a batch being written is never half-read; the fold is redone from the first record in a
//! blocking task, off the async runtime.

use super::{ask_fold, internal, Shared};
use crate::fold::Input;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use embedded_store::log::{LogError, LogReader};
use explain::{Step, Timeline};
use projections::Config;

/// `GET /clients/{clientId}/timeline`.
pub async fn page(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let end = match ask_fold(&shared, Input::LogEnd).await {
        Ok(end) => end,
        Err(response) => return response,
    };
    let (dir, config) = (shared.log_dir.clone(), shared.config.clone());
    let client = id.clone();
    let steps = tokio::task::spawn_blocking(move || steps(&dir, end, config, &client)).await;
    match steps {
        Ok(Ok(steps)) => {
            Html(explain::html::page(&id, &steps, Some(crate::now_ms()))).into_response()
        }
        Ok(Err(e)) => internal(&e.to_string()),
        Err(_) => internal("the timeline's fold panicked"),
    }
}

/// Folds the log in `dir` up to `end` and collects `client`'s steps, each naming its place in
/// the log.
///
/// # Errors
/// The log cannot be read.
pub fn steps(
    dir: &std::path::Path,
    end: u64,
    config: Config,
    client: &str,
) -> Result<Vec<Step>, LogError> {
    let mut timeline = Timeline::new(config, client);
    let mut position = 0;
    if end > 0 {
        for item in LogReader::open(dir, 0)? {
            let (record, after) = item?;
            if let Some(step) = timeline.record(&record) {
                step.source = format!("log (position {position})");
            }
            position = after;
            if after >= end {
                break;
            }
        }
    }
    Ok(timeline.take_steps())
}
