//! `replay rebuild`: source -> fold -> sink.
//!
//! The whole archive is folded into complete in-memory worlds, two halves on two threads joined
//! at the end ([`crate::parallel`]; the same pure fold as the processor; deliveries it decides
//! are dropped, since replay sends nothing), then the sink writes the result once. `--client` restricts what is written, not what is folded: a client's
//! projection depends on its connections and rooms, which other clients' records touch.

use crate::cli::RebuildArgs;
use crate::error::Error;
use crate::parallel::ParallelFold;
use crate::progress::Summary;
use crate::sink::{self, SinkSpec};
use crate::stream::each_batch;
use projections::{Delivery, World};
use schemas::Record;

/// Compact the world at most this often: closed sessions that can no longer win shrink to
/// tombstones, and day-old ones (and day-old left rooms) are forgotten, so memory follows the
/// number of clients (their rooms and a day of their sessions), not the number of events.
/// Compaction changes no projection.
///
/// Memory grows between compactions with the records folded (new sessions, their topics, vectors
/// doubling), and a compaction walks the whole world's state, at a cache miss or so per session.
/// So the world is compacted after a quarter as many records as it keeps pieces of state
/// (sessions, memberships), but no more often than this: a compaction costs a constant per
/// record, and the peak stays near the compacted world. (Measured on 10 M events over 100,000
/// clients: over 68 hours, 0.82 GB peak against 1.12 GB when compacting every 2^20 records, the
/// period before; over 4 hours, where a day of sessions is all kept, 1.54 against 1.57 GB; the
/// same time both ways.)
pub(crate) const MIN_COMPACTION_PERIOD: u64 = 1 << 18;

/// When a [`Fold`] compacts its world.
#[derive(Debug, Clone, Copy)]
enum Period {
    /// After a quarter as many records as the world keeps pieces of state, and at least
    /// [`MIN_COMPACTION_PERIOD`].
    WorldSize,
    /// Every so many records (tests compact often).
    Every(u64),
}

/// A complete world, folded and compacted now and then.
pub struct Fold {
    /// The world.
    pub world: World,
    period: Period,
    until_compaction: u64,
}

impl Fold {
    /// Folds into `world`.
    pub fn new(world: World) -> Self {
        Fold {
            world,
            period: Period::WorldSize,
            until_compaction: MIN_COMPACTION_PERIOD,
        }
    }

    /// Folds into `world`, compacting it every `records` records (tests compact often).
    pub fn compacting_every(world: World, records: u64) -> Self {
        Fold {
            world,
            period: Period::Every(records.max(1)),
            until_compaction: records.max(1),
        }
    }

    /// Folds one record and returns the deliveries the fold decided (which replay never sends).
    pub fn apply(&mut self, record: &Record) -> Vec<Delivery> {
        let deliveries = self.world.apply(record);
        self.until_compaction -= 1;
        if self.until_compaction == 0 {
            let kept = self.world.compact_all() as u64;
            self.until_compaction = match self.period {
                Period::WorldSize => MIN_COMPACTION_PERIOD.max(kept / 4),
                Period::Every(records) => records,
            };
        }
        deliveries
    }
}

/// Runs `replay rebuild`.
///
/// # Errors
/// Source, sink and `--strict` failures; `--client` with a `store:` sink (a usage error).
pub fn run(args: &RebuildArgs) -> Result<Summary, Error> {
    if !args.clients.is_empty() && matches!(args.to, SinkSpec::Store(_)) {
        return Err(Error::Usage(
            "--client restricts what a jsonl: or dynamodb:// sink writes; a store: sink starts \
             a new store, which must hold every client, so rebuild it whole (without --client)"
                .into(),
        ));
    }
    // Open the sink first: an unsupported or non-empty one should fail before a long fold.
    let mut sink = sink::open(&args.to, args.input.endpoint_url.as_deref(), &args.clients)?;
    let mut fold = ParallelFold::new(args.input.fold.config());
    let mut pass = each_batch(&args.input, |batch, window| {
        fold.apply(batch, window);
        Ok(())
    })?;
    // Joining the two halves is part of the fold's time.
    let joining = std::time::Instant::now();
    let mut world = fold.finish()?;
    pass.summary.elapsed += joining.elapsed();
    let mut clients = if args.clients.is_empty() {
        embedded_store::halves::clients(&world)
    } else {
        let mut wanted: Vec<&String> = args.clients.iter().collect();
        wanted.sort();
        wanted.dedup();
        wanted
            .into_iter()
            .filter_map(|id| world.client(id))
            .collect()
    };
    sink.write(&mut world, &clients)?;
    let mut summary = pass.summary;
    summary.clients = Some(clients.len());
    summary.online = clients.iter().filter(|c| c.online).count();
    // Freeing millions of small allocations one by one is a noticeable part of a run, and the
    // process is about to exit, which frees it all at once.
    clients.clear();
    std::mem::forget(world);
    Ok(summary)
}
