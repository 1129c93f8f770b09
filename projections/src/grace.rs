//! Grace against flapping: with `Config::presence_grace_ms`, a member of presence rooms that goes
//! offline is announced `offline` only if it is still offline that long after it was last seen,
//! in event time; a reconnect within the grace announces nothing (its rooms never heard it go).
//!
//! The turn is found by a record about the client (`announce`), which then, before the grace is
//! over, puts the announcement off: it notes when it is due in its shard's pending list
//! ([`Key::Pending`], written only by that shard's batches, one after another). Time reaches it
//! on a quiet stream by the sweeper's ticks: a tick on the shard folds the announcements due by
//! its time, each as a record about its client, which announces the turn if it is still there. A
//! later record about the client announces it as well, once due; a due one found with nothing to
//! tell tells nothing. A world that folds every shard in one order (replay, the embedded store)
//! keeps one list, which any tick reads.
//!
//! A list is bounded ([`PENDING_MAX`]): a shard whose list is full announces at once, as with no
//! grace.

use crate::delivery::Delivery;
use crate::key::Key;
use crate::lattice::Merge;
use crate::world::World;
use schemas::Record;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most announcements a shard puts off at once; past it, they are made at once.
pub const PENDING_MAX: usize = 1_000;

/// The `offline` announcements a shard put off (see `grace`): each client's, with when due.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingState {
    /// When each client's announcement is due (ms).
    pub dues: BTreeMap<String, u64>,
}

impl Merge for PendingState {
    fn join(&mut self, other: &Self) {
        for (client, due) in &other.dues {
            let mine = self.dues.entry(client.clone()).or_default();
            *mine = (*mine).max(*due);
        }
    }
}

/// The name of the one pending list of a world that keeps one: no shard id has a `*`.
const ONE_LIST: &str = "*";

/// Which pending list a world writes and its ticks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PendingList {
    /// None: a partial world told no shard puts no announcement off.
    None,
    /// Its shard's ([`World::on_shard`]): a tick reads the list of the shard it is on.
    Shard(String),
    /// One list, which any tick reads: a world that folds every shard's records in one order
    /// ([`World::one_pending_list`]; a complete world).
    One,
}

impl World {
    /// The shard whose records this partial world folds (a Lambda invocation's, a consumer's),
    /// whose pending list it writes and whose ticks read it: without one, a partial world puts
    /// no announcement off.
    pub fn on_shard(&mut self, shard: &str) {
        self.pending_list = PendingList::Shard(shard.to_owned());
    }

    /// This partial world folds every shard's records in one order (a store with one writer):
    /// it keeps one pending list, which any tick reads.
    pub fn one_pending_list(&mut self) {
        self.pending_list = PendingList::One;
    }

    /// The shard of the pending list a tick on `shard` reads.
    fn list_of<'a>(&self, shard: &'a str) -> &'a str {
        match self.pending_list {
            PendingList::One => ONE_LIST,
            _ => shard,
        }
    }

    /// Gives the world a stored pending list ([`Key::Pending`]).
    pub(crate) fn load_pending(&mut self, shard: &str, entry: Option<crate::Entry>) {
        let list = self.pending.entry_ref(shard).or_default();
        if let Some(crate::Entry::Pending(p)) = entry {
            list.join(&p);
        }
    }

    /// The pending list this world writes.
    pub(crate) fn pending_key(&self) -> Option<Key> {
        match &self.pending_list {
            PendingList::None => None,
            PendingList::Shard(shard) => Some(Key::Pending(shard.clone())),
            PendingList::One => Some(Key::Pending(ONE_LIST.to_owned())),
        }
    }

    /// Whether `client`'s `offline` (it was last seen at `last_seen`) is put off: within the
    /// grace, and noted as due in this world's pending list, which is loaded and not full.
    pub(crate) fn put_off(&mut self, client: &str, last_seen: u64) -> bool {
        let grace = self.config.presence_grace_ms;
        let due = last_seen.saturating_add(grace);
        if grace == 0 || self.watermark() >= due {
            return false;
        }
        let Some(Key::Pending(shard)) = self.pending_key() else {
            return false;
        };
        if !self.complete && !self.pending.contains_key(shard.as_str()) {
            return false;
        }
        let list = self.pending.entry_ref(shard.as_str()).or_default();
        if list.dues.len() >= PENDING_MAX && !list.dues.contains_key(client) {
            return false;
        }
        let at = list.dues.entry(client.to_owned()).or_default();
        *at = (*at).max(due);
        self.mark_pending(&shard);
        true
    }

    /// The announcements due by `ts` in the list a tick on `shard` reads, by client: those
    /// whose entries the tick loads ([`World::tick_needs`]).
    fn due(&self, shard: &str, ts: u64) -> Vec<String> {
        let Some(list) = self.pending.get(self.list_of(shard)) else {
            return Vec::new();
        };
        list.dues
            .iter()
            .filter(|(_, due)| **due <= ts)
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// What a tick on `shard` reads: its pending list (where a grace is set), then the entries
    /// of the clients due and what telling their rooms reads.
    pub(crate) fn tick_needs(&self, shard: &str, ts: u64) -> Vec<Key> {
        if self.config.presence_grace_ms == 0 || self.complete {
            return Vec::new();
        }
        let list = self.list_of(shard);
        if !self.pending.contains_key(list) {
            return vec![Key::Pending(list.to_owned())];
        }
        let mut want = Vec::new();
        for client in self.due(shard, ts) {
            want.extend(self.presence_audience(&client, false));
            want.push(Key::Client(client));
        }
        want
    }

    /// Folds a tick on `shard` at `ts`: each announcement due by then is taken off the list and
    /// made, if its client is still offline and its rooms heard it online.
    pub(crate) fn tick(&mut self, shard: &str, ts: u64, record: &Record) -> Vec<Delivery> {
        let due = self.due(shard, ts);
        if due.is_empty() {
            return Vec::new();
        }
        let shard = self.list_of(shard);
        if let Some(list) = self.pending.get_mut(shard) {
            for client in &due {
                list.dues.remove(client);
            }
        }
        self.mark_pending(shard);
        due.iter()
            .flat_map(|client| crate::announce::announce(self, client, record))
            .collect()
    }
}
