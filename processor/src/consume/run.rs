//! The polling loop of `processor consume`: every shard in turn, parents before children, one
//! `GetRecords` page per batch through the same [`Handler`] the Lambda runs.
//!
//! After a batch the shard's checkpoint moves to its last record, or, after a partial failure,
//! to the record before the first failed one, and the shard is read again from there (after a
//! backoff), as Lambda does with `batchItemFailures`. A shard whose parents (after a split or a
//! merge) are not finished is not read: the parents' records come first.

use crate::lambda::Handler;
use anyhow::{bail, Context, Result};
use aws_adapters::checkpoint::{Checkpoint, Checkpoints};
use aws_adapters::cost::Cost;
use aws_adapters::dynamo::backoff;
use aws_adapters::feedback::Feedback;
use aws_adapters::quarantine_port::Quarantine;
use aws_adapters::sink_port::DeliverySink;
use aws_adapters::source::{Position, ShardSource};
use aws_adapters::store_port::RevisionedStore;
use std::collections::HashMap;
use std::time::Duration;

/// How `consume` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stop once every shard is drained (all open shards returned no records).
    pub until_idle: bool,
    /// Records per `GetRecords` (the batch size).
    pub limit: i32,
    /// Pause between polls of an idle stream.
    pub idle_pause: Duration,
    /// Consecutive failed batches of one shard before giving up.
    pub max_failures: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            until_idle: false,
            limit: 1000,
            idle_pause: Duration::from_millis(500),
            max_failures: 10,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Batches handled.
    pub batches: u64,
    /// Records read (a retried record counts again).
    pub records: u64,
    /// Batches with a failed record.
    pub failed_batches: u64,
    /// Shards in the order their first batch was handled.
    pub shard_order: Vec<String>,
    /// What the batches' store calls cost.
    pub cost: Cost,
    /// Deliveries sent.
    pub delivered: u64,
    /// Chat deliveries made to clients whose leave, processed after the message, came before
    /// it (`projections::World::late_leaves`).
    pub late_leaves: u64,
    /// Revision conflicts met (each a reload and a refold: another writer changed an entry
    /// between the batch's load and its commit).
    pub conflicts: u64,
}

/// Consumes the stream until idle (or forever).
///
/// # Errors
/// Reading the stream or the checkpoints failed, or a shard kept failing.
pub async fn consume<Src, C, S, Q, D, F>(
    source: &Src,
    checkpoints: &C,
    handler: &Handler<S, Q, D, F>,
    options: &Options,
) -> Result<Summary>
where
    Src: ShardSource,
    C: Checkpoints,
    S: RevisionedStore,
    Q: Quarantine,
    D: DeliverySink,
    F: Feedback,
{
    let mut summary = Summary::default();
    let mut progress: HashMap<String, Checkpoint> = HashMap::new();
    let mut iterators: HashMap<String, String> = HashMap::new();
    let mut failures: HashMap<String, u32> = HashMap::new();
    loop {
        let shards = source.shards().await.context("listing shards")?;
        for s in &shards {
            if !progress.contains_key(&s.id) {
                let cp = checkpoints
                    .load(&s.id)
                    .await
                    .context("loading a checkpoint")?;
                progress.insert(s.id.clone(), cp);
            }
        }
        let finished = |id: &str, progress: &HashMap<String, Checkpoint>| {
            // A parent no longer listed has expired: nothing of it is left to read.
            progress.get(id).is_none_or(|cp| cp.done) || !shards.iter().any(|s| s.id == id)
        };
        let ready: Vec<_> = shards
            .iter()
            .filter(|s| !finished(&s.id, &progress))
            .filter(|s| s.parents.iter().all(|p| finished(p, &progress)))
            .cloned()
            .collect();
        let mut moved = false;
        for shard in &ready {
            let cp = progress.get(&shard.id).cloned().unwrap_or_default();
            let iterator = match iterators.remove(&shard.id) {
                Some(it) => it,
                None => {
                    let from = cp
                        .seq
                        .clone()
                        .map_or(Position::TrimHorizon, Position::After);
                    source
                        .iterator(&shard.id, &from)
                        .await
                        .context("getting a shard iterator")?
                }
            };
            let page = source
                .records(&shard.id, &iterator, options.limit)
                .await
                .context("reading records")?;
            if page.records.is_empty() {
                // An empty page alone is not the end of a shard: GetRecords may answer empty
                // pages in its middle. Kinesis ends a closed shard with a null next iterator;
                // moto never returns one, so a closed shard with nothing behind its tip counts
                // as read to its end too (no record can be added to a closed shard).
                let behind = page.behind_ms.unwrap_or(0);
                if page.next.is_none() || (shard.closed && behind == 0) {
                    let done = Checkpoint { done: true, ..cp };
                    checkpoints
                        .save(&shard.id, &done)
                        .await
                        .context("saving a checkpoint")?;
                    tracing::info!(shard = %shard.id, "shard finished");
                    progress.insert(shard.id.clone(), done);
                    moved = true;
                } else if let Some(next) = page.next {
                    iterators.insert(shard.id.clone(), next);
                    // Records are still behind this page: not idle, read on.
                    moved |= behind > 0;
                }
                continue;
            }
            moved = true;
            if !summary.shard_order.contains(&shard.id) {
                summary.shard_order.push(shard.id.clone());
            }
            summary.batches += 1;
            summary.records += page.records.len() as u64;
            let report = handler.handle(&page.records).await;
            summary.cost.add(&report.cost);
            summary.delivered += report.delivered as u64;
            summary.late_leaves += report.late_leaves;
            summary.conflicts += report.conflicts as u64;
            let completed = match report.failed_at {
                None => page.records.last(),
                Some(0) => None,
                Some(i) => page.records.get(i - 1),
            };
            if let Some(last) = completed {
                let cp = Checkpoint {
                    seq: Some(last.seq.clone()),
                    done: false,
                };
                checkpoints
                    .save(&shard.id, &cp)
                    .await
                    .context("saving a checkpoint")?;
                progress.insert(shard.id.clone(), cp);
            }
            match report.failed_at {
                None => {
                    failures.remove(&shard.id);
                    if let Some(next) = page.next {
                        iterators.insert(shard.id.clone(), next);
                    }
                }
                Some(i) => {
                    summary.failed_batches += 1;
                    let n = failures.entry(shard.id.clone()).or_insert(0);
                    *n += 1;
                    let why = report.failure.clone().unwrap_or_default();
                    if *n >= options.max_failures {
                        bail!(
                            "shard {}: record {} failed {} times in a row: {why}",
                            shard.id,
                            page.records[i].seq,
                            n
                        );
                    }
                    // Read again from the first failed record, after a pause.
                    backoff(*n).await;
                }
            }
        }
        if !moved {
            if options.until_idle {
                return Ok(summary);
            }
            tokio::time::sleep(options.idle_pause).await;
        }
    }
}
