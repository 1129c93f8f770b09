//! One client's timeline, built while folding a whole stream of records (`replay explain` over
//! an archive, `processor dev` over its log).
//!
//! Each record about the client (its own lifecycle events, records of its WebSocket connections,
//! and records that caused a delivery to it) becomes a [`Step`]: when it happened, what it was,
//! the client's projection after it, the presence rule's reasoning ([`Presence`], from
//! `World::presence_decision`) and the deliveries it would have caused, each with the reason
//! ([`why`]). [`Timeline`] folds the records and collects the steps; [`text`] prints them for
//! people or as JSON; [`html`] writes them as a page with a [`chart`].

pub mod axis;
pub mod chart;
pub mod html;
pub mod text;
pub mod why;

use projections::{ClientProjection, Config, World, WorldFold};
use schemas::time::Rfc3339;
use schemas::{Lifecycle, Record};
use serde::Serialize;

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

/// The timeline of one client, built record by record.
pub struct Timeline {
    client: String,
    fold: WorldFold,
    seq: u64,
    steps: Vec<Step>,
}

impl Timeline {
    /// An empty timeline of `client`, folding with `config`.
    pub fn new(config: Config, client: &str) -> Self {
        Timeline {
            client: client.to_owned(),
            fold: WorldFold::new(World::in_memory(config)),
            seq: 0,
            steps: Vec::new(),
        }
    }

    /// Folds the next record; the step it made, if it concerns the client (its `source` is for
    /// the caller to fill in).
    pub fn record(&mut self, record: &Record) -> Option<&mut Step> {
        self.seq += 1;
        let id = self.client.as_str();
        let own_before = relation(&self.fold.world, record, id);
        let connected_before = self.fold.world.client(id).is_some_and(|c| c.connected);
        let deliveries = self.fold.apply(record);
        let world = &self.fold.world;
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
            None => return None,
        };
        let mut step = step(world, id, record, self.seq, relation, notes);
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
        self.steps.push(step);
        self.steps.last_mut()
    }

    /// The steps so far, in arrival order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The world folded so far.
    pub fn world(&self) -> &World {
        &self.fold.world
    }

    /// The steps so far, in arrival order, taken out of the timeline.
    pub fn take_steps(&mut self) -> Vec<Step> {
        std::mem::take(&mut self.steps)
    }
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
