//! The folding half of the batch protocol: applying a batch's records in order to a store-backed
//! [`World`], asking first for the entries each one reads.
//!
//! A world says which entries a record reads ([`World::needs`]); loading one entry can reveal
//! more (a connection's client, a room's members), so a fold asks in rounds: a few bulk rounds
//! for a chunk of records ([`PREFETCH_ROUNDS`]), then, just before applying each record, until it
//! needs nothing ([`RECORD_ROUNDS`]), because applying earlier records of the batch can change
//! what a later one reads.
//!
//! In a world over a shared store, a chat message is stored before its room's members are read
//! (see `ahead`): once its connection is loaded, a round asks to publish it ([`Ask::Publish`])
//! before it asks for the room.

use crate::{Delivery, Key, World};
use schemas::Record;
use std::collections::HashSet;

/// Bulk loading rounds per chunk before the per-record check takes over. Each round follows one
/// more link (client -> its connections -> ...); the fold's links are short.
const PREFETCH_ROUNDS: usize = 4;
/// A record still asking for keys after this many loads means the fold has a bug.
const RECORD_ROUNDS: usize = 16;

/// The fold kept asking for keys for one record: a bug in `projections`, not bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the fold keeps asking for keys for a {kind} record (last: {key}): a bug in projections")]
pub struct Unsettled {
    /// The record's kind.
    pub kind: &'static str,
    /// The last key asked for.
    pub key: String,
}

/// What a pass asks of its driver before it can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ask {
    /// Load these keys (sorted).
    Load(Vec<Key>),
    /// Store these chat messages ([`Key::Message`], sorted) before their rooms' members are read.
    Publish(Vec<Key>),
}

/// One pass of a batch's records over a world: the first, which decides deliveries, or one
/// after a conflict, which only folds the records again.
#[derive(Debug)]
pub(super) struct Fold {
    chunk: usize,
    /// The next record to apply.
    next: usize,
    prefetch: Prefetch,
    /// Loads asked for the next record since it was reached.
    record_rounds: usize,
}

/// The bulk loading of one chunk of records.
#[derive(Debug)]
enum Prefetch {
    /// The chunk starting at the next record has not asked yet.
    Due,
    /// Rounds asked so far, and the positions of the chunk's records that asked in the last one.
    Asking(usize, Vec<usize>),
    /// Done: whether every record of the chunk then needed nothing more.
    Done { settled: bool },
}

impl Fold {
    /// A pass from the first record, prefetching `chunk` records at a time (at least one).
    pub(super) fn new(chunk: usize) -> Self {
        Fold {
            chunk: chunk.max(1),
            next: 0,
            prefetch: Prefetch::Due,
            record_rounds: 0,
        }
    }

    /// Applies records as far as the loaded entries allow, handing each one's deliveries to
    /// `decided` with its position. Returns what to load or store next, or `None` once every
    /// record is applied.
    pub(super) fn advance(
        &mut self,
        world: &mut World,
        records: &[Record],
        mut decided: impl FnMut(usize, Vec<Delivery>),
    ) -> Result<Option<Ask>, Unsettled> {
        while let Some(record) = records.get(self.next) {
            if let Some(ask) = self.prefetch_round(world, records) {
                return Ok(Some(ask));
            }
            // What a lifecycle record reads depends on the record alone (its client, its chat
            // rooms, the watermark), and a loaded entry stays loaded: once the prefetch has
            // settled every record of the chunk, asking again before applying one cannot find
            // anything. Most of a stream is lifecycle events, and each check is a few hash
            // lookups.
            let settled = matches!(self.prefetch, Prefetch::Done { settled: true });
            if !(settled && matches!(record, Record::Lifecycle(_))) {
                if let Some((room, message)) = world.to_publish(record) {
                    return Ok(Some(Ask::Publish(vec![world.publish(&room, &message)])));
                }
                let needs = world.needs(record);
                if let Some(last) = needs.last() {
                    if self.record_rounds == RECORD_ROUNDS {
                        return Err(Unsettled {
                            kind: record.kind_name(),
                            key: last.to_string(),
                        });
                    }
                    self.record_rounds += 1;
                    return Ok(Some(Ask::Load(needs)));
                }
            }
            decided(self.next, world.apply(record));
            self.next += 1;
            self.record_rounds = 0;
            if self.next.is_multiple_of(self.chunk) {
                self.prefetch = Prefetch::Due;
            }
        }
        Ok(None)
    }

    /// The next bulk round of the current chunk, if it asks for anything. Only records that
    /// asked in a round are asked again: loading one entry can reveal keys behind it. The
    /// messages the chunk's records can publish are published first, in a step that is no
    /// round: their rooms are asked for after it.
    fn prefetch_round(&mut self, world: &mut World, records: &[Record]) -> Option<Ask> {
        let (rounds, mut pending) = match std::mem::replace(&mut self.prefetch, Prefetch::Due) {
            Prefetch::Due => {
                let end = records.len().min(self.next.saturating_add(self.chunk));
                (0, (self.next..end).collect())
            }
            Prefetch::Asking(rounds, pending) => (rounds, pending),
            done @ Prefetch::Done { .. } => {
                self.prefetch = done;
                return None;
            }
        };
        if rounds == PREFETCH_ROUNDS {
            self.prefetch = Prefetch::Done { settled: false };
            return None;
        }
        let publish: Vec<_> = pending
            .iter()
            .filter_map(|&at| world.to_publish(&records[at]))
            .collect();
        if !publish.is_empty() {
            let mut keys: Vec<Key> = publish
                .iter()
                .map(|(room, message)| world.publish(room, message))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            self.prefetch = Prefetch::Asking(rounds, pending);
            return Some(Ask::Publish(keys));
        }
        let mut want: HashSet<Key> = HashSet::new();
        pending.retain(|&at| {
            let needs = world.needs(&records[at]);
            let asked = !needs.is_empty();
            want.extend(needs);
            asked
        });
        if want.is_empty() {
            self.prefetch = Prefetch::Done { settled: true };
            return None;
        }
        self.prefetch = Prefetch::Asking(rounds + 1, pending);
        let mut keys: Vec<Key> = want.into_iter().collect();
        // Sorted keys read a B-tree front to back, and make request batches deterministic.
        keys.sort_unstable();
        // A room's history since the earliest time asked holds what every later time asks
        // for: one read a room, however many of the chunk's memberships ask.
        keys.dedup_by(|later, earlier| match (later, earlier) {
            (Key::History { room: a, .. }, Key::History { room: b, .. }) => a == b,
            _ => false,
        });
        Some(Ask::Load(keys))
    }
}
