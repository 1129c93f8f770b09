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
use crate::stream::each_record;
use projections::{Delivery, World};
use schemas::Record;

/// Compact the world every this many events: closed sessions that can no longer win shrink to
/// tombstones and day-old ones are forgotten, so memory follows the number of clients (and their
/// recent sessions), not the number of events. Compaction changes no projection.
pub(crate) const COMPACT_EVERY: u64 = 1 << 20;

/// A complete world, folded and compacted now and then.
pub struct Fold {
    /// The world.
    pub world: World,
    compact_every: u64,
    until_compaction: u64,
}

impl Fold {
    /// Folds into `world`.
    pub fn new(world: World) -> Self {
        Fold::compacting_every(world, COMPACT_EVERY)
    }

    /// Folds into `world`, compacting it every `records` records (tests compact often).
    pub fn compacting_every(world: World, records: u64) -> Self {
        Fold {
            world,
            compact_every: records.max(1),
            until_compaction: records.max(1),
        }
    }

    /// Folds one record and returns the deliveries the fold decided (which replay never sends).
    pub fn apply(&mut self, record: &Record) -> Vec<Delivery> {
        let deliveries = self.world.apply(record);
        self.until_compaction -= 1;
        if self.until_compaction == 0 {
            self.world.compact_all();
            self.until_compaction = self.compact_every;
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
    let mut pass = each_record(&args.input, |record, _| {
        fold.apply(record);
        Ok(())
    })?;
    // Joining the two halves is part of the fold's time.
    let joining = std::time::Instant::now();
    let mut world = fold.finish()?;
    pass.summary.elapsed += joining.elapsed();
    let mut clients = if args.clients.is_empty() {
        world.clients()
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
