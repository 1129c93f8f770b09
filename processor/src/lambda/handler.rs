//! The batch handler (docs/architecture.md, The batch protocol), for one batch of one shard, over
//! the ports of the `aws_adapters` crate. Lambda calls it per Kinesis event; `processor consume`
//! per `GetRecords` page.
//!
//! 1. Decode every record; a poison record goes to the [`Quarantine`] and the rest go on.
//! 2. Load the keys the batch touches in bulk,
//! 3. fold the records in order, deciding deliveries against the state at each point,
//! 4. write each changed entry once, on condition of its revision, loading conflicting keys
//!    again and folding the batch again, a bounded number of times: all three as the batch
//!    protocol (`projections::batch`) asks, against the store.
//! 5. Send deliveries with bounded concurrency, in order per target, skipping those already sent
//!    (dedup marks per event id); a 410 Gone feeds `connection_gone` back to the stream
//!    (`super::deliver`).
//! 6. Report the index of the first record that did not complete, if any: Lambda retries from
//!    its sequence number. Records before it are done; those after it are retried after it.
//!
//! Nothing here panics on input, and every failure is logged and reported, never swallowed.
//! Deliveries are decided on the first fold: a retried batch folds again over state that already
//! holds the whole batch, so its decisions may differ, but dedup marks keep it from sending any
//! delivery twice.

use super::deliver::Pending;
use crate::settings::HandlerSettings;
use aws_adapters::cost::Cost;
use aws_adapters::feedback::Feedback;
use aws_adapters::quarantine_port::{PoisonRecord, Quarantine};
use aws_adapters::sink_port::DeliverySink;
use aws_adapters::source::InRecord;
use aws_adapters::store_port::{RevisionedStore, StoreError, Write};
use projections::{Batch, BatchError, Delivery, Key, Plan, Step, World};
use schemas::Record;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tracing::Instrument;

/// What a batch did and cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Records in the batch.
    pub records: usize,
    /// The first record that did not complete; it and every later one must be retried.
    pub failed_at: Option<usize>,
    /// Why, for that record.
    pub failure: Option<String>,
    /// Poison records quarantined.
    pub quarantined: usize,
    /// Keys loaded.
    pub keys_loaded: usize,
    /// Entries written.
    pub entries_written: usize,
    /// Revision conflicts met.
    pub conflicts: usize,
    /// Deliveries sent by this attempt.
    pub delivered: usize,
    /// Those, and the pushes sent instead of a gone socket, by channel.
    pub by_channel: ChannelCounts,
    /// Deliveries skipped because an earlier attempt or record had sent them.
    pub duplicates: usize,
    /// Connections found gone.
    pub gone: usize,
    /// Chat messages pushed to a member because the socket the fold chose was gone.
    pub pushed_instead: usize,
    /// Chat deliveries made to clients whose leave, processed after the message, came before
    /// it: made, and not undone (`World::late_leaves`).
    pub late_leaves: u64,
    /// What the batch's store calls cost (requests, read and write units, bytes).
    pub cost: Cost,
    /// How long the batch took, in milliseconds.
    pub millis: u64,
}

/// Deliveries sent, by channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    /// `PostToConnection`s.
    pub websocket: usize,
    /// MQTT publishes.
    pub mqtt: usize,
    /// Push notifications.
    pub push: usize,
}

impl ChannelCounts {
    /// Counts one delivery sent on `channel`.
    pub fn add(&mut self, channel: &projections::Channel) {
        match channel {
            projections::Channel::WebSocket { .. } => self.websocket += 1,
            projections::Channel::Mqtt { .. } => self.mqtt += 1,
            projections::Channel::Push { .. } => self.push += 1,
        }
    }

    /// The counts of both.
    pub fn plus(self, other: ChannelCounts) -> ChannelCounts {
        ChannelCounts {
            websocket: self.websocket + other.websocket,
            mqtt: self.mqtt + other.mqtt,
            push: self.push + other.push,
        }
    }
}

impl BatchReport {
    fn fail(&mut self, at: usize, why: String) {
        if self.failed_at.is_none_or(|f| at < f) {
            self.failed_at = Some(at);
            self.failure = Some(why);
        }
    }
}

/// Why loading, folding or committing failed.
#[derive(Debug, thiserror::Error)]
enum FoldError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("the batch protocol asked to write {0}, which the world does not hold: a bug in projections")]
    Unheld(Key),
}

/// The handler, over its ports. Built once (at cold start) and shared by every batch.
#[derive(Debug)]
pub struct Handler<S, Q, D, F> {
    /// Projections and dedup marks.
    pub store: S,
    /// Poison records.
    pub quarantine: Q,
    /// Deliveries.
    pub sink: D,
    /// `connection_gone` records.
    pub feedback: F,
    /// Settings.
    pub settings: HandlerSettings,
}

/// The wall clock, ms epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl<S, Q, D, F> Handler<S, Q, D, F>
where
    S: RevisionedStore,
    Q: Quarantine,
    D: DeliverySink,
    F: Feedback,
{
    /// Handles one batch of one shard, in order. Never panics and never fails as a whole: the
    /// report says which record to retry from.
    pub async fn handle(&self, input: &[InRecord]) -> BatchReport {
        let (shard, first, last) = match (input.first(), input.last()) {
            (Some(a), Some(b)) => (a.shard.as_str(), a.seq.as_str(), b.seq.as_str()),
            _ => return BatchReport::default(),
        };
        let span = tracing::info_span!("batch", shard, first_seq = first, last_seq = last);
        let started = Instant::now();
        let before = self.store.cost();
        let mut report = self.run(input).instrument(span.clone()).await;
        report.cost = self.store.cost().since(&before);
        report.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let _entered = span.enter();
        tracing::info!(
            records = report.records,
            quarantined = report.quarantined,
            keys_loaded = report.keys_loaded,
            entries_written = report.entries_written,
            conflicts = report.conflicts,
            delivered = report.delivered,
            duplicates = report.duplicates,
            gone = report.gone,
            pushed_instead = report.pushed_instead,
            late_leaves = report.late_leaves,
            failed_at = ?report.failed_at.map(|i| &input[i].seq),
            requests = report.cost.requests,
            read_units = report.cost.read_units,
            write_units = report.cost.write_units,
            bytes_written = report.cost.bytes_written,
            reported_units = report.cost.reported_units(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "batch done"
        );
        report
    }

    async fn run(&self, input: &[InRecord]) -> BatchReport {
        let mut report = BatchReport {
            records: input.len(),
            ..BatchReport::default()
        };
        // 1. Decode; quarantine poison.
        let mut positions = Vec::with_capacity(input.len());
        let mut records = Vec::with_capacity(input.len());
        for (i, r) in input.iter().enumerate() {
            match schemas::decode_json(&r.data) {
                Ok(record) => {
                    positions.push(i);
                    records.push(record);
                }
                Err(e) => {
                    tracing::warn!(shard = %r.shard, seq = %r.seq, error = %e, "poison record");
                    let item = PoisonRecord {
                        raw: r.data.clone(),
                        error: e.to_string(),
                        shard: r.shard.clone(),
                        sequence_number: r.seq.clone(),
                        at_ms: now_ms(),
                        delivery_id: None,
                    };
                    if let Err(e) = self.quarantine.put(item).await {
                        self.fail(&mut report, input, i, e.to_string());
                        break;
                    }
                    report.quarantined += 1;
                }
            }
        }
        // 2-4. Load, fold, commit.
        let decided = if records.is_empty() {
            Vec::new()
        } else {
            // A Lambda invocation's records are one shard's.
            let shard = input[positions[0]].shard.as_str();
            match self.fold_and_commit(shard, &records, &mut report).await {
                Ok(decided) => decided,
                Err(e) => {
                    self.fail(&mut report, input, positions[0], e.to_string());
                    return report;
                }
            }
        };
        // 5. Deliver.
        let pending: Vec<Pending> = decided
            .into_iter()
            .map(|(pos, delivery)| Pending {
                at: positions[pos],
                time: records[pos].event_time(),
                delivery,
            })
            .collect();
        self.deliver(input, pending, &mut report).await;
        report
    }

    pub(super) fn fail(
        &self,
        report: &mut BatchReport,
        input: &[InRecord],
        at: usize,
        why: String,
    ) {
        let r = &input[at];
        tracing::error!(shard = %r.shard, seq = %r.seq, error = %why, "record not completed");
        report.fail(at, why);
    }

    /// Steps 2-4, as the batch protocol (`projections::batch`) asks: loads from the store,
    /// conditional commits to it, for `records` of `shard` (whose list of announcements the
    /// presence grace puts off the fold writes). Returns the deliveries of the first fold, by
    /// position in `records`.
    async fn fold_and_commit(
        &self,
        shard: &str,
        records: &[Record],
        report: &mut BatchReport,
    ) -> Result<Vec<(usize, Delivery)>, FoldError> {
        // The table writes a room's members apart (a subscription needs no room loaded) and
        // keeps no watermark, which every batch would write.
        let mut world = World::new(self.settings.fold.clone())
            .parts_apart()
            .clock_from_entries();
        world.on_shard(shard);
        let mut batch = Batch::new(records, Plan::shared(self.settings.commit_attempts));
        loop {
            match batch.next(&mut world)? {
                Step::Load(keys) => {
                    let loaded = self.store.load_many(&keys).await?;
                    report.keys_loaded += keys.len();
                    for (key, l) in keys.into_iter().zip(loaded) {
                        batch.load(&mut world, key, l.entry, l.rev);
                    }
                }
                Step::Publish(messages) => {
                    let writes = to_writes(&world, messages.into_iter().map(|key| (key, None)))?;
                    self.store.publish(&writes).await?;
                    report.entries_written += writes.len();
                }
                Step::Commit(writes) => {
                    let writes =
                        to_writes(&world, writes.into_iter().map(|w| (w.key, w.expected)))?;
                    let out = self.store.commit(&writes).await?;
                    // Room members are written too, though they carry no revision to list.
                    report.entries_written += writes.len() - out.conflicts.len();
                    if let Some(first) = out.conflicts.first() {
                        report.conflicts += out.conflicts.len();
                        tracing::info!(
                            conflicts = out.conflicts.len(),
                            %first,
                            "revision conflict: reloading and folding again"
                        );
                    }
                    batch.committed(&world, out);
                }
                Step::Done => {
                    report.late_leaves += batch.late_leaves();
                    return Ok(batch.into_deliveries());
                }
            }
        }
    }
}

/// The writes of `keys` (each with the revision it is written on), their entries and, for
/// clients, their views taken from `world`.
fn to_writes(
    world: &World,
    keys: impl Iterator<Item = (Key, Option<projections::Revision>)>,
) -> Result<Vec<Write>, FoldError> {
    keys.map(|(key, expected)| {
        Ok(Write {
            entry: world
                .entry(&key)
                .ok_or_else(|| FoldError::Unheld(key.clone()))?,
            view: match &key {
                Key::Client(id) => world.client(id),
                _ => None,
            },
            expected,
            key,
        })
    })
    .collect()
}
