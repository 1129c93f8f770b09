//! `replay rebuild`: source -> fold -> sink.
//!
//! The whole archive is folded into complete in-memory worlds, two halves on two threads joined at
//! the end ([`crate::parallel`]; the same pure fold as the processor; deliveries it decides are
//! dropped, since replay sends nothing), then the sink writes the result once. `--client` restricts
//! what is written, not what is folded: a client's projection depends on its connections and rooms,
//! which other clients' records touch.

use crate::cli::RebuildArgs;
use crate::error::Error;
use crate::parallel::ParallelFold;
use crate::progress::Summary;
use crate::sink::{self, SinkSpec};
use crate::stream::each_batch;
use crate::warnings;

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
        let mut found = Vec::with_capacity(wanted.len());
        for id in wanted {
            match world.client(id) {
                Some(client) => found.push(client),
                // An empty source has been warned of already.
                None if pass.summary.events > 0 => warnings::no_such_client(&world, id),
                None => {}
            }
        }
        found
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
