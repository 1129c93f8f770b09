//! The committing half of the batch protocol: which entries to write, each on which revision
//! condition, and what a commit's answer means for them.
//!
//! A shared store (DynamoDB, written by every shard's processor at once) keeps a revision per
//! entry. A batch writes each changed entry on condition that the revision it read is still the
//! stored one; the keys whose revision moved come back as conflicts, are loaded again (the world
//! joins what the other writer stored into what this batch folded), and are written again after
//! the batch is folded again. A store with one writer (the embedded one) keeps no revisions and
//! never conflicts: every condition it is handed is `None`, and it ignores them.

use super::Revision;
use crate::{Entry, Key, World};
use std::collections::HashMap;

/// One entry to write: the world holds its new value ([`World::entry_ref`] borrows it for
/// encoding, [`World::entry`] copies it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The entry's key.
    pub key: Key,
    /// The revision the batch read it at; `None` when the store had no such entry (or keeps no
    /// revisions). The store writes it only if its revision is still this one.
    pub expected: Option<Revision>,
}

/// What a store did with a commit's writes. Not atomic across keys: the writes that succeeded
/// stay, the others come back as conflicts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Keys written, with their new revision (a store that keeps no revisions lists none; room
    /// members, registers without revisions, are not listed).
    pub written: Vec<(Key, Revision)>,
    /// Keys not written because their stored revision was no longer the one expected.
    pub conflicts: Vec<Key>,
}

/// What one batch knows of the store's revisions.
#[derive(Debug, Default)]
pub(super) struct Revisions {
    /// The revision each entry was read (or last written) at. A key absent here was read with no
    /// revision.
    read: HashMap<Key, Revision>,
    /// Entries written by an earlier attempt of the batch, as written: kept only once a commit
    /// has conflicted, so that the next attempt writes none of them again unchanged.
    written: HashMap<Key, Entry>,
    /// Keys reloaded after a conflict, to write even if folding again leaves them unmarked: this
    /// batch's changes to them are only in memory until then.
    reloaded: Vec<Key>,
}

impl Revisions {
    /// `key` was read at `rev`.
    pub(super) fn read(&mut self, key: &Key, rev: Option<Revision>) {
        if let Some(rev) = rev {
            self.read.insert(key.clone(), rev);
        }
    }

    /// The writes of the next commit: the entries the world changed since the last commit, and
    /// those reloaded after a conflict, less those an earlier attempt wrote as they are now; each
    /// on the revision it was read or last written at. Sorted by key.
    pub(super) fn writes(&mut self, world: &mut World) -> Vec<Write> {
        let mut keys = world.take_dirty();
        if !self.reloaded.is_empty() {
            keys.append(&mut self.reloaded);
            keys.sort_unstable();
            keys.dedup();
        }
        if !self.written.is_empty() {
            keys.retain(|key| world.entry(key).as_ref() != self.written.get(key));
        }
        keys.into_iter()
            .map(|key| Write {
                expected: self.read.get(&key).copied(),
                key,
            })
            .collect()
    }

    /// A commit of `writes` came back as `outcome`. Returns the conflicting keys, which the
    /// batch loads and folds again.
    pub(super) fn committed(&mut self, world: &World, outcome: CommitOutcome) -> Vec<Key> {
        for (key, rev) in &outcome.written {
            self.read.insert(key.clone(), *rev);
        }
        if !outcome.conflicts.is_empty() {
            // The world still holds what was just written: keep it, to tell which entries the
            // next attempt would write again unchanged.
            for (key, _) in outcome.written {
                if let Some(entry) = world.entry(&key) {
                    self.written.insert(key, entry);
                }
            }
            self.reloaded.extend(outcome.conflicts.iter().cloned());
        }
        outcome.conflicts
    }
}
