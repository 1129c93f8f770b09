//! `replay explain`: one client's timeline, built while folding the whole archive.
//!
//! Each record about the client (its own lifecycle events, records of its WebSocket connections,
//! and records that caused a delivery to it) becomes a [`Step`]: when it happened, what it was,
//! the client's projection after it, the presence rule's reasoning ([`Presence`], from
//! `World::presence_decision`) and the deliveries it would have caused, each with the reason
//! ([`why`]). [`text`] prints steps for people or as JSON; [`html`] writes them as a page with a
//! [`chart`].

pub mod chart;
pub mod html;
pub mod text;
pub mod why;

use crate::cli::{ExplainArgs, Format};
use crate::error::Error;
use crate::progress::Summary;
use crate::source::Position;
use crate::stream::each_record;
use projections::WorldFold;
use projections::{ClientProjection, World};
use schemas::time::Rfc3339;
use schemas::{Lifecycle, Record};
use serde::Serialize;
use std::io::{self, Write};

/// One event about the client, and what followed from it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Arrival order among the records folded (1-based).
    pub seq: u64,
    /// The file and where in it.
    pub source: String,
    /// The record's event time (ms epoch) ...
    pub event_time: u64,
    /// ... and as RFC 3339.
    pub event_time_iso: String,
    /// The record's kind: `connected`, `subscribed`, `websocket`, `telemetry`, ...
    pub kind: String,
    /// What the record says, in a few words.
    pub summary: String,
    /// How it concerns the client: `own event`, `own connection`, `delivery to it` or `its
    /// presence told` (a tick telling its presence rooms what the grace put off).
    pub relation: &'static str,
    /// The client's projection after the record (none before its first event).
    pub state: Option<ClientProjection>,
    /// The presence rule after the record.
    pub presence: Option<Presence>,
    /// For the client's own lifecycle events: whether its connectivity changed, so that the
    /// connections watching it were told (a `presence` event), or why nothing was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_event: Option<String>,
    /// For a record about a member of presence rooms: whether its rooms heard it go online or
    /// offline, or why nothing was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_event: Option<String>,
    /// The deliveries the record caused that concern the client (all of them, for its own
    /// messages), with reasons.
    pub deliveries: Vec<why::DeliveryNote>,
    /// For the chart: a session or connection that starts or ends here.
    pub mark: Option<Mark>,
}

/// A session or connection boundary, for the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Mark {
    /// An IoT session connected.
    SessionStart {
        /// `sessionIdentifier`.
        session: String,
        /// `versionNumber`.
        version: Option<u64>,
    },
    /// An IoT session disconnected.
    SessionEnd {
        /// `sessionIdentifier`.
        session: String,
        /// `versionNumber`.
        version: Option<u64>,
        /// `disconnectReason`.
        reason: Option<String>,
    },
    /// A WebSocket connection opened.
    ConnectionStart {
        /// The connection id.
        connection: String,
    },
    /// A WebSocket connection closed (`$disconnect` or found gone).
    ConnectionEnd {
        /// The connection id.
        connection: String,
    },
}

/// The presence rule's reasoning at one point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    /// `T`: the newest `last_ts` of the client's sessions.
    pub newest: u64,
    /// `T - H`: older sessions are not candidates.
    pub horizon_start: u64,
    /// Candidate sessions, with version and `last_ts`.
    pub candidates: Vec<Candidate>,
    /// Sessions past the horizon (no longer candidates).
    pub past_horizon: usize,
    /// The winner.
    pub current: Option<String>,
    /// Whether the client is IoT-connected.
    pub connected: bool,
    /// Why the winner won, in words.
    pub why: String,
}

/// One candidate session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// `sessionIdentifier`.
    pub session: String,
    /// `versionNumber`, if seen.
    pub version: Option<u64>,
    /// The latest timestamp of its events.
    pub last_ts: u64,
}

/// Runs `replay explain`.
///
/// # Errors
/// Source, output and `--strict` failures.
pub fn run(args: &ExplainArgs) -> Result<Summary, Error> {
    let (steps, mut summary) = timeline(args)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let err = |source| Error::Output {
        path: "-".into(),
        source,
    };
    match args.format {
        Format::Text => text::write_text(&mut out, &args.client, &steps).map_err(err)?,
        Format::Json => text::write_json(&mut out, &steps).map_err(err)?,
    }
    out.flush().map_err(err)?;
    if let Some(path) = &args.html {
        let page = html::page(&args.client, &steps);
        std::fs::write(path, page).map_err(|source| Error::Output {
            path: path.clone(),
            source,
        })?;
    }
    summary.clients = Some(usize::from(!steps.is_empty()));
    summary.online = usize::from(
        steps
            .last()
            .and_then(|s| s.state.as_ref())
            .is_some_and(|s| s.online),
    );
    Ok(summary)
}

/// Folds the archive and collects the client's steps.
///
/// # Errors
/// Source and `--strict` failures.
pub fn timeline(args: &ExplainArgs) -> Result<(Vec<Step>, Summary), Error> {
    let id = args.client.as_str();
    let mut fold = WorldFold::new(World::in_memory(args.input.fold.config()));
    let mut steps = Vec::new();
    let mut positions = Vec::new();
    let mut seq = 0;
    let pass = each_record(&args.input, |record, position| {
        seq += 1;
        let own_before = relation(&fold.world, record, id);
        let connected_before = fold.world.client(id).is_some_and(|c| c.connected);
        let deliveries = fold.apply(record);
        let world = &fold.world;
        let relation = own_before.or_else(|| relation(world, record, id));
        // A tick that tells the client's presence rooms what the grace put off.
        let told_of_it = deliveries
            .iter()
            .any(|d| d.payload["type"] == "presence" && d.payload["clientId"] == id);
        let notes = why::notes(
            world,
            id,
            record,
            &deliveries,
            relation.is_some() || told_of_it,
        );
        let relation = match relation {
            Some(r) => r,
            None if told_of_it => "its presence told",
            None if !notes.is_empty() => "delivery to it",
            None => return Ok(()),
        };
        let mut step = step(world, id, record, seq, relation, notes);
        if let Record::Lifecycle(e) = record {
            if e.client_id() == id {
                let told = deliveries
                    .iter()
                    .filter(|d| d.payload["type"] == "presence")
                    .count();
                step.presence_event = Some(why::presence_event(world, e, connected_before, told));
            }
        }
        if relation != "delivery to it" {
            step.room_event = why::room_event(world, id, &deliveries);
        }
        steps.push(step);
        positions.push(position);
        Ok(())
    })?;
    for (step, position) in steps.iter_mut().zip(positions) {
        step.source = describe(&pass.files, position);
    }
    std::mem::forget(fold);
    Ok((steps, pass.summary))
}

fn describe(files: &[String], position: Position) -> String {
    let file = files
        .get(position.file as usize)
        .map_or("?", String::as_str);
    format!("{file} ({})", position.at)
}

/// How `record` concerns client `id`, judged from its own fields and its connection.
fn relation(world: &World, record: &Record, id: &str) -> Option<&'static str> {
    let owns = |conn: &str| {
        world
            .connection_state(conn)
            .and_then(|c| c.summary.client_id.as_deref())
            == Some(id)
    };
    match record {
        Record::Lifecycle(e) => (e.client_id() == id).then_some("own event"),
        Record::WebSocket(ws) => (ws.resolved_client_id() == Some(id) || owns(&ws.connection_id))
            .then_some("own connection"),
        Record::ConnectionGone(g) => owns(&g.connection_id).then_some("own connection"),
        Record::Telemetry(_) | Record::Tick(_) => None,
    }
}

fn step(
    world: &World,
    id: &str,
    record: &Record,
    seq: u64,
    relation: &'static str,
    deliveries: Vec<why::DeliveryNote>,
) -> Step {
    let (summary, mark) = why::describe_record(record);
    let presence = world.presence_decision(id).map(|d| {
        let sessions = world.client_state(id).map_or(0, |c| c.sessions.len());
        why::presence(&d, sessions)
    });
    Step {
        seq,
        source: String::new(),
        event_time: record.event_time(),
        event_time_iso: Rfc3339(record.event_time()).to_string(),
        kind: kind(record),
        summary,
        relation,
        state: world.client(id),
        presence,
        presence_event: None,
        room_event: None,
        deliveries,
        mark,
    }
}

fn kind(record: &Record) -> String {
    match record {
        Record::Lifecycle(Lifecycle::ConnectFailed(_)) => "connect_failed".into(),
        Record::WebSocket(ws) => format!("websocket {}", ws.route_key),
        other => other.kind_name().into(),
    }
}
