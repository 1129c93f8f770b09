//! Joining two worlds: replay folds a stream split by client on two threads and joins the halves.

use crate::client::Listed;
use crate::id::{Id, Map};
use crate::key::{Entry, Key};
use crate::lattice::Merge;
use crate::world::World;

impl World {
    /// Joins another world into this one, taking it: commutative, associative and idempotent.
    /// Entries only the other holds move over instead of being copied: a fold split by client
    /// (replay's parallel fold) has most entries on one side only.
    ///
    /// Each side may know half of a connection (one its client, the other its rooms), so after
    /// joining the entries the connections both worlds hold are synced into their clients again,
    /// as folding both sides' records into one world would have done. A connection one side
    /// alone knows is already synced into the entries joined here: a world syncs each of its own
    /// connections into its client and rooms with every record.
    pub fn absorb(&mut self, mut other: World) {
        let shared: Vec<Id> = other
            .conns
            .keys()
            .filter(|id| self.conns.contains_key(id.as_str()))
            .cloned()
            .collect();
        // Entries moving over are not changes of this world.
        for client in other.clients.values_mut() {
            client.listed = Listed::default();
        }
        self.announcing |= other.announcing;
        for (shard, list) in &other.pending {
            self.pending
                .entry_ref(shard.as_str())
                .or_default()
                .join(list);
        }
        join_into(&mut self.clients, other.clients);
        join_into(&mut self.conns, other.conns);
        join_into(&mut self.rooms, other.rooms);
        join_into(&mut self.histories, other.histories);
        // A history keeps only its recent messages, as folding both sides' records would, and
        // names the senders the other side knew the connections of.
        if self.complete {
            for history in self.histories.values_mut() {
                history.bound(&self.config);
            }
        }
        let unnamed: Vec<(String, String)> = self
            .histories
            .values()
            .flat_map(|h| h.messages())
            .filter(|m| m.from.is_none())
            .filter_map(|m| {
                let conn = self.conns.get(m.connection_id.as_str())?;
                let client = conn.summary.client_id.clone()?;
                Some((m.connection_id.clone(), client))
            })
            .collect();
        for (connection, client) in unnamed {
            self.name_sender(&connection, &client);
        }
        self.late_leaves += other.late_leaves;
        join_into(&mut self.devices, other.devices);
        match (self.lobby.as_mut(), other.lobby) {
            (Some(mine), Some(theirs)) => mine.join(&theirs),
            (None, theirs) => self.lobby = theirs,
            (Some(_), None) => {}
        }
        if let Some(w) = other.watermark {
            self.load(Key::Watermark, Some(Entry::Watermark(w)));
        }
        for id in shared {
            self.sync_connection(&id, false);
        }
    }
}

/// Joins every entry of `theirs` into `mine`, moving those `mine` lacks.
fn join_into<V: Merge>(mine: &mut Map<V>, theirs: Map<V>) {
    for (id, entry) in theirs {
        match mine.entry(id) {
            hashbrown::hash_map::Entry::Occupied(mut slot) => slot.get_mut().join(&entry),
            hashbrown::hash_map::Entry::Vacant(slot) => {
                slot.insert(entry);
            }
        }
    }
}
