//! The live fold: one thread owning the local log and the embedded store (the same
//! [`Pipeline`] as `processor local`), fed by one channel that the gateway, the broker and the
//! HTTP endpoint all write to.
//!
//! It waits for the first input, then takes whatever else is already queued (up to
//! [`MAX_BATCH`] records) as one batch: appended to the log (fsynced), folded, deliveries sent.
//! Idle, a record is folded as soon as it arrives; busy, batches grow by themselves, so the
//! fsync and the bulk load are paid once per batch rather than once per record.
//!
//! Queries (`GET /clients`, and where the log ends for a timeline) travel on the same channel,
//! so a query sees every record that arrived before it folded. So do sweeps ([`Input::Sweep`],
//! every `--sweep-every`): the sweeper's `tick`, and a `connection_gone` for each connection the
//! projections hold live but the gateway no longer has (after a crash, its `$disconnect` never
//! came), the same records the AWS sweeper puts on the stream (docs/architecture.md, The
//! sweeper). After each batch the live page is told what was folded and delivered
//! ([`Deliver::tell`]).

use crate::live::{Event, Seen};
use embedded_store::deliveries::{Deliveries, Discard};
use embedded_store::log::Log;
use embedded_store::pipeline::Pipeline;
use embedded_store::redb_store::RedbStore;
use embedded_store::summary::Summary;
use projections::{Channel, ClientProjection, Delivery};
use schemas::{ConnectionGone, Record, Tick};
use std::collections::VecDeque;
use std::io::Write;
use tokio::sync::{mpsc, oneshot};

/// The most records folded as one batch.
pub const MAX_BATCH: usize = 1024;

/// What the fold thread is asked to do.
#[derive(Debug)]
pub enum Input {
    /// A raw record for the stream.
    Record(Record),
    /// Every client's projection, or one client's (`Some(id)`).
    Clients {
        /// One client, or all.
        client_id: Option<String>,
        /// Where the answer goes.
        reply: oneshot::Sender<Result<Vec<ClientProjection>, String>>,
    },
    /// Where the log ends once what arrived before this is appended: a reader of the log stops
    /// there, never at a batch being written.
    LogEnd(oneshot::Sender<u64>),
    /// Sweep: a tick, and the connections the gateway no longer has ended.
    Sweep,
    /// Fold what is queued, commit, and stop.
    Shutdown,
}

/// The shard id of the local stream's ticks: it has one shard.
pub const LOCAL_SHARD: &str = "local";

/// The stream: where sources put records.
pub type Stream = mpsc::UnboundedSender<Input>;

/// Where the fold sends deliveries. A WebSocket send that finds the connection gone returns
/// `false`, and the fold writes a `connection_gone` record back into the stream.
pub trait Deliver: Send {
    /// Sends `payload` to a WebSocket connection; `false` if it is gone.
    fn websocket(&mut self, connection_id: &str, payload: &str) -> bool;
    /// Publishes `payload` on an MQTT topic.
    fn mqtt(&mut self, topic: &str, payload: &str);
    /// A push notification: there is no push service locally, so the whole delivery line.
    fn push(&mut self, line: &str);
    /// Whether the WebSocket connection is still open (API Gateway's `GetConnection`).
    fn is_open(&mut self, connection_id: &str) -> bool;
    /// Tells the live page what happened.
    fn tell(&mut self, event: Event);
}

/// Counts, for the summary at shutdown.
#[derive(Debug, Default, Clone, Copy)]
pub struct Folded {
    /// Records folded.
    pub records: u64,
    /// Batches folded.
    pub batches: u64,
    /// Deliveries sent (all channels).
    pub delivered: u64,
    /// `connection_gone` records written back (by deliveries and by sweeps).
    pub gone: u64,
    /// Sweeps made.
    pub sweeps: u64,
}

/// Runs the fold until [`Input::Shutdown`] (or every sender is dropped); then commits.
///
/// # Errors
/// Log, store or fold failures: the thread stops, and `processor dev` with it.
pub fn run(
    mut pipeline: Pipeline<RedbStore>,
    mut log: Log,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    mut deliver: impl Deliver,
) -> anyhow::Result<Folded> {
    let mut folded = Folded::default();
    let mut summary = Summary::default();
    let mut feedback: VecDeque<Record> = VecDeque::new();
    let mut stopping = false;
    while !stopping {
        let mut taken = Taken {
            batch: feedback.drain(..).collect(),
            ..Taken::default()
        };
        if taken.batch.is_empty() {
            match inputs.blocking_recv() {
                Some(input) => taken.take(input),
                None => taken.stopping = true,
            }
        }
        while taken.batch.len() < MAX_BATCH && !taken.stopping {
            match inputs.try_recv() {
                Ok(input) => taken.take(input),
                Err(_) => break,
            }
        }
        let Taken {
            mut batch,
            queries,
            log_ends,
            sweep,
            stopping: stop,
        } = taken;
        stopping = stop;
        if sweep {
            let records = sweep_records(&mut pipeline, &mut deliver)?;
            // All but the tick.
            folded.gone += records.len().saturating_sub(1) as u64;
            folded.sweeps += 1;
            batch.extend(records);
        }
        if !batch.is_empty() {
            let position = log.append(&batch)?;
            let mut live = Live {
                deliver: &mut deliver,
                feedback: &mut feedback,
                folded: &mut folded,
            };
            pipeline.fold_batch(&batch, position, &mut live, &mut summary)?;
            for record in &batch {
                tracing::info!("folded {}", describe(record));
            }
            folded.records += batch.len() as u64;
            folded.batches += 1;
            deliver.tell(Event::Folded {
                records: batch.len(),
            });
        }
        for (client_id, reply) in queries {
            let answer = match &client_id {
                Some(id) => pipeline.client(id).map(|c| c.into_iter().collect()),
                None => pipeline.all_clients(),
            }
            .map_err(|e| e.to_string());
            // The asker may have gone away; nothing to do then.
            let _ = reply.send(answer);
        }
        for reply in log_ends {
            let _ = reply.send(log.end());
        }
    }
    // Deliveries to connections found gone while stopping: their records are still folded.
    if !feedback.is_empty() {
        let batch: Vec<Record> = feedback.drain(..).collect();
        let position = log.append(&batch)?;
        pipeline.fold_batch(&batch, position, &mut Discard, &mut summary)?;
        folded.records += batch.len() as u64;
    }
    pipeline.sync()?;
    drop(pipeline.finish());
    Ok(folded)
}

type Query = (
    Option<String>,
    oneshot::Sender<Result<Vec<ClientProjection>, String>>,
);

/// What one turn of the loop took from the channel.
#[derive(Default)]
struct Taken {
    batch: Vec<Record>,
    queries: Vec<Query>,
    log_ends: Vec<oneshot::Sender<u64>>,
    sweep: bool,
    stopping: bool,
}

impl Taken {
    fn take(&mut self, input: Input) {
        match input {
            Input::Record(record) => self.batch.push(record),
            Input::Clients { client_id, reply } => self.queries.push((client_id, reply)),
            Input::LogEnd(reply) => self.log_ends.push(reply),
            Input::Sweep => self.sweep = true,
            Input::Shutdown => self.stopping = true,
        }
    }
}

/// A sweep's records: a tick now, and a `connection_gone` for each connection a projection
/// holds live that the gateway no longer has.
fn sweep_records(
    pipeline: &mut Pipeline<RedbStore>,
    deliver: &mut impl Deliver,
) -> anyhow::Result<Vec<Record>> {
    let now = super::now_ms();
    let mut records = vec![Record::Tick(Tick::new(LOCAL_SHARD, now))];
    for client in pipeline.all_clients()? {
        for connection_id in client.connections {
            if !deliver.is_open(&connection_id) {
                tracing::debug!(connection_id, "swept: connection gone");
                records.push(Record::ConnectionGone(ConnectionGone::new(
                    connection_id,
                    now,
                    None,
                )));
            }
        }
    }
    Ok(records)
}

/// A batch's deliveries, sent to the live clients as the pipeline hands them over.
struct Live<'a, D> {
    deliver: &'a mut D,
    /// `connection_gone` records for sockets found gone, folded with the next batch.
    feedback: &'a mut VecDeque<Record>,
    folded: &'a mut Folded,
}

impl<D: Deliver> Deliveries for Live<'_, D> {
    fn deliver(&mut self, delivery: &Delivery) -> std::io::Result<()> {
        self.folded.delivered += 1;
        let kind = delivery.payload["type"].as_str().unwrap_or("?");
        match &delivery.channel {
            Channel::WebSocket { connection_id } => {
                tracing::info!("delivery websocket {connection_id}: {kind}");
            }
            Channel::Mqtt { topic } => tracing::info!("delivery mqtt {topic}: {kind}"),
            Channel::Push { client_id } => tracing::info!("delivery push {client_id}: {kind}"),
        }
        self.deliver
            .tell(Event::Delivery(Seen::new(delivery, super::now_ms())));
        if let Some(gone) = send(delivery, self.deliver) {
            self.folded.gone += 1;
            self.feedback.push_back(gone);
        }
        Ok(())
    }
}

/// A record in a few words, for `--verbose`.
fn describe(record: &Record) -> String {
    match record {
        Record::WebSocket(ws) => format!(
            "websocket {} on {} ({})",
            ws.route_key,
            ws.connection_id,
            ws.client_id
                .as_deref()
                .unwrap_or("client from its $connect")
        ),
        Record::Lifecycle(e) => format!("iot {} of {}", record.kind_name(), e.client_id()),
        Record::Telemetry(t) => format!("telemetry of {}", t.device_id),
        Record::ConnectionGone(g) => format!("connection_gone {}", g.connection_id),
        Record::Tick(_) => "tick".to_owned(),
    }
}

/// Sends one delivery; a `connection_gone` record when its WebSocket is gone.
fn send(delivery: &Delivery, deliver: &mut impl Deliver) -> Option<Record> {
    match &delivery.channel {
        Channel::WebSocket { connection_id } => {
            if deliver.websocket(connection_id, &delivery.payload.to_string()) {
                return None;
            }
            tracing::debug!(connection_id, "connection gone");
            Some(Record::ConnectionGone(ConnectionGone::new(
                connection_id.as_str(),
                super::now_ms(),
                Some(delivery.id.clone()),
            )))
        }
        Channel::Mqtt { topic } => {
            deliver.mqtt(topic, &delivery.payload.to_string());
            None
        }
        Channel::Push { .. } => {
            // Serializing our own type to a String cannot fail.
            deliver.push(&serde_json::to_string(delivery).unwrap_or_default());
            None
        }
    }
}

/// The binary's push "service": one JSON line per push delivery on stdout.
pub fn print_push(line: &str) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    // A closed stdout must not stop the fold.
    let _ = writeln!(lock, "{line}").and_then(|()| lock.flush());
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::EventId;

    #[derive(Default)]
    struct Seen {
        websocket: Vec<(String, String)>,
        mqtt: Vec<(String, String)>,
        push: Vec<String>,
        gone: bool,
    }

    impl Deliver for Seen {
        fn websocket(&mut self, connection_id: &str, payload: &str) -> bool {
            self.websocket.push((connection_id.into(), payload.into()));
            !self.gone
        }
        fn mqtt(&mut self, topic: &str, payload: &str) {
            self.mqtt.push((topic.into(), payload.into()));
        }
        fn push(&mut self, line: &str) {
            self.push.push(line.into());
        }
        fn is_open(&mut self, _: &str) -> bool {
            !self.gone
        }
        fn tell(&mut self, _: Event) {}
    }

    fn delivery(channel: Channel) -> Delivery {
        Delivery::new(
            EventId(7),
            channel,
            None,
            serde_json::json!({"type": "message"}),
        )
    }

    #[test]
    fn routes_the_pipeline_s_deliveries_by_channel() {
        let mut seen = Seen::default();
        let ws = delivery(Channel::WebSocket {
            connection_id: "c1=".into(),
        });
        assert!(send(&ws, &mut seen).is_none());
        let mqtt = delivery(Channel::Mqtt {
            topic: "app/bob/chat/42".into(),
        });
        assert!(send(&mqtt, &mut seen).is_none());
        let push = delivery(Channel::Push {
            client_id: "bob".into(),
        });
        assert!(send(&push, &mut seen).is_none());
        let payload = r#"{"type":"message"}"#.to_owned();
        assert_eq!(seen.websocket, [("c1=".to_owned(), payload.clone())]);
        assert_eq!(seen.mqtt, [("app/bob/chat/42".to_owned(), payload)]);
        assert_eq!(seen.push, [serde_json::to_string(&push).unwrap()]);
    }

    #[test]
    fn a_gone_socket_becomes_a_connection_gone_record() {
        let mut seen = Seen {
            gone: true,
            ..Seen::default()
        };
        let ws = delivery(Channel::WebSocket {
            connection_id: "c1=".into(),
        });
        let Some(Record::ConnectionGone(gone)) = send(&ws, &mut seen) else {
            panic!("no feedback")
        };
        assert_eq!(gone.connection_id, "c1=");
        assert!(gone.delivery_id.is_some());
    }
}
