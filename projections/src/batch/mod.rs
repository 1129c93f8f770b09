//! The batch protocol, sans I/O: one implementation of how a batch of records is folded into
//! a store-backed [`World`] and written back, which every process drives with its own reads and
//! writes.
//!
//! A [`Batch`] owns the whole cycle and tells its driver, one [`Step`] at a time, what I/O it
//! needs:
//!
//! 1. **Load**: the keys the records read, in a few bulk rounds per chunk of records and then per
//!    record (`fold`); the driver reads them and hands each entry, with its revision, to
//!    [`Batch::load`].
//! 2. The records are applied in order; deliveries are decided against the state at each point
//!    ([`Batch::deliveries`]).
//! 3. **Commit**: the changed entries, each on the revision it was read at (`revisions`); the
//!    driver writes them and hands the store's answer to [`Batch::committed`].
//! 4. Conflicting keys are loaded again (the world joins the other writer's entry into its own)
//!    and the records folded again, which is safe because every entry is a join-semilattice and
//!    folding is idempotent; then the next commit. After [`Plan::commit_attempts`] commits that
//!    conflicted, the batch gives up with [`BatchError::StillConflicting`].
//!
//! Over a store that batches write at once ([`World::parts_apart`]), a chat message is stored
//! before its room's members are loaded (**publish**, during step 1), and the histories of the
//! rooms whose memberships the batch wrote are loaded after its commit (**recheck**), not before
//! the fold: a member whose join another shard's batch commits at the same time gets the message
//! from one batch or the other (see `ahead`).
//!
//! A driver is a loop that does what each step says:
//!
//! ```text
//! let mut batch = Batch::new(&records, plan);
//! loop {
//!     match batch.next(&mut world)? {
//!         Step::Load(keys) => for (key, (entry, rev)) in keys.into_iter().zip(store.read(&keys)) {
//!             batch.load(&mut world, key, entry, rev)
//!         },
//!         Step::Publish(messages) => store.put_messages(&messages, &world),
//!         Step::Commit(writes) => batch.committed(&world, store.write(&writes, &world)),
//!         Step::Done => break,
//!     }
//! }
//! ```

mod fold;
mod revisions;

use fold::Ask;
pub use fold::Unsettled;
pub use revisions::{CommitOutcome, Write};

use crate::{Delivery, Entry, Key, World};
use fold::Fold;
use revisions::Revisions;
use schemas::Record;

/// An entry's revision in a shared store: 1 after the first write, one more after each.
pub type Revision = u64;

/// How a driver runs its batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Records prefetched in bulk at a time before they are applied (at least one).
    /// `usize::MAX` loads the whole batch before applying anything, the fewest requests to a
    /// remote store; a few thousand apply records while the entries their prefetch read are
    /// still in the processor's cache, for an embedded store.
    pub prefetch_chunk: usize,
    /// Commits that may conflict before the batch gives up (at least one).
    pub commit_attempts: usize,
}

impl Plan {
    /// For a remote store shared by many writers: the whole batch prefetched, `commit_attempts`
    /// commits at most.
    pub fn shared(commit_attempts: usize) -> Self {
        Plan {
            prefetch_chunk: usize::MAX,
            commit_attempts,
        }
    }
}

/// What a batch asks of its driver next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Read these keys and hand each entry, or its absence, to [`Batch::load`], then ask again.
    /// Sorted; after a conflict, keys already loaded are asked again, and after the commit the
    /// histories of rooms whose memberships the batch wrote (and the connections of messages
    /// there that name no sender).
    Load(Vec<Key>),
    /// Store these chat messages ([`Key::Message`]: their values are in the world) and move
    /// their rooms' history heads up to them, unconditionally, then ask again. Sorted. Only a
    /// world over a shared store ([`World::parts_apart`]) asks: the message must be stored
    /// before the batch reads its room's members, so that a batch committing a join of the
    /// room at the same time finds it when it reads the room's history after its commit.
    Publish(Vec<Key>),
    /// Write these entries (their values are in the world), each on its revision condition,
    /// and hand the store's answer to [`Batch::committed`]. Sorted by key; the first commit of
    /// a batch comes even when it writes no entry.
    ///
    /// Room members ([`Key::Member`], [`Key::Subscriber`]) come first, and must be stored before
    /// the rest is written: a member is written because a client or a connection changed, and a
    /// batch retried after a commit that failed midway writes it again only while that change is
    /// not stored.
    Commit(Vec<Write>),
    /// The batch is folded (and written, unless it was [`Batch::fold_only`]).
    Done,
}

/// Why a batch stopped. Nothing it asked to write since its last [`Step::Commit`] is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The fold kept asking for keys (a bug).
    #[error(transparent)]
    Unsettled(#[from] Unsettled),
    /// Every commit attempt met entries another writer had changed: the store is too contended
    /// for this batch now, and it may be retried.
    #[error("revisions still conflicting after {attempts} commits (first: {first})")]
    StillConflicting {
        /// Commits tried.
        attempts: usize,
        /// The first key of the last conflict.
        first: Key,
    },
}

/// One batch's run of the protocol. See the module's documentation.
#[derive(Debug)]
pub struct Batch<'r> {
    records: &'r [Record],
    plan: Plan,
    /// Whether the batch ends with a commit.
    commits: bool,
    phase: Phase,
    revisions: Revisions,
    attempts: usize,
    deliveries: Vec<(usize, Delivery)>,
    /// The world's late leaves when the batch began, and how many its first pass counted.
    late_leaves: (Option<u64>, u64),
}

#[derive(Debug)]
enum Phase {
    /// Folding the records: the first pass decides deliveries, a later one only folds.
    Folding {
        pass: Fold,
        first: bool,
    },
    /// The records are folded: commit what changed.
    Commit,
    /// Waiting for [`Batch::committed`] on these writes.
    Committing(Vec<Write>),
    /// Load these keys again, then fold again.
    Reload(Vec<Key>),
    /// Committed: reading the histories of rooms whose memberships the batch wrote, then
    /// the senders of messages found there (the round), then delivering what they owe.
    Recheck(u8),
    Failed(BatchError),
    Done,
}

impl<'r> Batch<'r> {
    /// A batch that folds `records` and commits what changed.
    pub fn new(records: &'r [Record], plan: Plan) -> Self {
        Batch {
            records,
            plan,
            commits: true,
            phase: Phase::Folding {
                pass: Fold::new(plan.prefetch_chunk),
                first: true,
            },
            revisions: Revisions::default(),
            attempts: 0,
            deliveries: Vec::new(),
            late_leaves: (None, 0),
        }
    }

    /// A batch that folds `records` and leaves what changed marked in the world, for a later
    /// [`Batch::commit_only`]: a driver whose store has one writer commits every few seconds
    /// rather than every batch.
    pub fn fold_only(records: &'r [Record], prefetch_chunk: usize) -> Self {
        Batch {
            commits: false,
            ..Batch::new(
                records,
                Plan {
                    prefetch_chunk,
                    commit_attempts: 1,
                },
            )
        }
    }

    /// A batch of no records that commits what the world has changed since its last commit.
    /// After a conflict it loads the keys again and commits the joined entries.
    pub fn commit_only(commit_attempts: usize) -> Batch<'static> {
        Batch {
            phase: Phase::Commit,
            ..Batch::new(&[], Plan::shared(commit_attempts))
        }
    }

    /// What the driver does next.
    ///
    /// Asked again before [`Batch::committed`], it hands the same writes again.
    ///
    /// # Errors
    /// [`BatchError`]: the fold never settled, or the commits kept conflicting. The batch stays
    /// failed.
    pub fn next(&mut self, world: &mut World) -> Result<Step, BatchError> {
        let began = *self.late_leaves.0.get_or_insert(world.late_leaves());
        loop {
            match &mut self.phase {
                Phase::Folding { pass, first } => {
                    let deliveries = &mut self.deliveries;
                    let decide = *first;
                    let asked = pass.advance(world, self.records, |at, decided| {
                        if decide {
                            deliveries.extend(decided.into_iter().map(|d| (at, d)));
                        }
                    });
                    if decide && matches!(asked, Ok(None)) {
                        self.late_leaves.1 = world.late_leaves().saturating_sub(began);
                        world.first_pass_folded();
                    }
                    match asked {
                        Ok(Some(Ask::Load(keys))) => return Ok(Step::Load(keys)),
                        Ok(Some(Ask::Publish(messages))) => return Ok(Step::Publish(messages)),
                        Ok(None) if self.commits => self.phase = Phase::Commit,
                        Ok(None) => self.phase = Phase::Done,
                        Err(e) => self.phase = Phase::Failed(e.into()),
                    }
                }
                Phase::Commit => {
                    let writes = self.revisions.writes(world);
                    // The first commit is handed out even when no entry changed: a driver may
                    // commit more than entries with it (the embedded store's log position).
                    if writes.is_empty() && self.attempts > 0 {
                        self.phase = match world.has_turns() {
                            true => Phase::Recheck(0),
                            false => Phase::Done,
                        };
                    } else {
                        self.attempts += 1;
                        self.phase = Phase::Committing(writes.clone());
                        return Ok(Step::Commit(writes));
                    }
                }
                Phase::Committing(writes) => return Ok(Step::Commit(writes.clone())),
                Phase::Reload(keys) => {
                    let keys = std::mem::take(keys);
                    self.phase = Phase::Folding {
                        pass: Fold::new(self.plan.prefetch_chunk),
                        first: false,
                    };
                    return Ok(Step::Load(keys));
                }
                Phase::Recheck(round) => {
                    let keys = match round {
                        0 => world.recheck_keys(),
                        1 => world.recheck_needs(),
                        _ => Vec::new(),
                    };
                    if *round < 2 {
                        *round += 1;
                        if !keys.is_empty() {
                            return Ok(Step::Load(keys));
                        }
                        continue;
                    }
                    let before = world.late_leaves();
                    let owed = world.recheck();
                    self.late_leaves.1 += world.late_leaves().saturating_sub(before);
                    if !owed.is_empty() {
                        // Each record's id once, the first of duplicates keeping its position.
                        let mut position = std::collections::HashMap::new();
                        for (at, record) in self.records.iter().enumerate().rev() {
                            position.insert(record.event_id(), at);
                        }
                        for (event_id, delivery) in owed {
                            let at = position.get(&event_id).copied().unwrap_or_default();
                            self.deliveries.push((at, delivery));
                        }
                        // In record order: a member catching up gets the room's earlier
                        // messages before the batch's later ones.
                        self.deliveries.sort_by_key(|(at, _)| *at);
                    }
                    self.phase = Phase::Done;
                }
                Phase::Failed(e) => return Err(e.clone()),
                Phase::Done => {
                    world.end_batch();
                    return Ok(Step::Done);
                }
            }
        }
    }

    /// Hands the world the stored entry of `key` (`None`: the store has none) and the revision
    /// it was read at (`None` for none, or from a store that keeps no revisions).
    pub fn load(
        &mut self,
        world: &mut World,
        key: Key,
        entry: Option<Entry>,
        revision: Option<Revision>,
    ) {
        self.revisions.read(&key, revision);
        world.load(key, entry);
    }

    /// The store's answer to the last [`Step::Commit`]. Conflicts make the next steps load
    /// those keys again and fold again, or fail the batch once its commit attempts are spent.
    /// Ignored when no commit is outstanding.
    pub fn committed(&mut self, world: &World, outcome: CommitOutcome) {
        if !matches!(self.phase, Phase::Committing(_)) {
            return;
        }
        let conflicts = self.revisions.committed(world, outcome);
        self.phase = match conflicts.first() {
            None if world.has_turns() => Phase::Recheck(0),
            None => Phase::Done,
            Some(first) if self.attempts >= self.plan.commit_attempts.max(1) => {
                Phase::Failed(BatchError::StillConflicting {
                    attempts: self.attempts,
                    first: first.clone(),
                })
            }
            Some(_) => Phase::Reload(conflicts),
        };
    }

    /// The deliveries decided so far, each with the position of the record that caused it, in
    /// order. Only the first pass decides: a pass after a conflict folds over state that
    /// already holds the batch.
    pub fn deliveries(&self) -> &[(usize, Delivery)] {
        &self.deliveries
    }

    /// How many of the deliveries decided went to clients whose leave, folded after the
    /// message, says they were no members when it was sent ([`World::late_leaves`]).
    pub fn late_leaves(&self) -> u64 {
        self.late_leaves.1
    }

    /// The deliveries decided, taken.
    pub fn into_deliveries(self) -> Vec<(usize, Delivery)> {
        self.deliveries
    }
}
