//! The loading half of the batch protocol (DESIGN.md section 5, step 2), shared by every runner:
//! `processor local` over its embedded store and the Lambda handler over DynamoDB.
//!
//! A store-backed [`World`] says which entries a record reads ([`World::needs`]); loading one
//! entry can reveal more (a connection's client, a room's members), so the runner asks in rounds:
//! a few bulk rounds for the whole batch ([`prefetch_round`]), then, just before applying each
//! record, until it needs nothing ([`RECORD_ROUNDS`]), because applying earlier records of the
//! batch can change what a later one reads. Only how entries are read differs between runners.

use projections::{Key, World};
use schemas::Record;
use std::collections::HashSet;

/// Bulk loading rounds before the per-record check takes over. Each round follows one more link
/// (client -> its connections -> ...); the fold's links are short.
pub const PREFETCH_ROUNDS: usize = 4;
/// A record still asking for keys after this many loads means the fold has a bug.
pub const RECORD_ROUNDS: usize = 16;

/// One bulk round: the keys the `pending` records still need, sorted. Records that need nothing
/// are dropped from `pending`, so the next round asks only those that asked in this one.
pub fn prefetch_round(world: &World, pending: &mut Vec<&Record>) -> Vec<Key> {
    let mut want: HashSet<Key> = HashSet::new();
    pending.retain(|record| {
        let needs = world.needs(record);
        let asked = !needs.is_empty();
        want.extend(needs);
        asked
    });
    let mut keys: Vec<Key> = want.into_iter().collect();
    // Sorted keys read a B-tree front to back, and make request batches deterministic.
    keys.sort_unstable();
    keys
}

/// The fold kept asking for keys for one record: a bug in `projections`, not bad input.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the fold keeps asking for keys for a {kind} record (last: {key}): a bug in projections")]
pub struct Unsettled {
    /// The record's kind.
    pub kind: &'static str,
    /// The last key asked for.
    pub key: String,
}

impl Unsettled {
    /// The error for `record`, which still needs keys in `world`.
    pub fn of(world: &World, record: &Record) -> Self {
        Unsettled {
            kind: record.kind_name(),
            key: world
                .needs(record)
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
        }
    }
}
