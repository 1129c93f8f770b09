//! [`Sessions`]: a client's session records, keyed by `sessionIdentifier`.
//!
//! A client keeps every session that could still matter (closed ones as small tombstones for up
//! to a day), so a flappy device may have dozens. Every lifecycle event looks one up, and a
//! `BTreeMap<String, _>` lookup chases a pointer to a heap string per comparison. Here the
//! session first seen last sits in place, in the client's own entry: nearly every event is about
//! it (a connect, then its subscriptions and its disconnect), and its cache lines are fetched
//! with the client's, as soon as the client's place is known. A slot in a vector of its own would
//! cost a second cache miss, which waits on the first to learn the vector's address, on nearly
//! every event. The older ones sit in one vector in the order they were first seen, ids inline,
//! with the ids' hashes beside it, the first four in the entry too, which a lookup scans (a few
//! bytes where the slots, 160 bytes each, would be dozens of cache lines): a fifth of all
//! lifecycle events start a new session, and each of them looks through every session first.
//! New sessions take the newest place, and the one they displace is appended (a sorted insert
//! would search and shift); order by id is restored only where it can be observed: equality
//! compares as sets, and serialization and [`Sessions::sorted`] go by id, so equal sets of
//! sessions are equal values and serialize identically (as a map, like a `BTreeMap`).

use crate::inline_str::InlineStr;
use crate::lattice::Merge;
use crate::session::SessionRecord;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smallvec::SmallVec;
use std::hash::Hasher;

/// A session id and its record.
type Slot = (InlineStr, SessionRecord);

/// A client's sessions.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    /// The session first seen last (read back from storage: the one with the latest event).
    /// Empty only when there are no sessions at all, which `is_empty` relies on.
    newest: Option<Slot>,
    /// The others, in the order they were first seen (kept by [`Sessions::retain`] too).
    older: Vec<Slot>,
    /// `hashes[i]` is the hash of `older[i]`'s id. The first few sit in the entry itself, in the
    /// room a vector's pointer takes, so that a new session scans them without a cache miss.
    hashes: SmallVec<[u32; 4]>,
}

/// The hash of a session id that lookups scan for.
fn hash(id: &[u8]) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(id);
    // The high bits: FxHash mixes by multiplying, which leaves the low ones weakest.
    (h.finish() >> 32) as u32
}

impl Sessions {
    /// Whether `id` is the newest session's.
    fn is_newest(&self, id: &str) -> bool {
        matches!(&self.newest, Some((newest, _)) if newest.is(id))
    }

    /// Where `id` is among the older sessions: by hash, newest to oldest.
    fn older_position(&self, id: &str) -> Option<usize> {
        if self.older.is_empty() {
            return None;
        }
        let h = hash(id.as_bytes());
        (0..self.older.len())
            .rev()
            .find(|&i| self.hashes[i] == h && self.older[i].0.is(id))
    }

    /// The record of session `id`, if known.
    pub fn get(&self, id: &str) -> Option<&SessionRecord> {
        match &self.newest {
            Some((newest, record)) if newest.is(id) => Some(record),
            _ => self.older_position(id).map(|i| &self.older[i].1),
        }
    }

    /// The record of session `id`, created empty if new (it becomes the newest). The id is
    /// copied only when inserting.
    pub fn get_or_insert(&mut self, id: &str) -> &mut SessionRecord {
        if !self.is_newest(id) {
            if let Some(i) = self.older_position(id) {
                return &mut self.older[i].1;
            }
            if let Some(displaced) = self.newest.take() {
                self.hashes.push(hash(displaced.0.as_bytes()));
                self.older.push(displaced);
            }
        }
        let (_, record) = self
            .newest
            .get_or_insert_with(|| (InlineStr::new(id), SessionRecord::default()));
        record
    }

    /// Every slot: the older ones in order, then the newest.
    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.older.iter().chain(&self.newest)
    }

    /// Sessions, in no particular order (the presence rule does not depend on it).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SessionRecord)> {
        self.slots().map(|(k, v)| (k.as_str(), v))
    }

    /// Sessions in id order.
    pub fn sorted(&self) -> Vec<(&str, &SessionRecord)> {
        let mut all: Vec<_> = self.iter().collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Records, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &SessionRecord> {
        self.slots().map(|(_, v)| v)
    }

    /// Records, in no particular order, mutably.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut SessionRecord> {
        self.older
            .iter_mut()
            .chain(&mut self.newest)
            .map(|(_, v)| v)
    }

    /// Keeps the sessions `keep` accepts, in order, and gives back the room of those it drops
    /// once most of it is unused (compaction drops sessions of every client at once).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &SessionRecord) -> bool) {
        let before = self.older.len();
        self.older.retain(|(id, record)| keep(id.as_str(), record));
        if let Some((id, record)) = &self.newest {
            if !keep(id.as_str(), record) {
                // The latest first seen of those kept takes the newest place.
                self.newest = self.older.pop();
            }
        }
        if self.older.len() != before {
            self.rehash();
        }
        if self.older.capacity() > 2 * self.older.len() + 4 {
            self.older.shrink_to_fit();
            self.hashes.shrink_to_fit();
        }
    }

    /// Rebuilds `hashes` after the older slots moved.
    fn rehash(&mut self) {
        self.hashes.clear();
        self.hashes
            .extend(self.older.iter().map(|(id, _)| hash(id.as_bytes())));
    }

    /// How many sessions.
    pub fn len(&self) -> usize {
        self.older.len() + usize::from(self.newest.is_some())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.newest.is_none()
    }
}

impl PartialEq for Sessions {
    /// Equal as sets of (id, record), whatever the order they were added in.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(id, r)| other.get(id) == Some(r))
    }
}

impl Eq for Sessions {}

impl Merge for Sessions {
    fn join(&mut self, other: &Self) {
        for (id, record) in other.iter() {
            self.get_or_insert(id).join(record);
        }
    }
}

impl<'a> FromIterator<(&'a str, SessionRecord)> for Sessions {
    fn from_iter<I: IntoIterator<Item = (&'a str, SessionRecord)>>(iter: I) -> Self {
        let mut s = Sessions::default();
        for (id, record) in iter {
            s.get_or_insert(id).join(&record);
        }
        s
    }
}

impl Serialize for Sessions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.sorted() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Sessions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Sessions;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map from session id to session record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Sessions, A::Error> {
                let mut s = Sessions::default();
                while let Some((id, record)) = map.next_entry::<String, SessionRecord>()? {
                    // Joining rather than overwriting keeps a map with a repeated key total.
                    s.get_or_insert(&id).join(&record);
                }
                // Stored by id; the newest place is the one with the latest event.
                let mut all = std::mem::take(&mut s.older);
                all.extend(s.newest.take());
                all.sort_by_key(|(_, record)| record.last_ts);
                s.newest = all.pop();
                s.older = all;
                s.rehash();
                Ok(s)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_sorted_and_finds_what_it_holds() {
        let mut s = Sessions::default();
        for id in ["b", "a", "c", "a"] {
            s.get_or_insert(id).last_ts += 1;
        }
        assert_eq!(
            s.sorted().iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        let reversed: Sessions = s
            .sorted()
            .into_iter()
            .rev()
            .map(|(k, r)| (k, r.clone()))
            .collect();
        assert_eq!(reversed, s, "equality ignores insertion order");
        assert_eq!(
            rmp_serde::to_vec(&reversed).unwrap(),
            rmp_serde::to_vec(&s).unwrap()
        );
        assert_eq!(s.get("a").map(|r| r.last_ts), Some(2));
        assert!(s.get("z").is_none());
        s.retain(|k, _| k != "b");
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "c"],
            "retain keeps the order sessions were first seen in (newest last)"
        );
        assert_eq!(s.get("c").map(|r| r.last_ts), Some(1));
        assert_eq!(
            s.get("a").map(|r| r.last_ts),
            Some(2),
            "older, found by hash"
        );
        assert!(s.get("b").is_none());
        let bytes = rmp_serde::to_vec(&s).unwrap();
        let read: Sessions = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(read, s);
        for id in ["a", "c"] {
            assert_eq!(read.get(id), s.get(id), "{id} read back");
        }
        s.get_or_insert("a").last_ts = 5;
        let read: Sessions = rmp_serde::from_slice(&rmp_serde::to_vec(&s).unwrap()).unwrap();
        assert_eq!(
            read.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["c", "a"],
            "read back newest last"
        );
        let json = serde_json::to_value(&s).unwrap();
        assert!(json.get("a").is_some() && json.get("c").is_some());
    }

    #[test]
    fn the_newest_place_passes_on_and_displaced_sessions_stay_found() {
        let mut s = Sessions::default();
        for (n, id) in ["a", "b", "c"].iter().enumerate() {
            s.get_or_insert(id).last_ts = n as u64 + 1;
        }
        s.retain(|k, _| k != "c");
        assert_eq!(
            s.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "b"],
            "the newest dropped, the latest first seen of the rest takes its place"
        );
        assert!(!s.is_empty());
        assert_eq!(s.get("b").map(|r| r.last_ts), Some(2));
        assert_eq!(s.get("a").map(|r| r.last_ts), Some(1), "found by hash");
        assert!(s.get("c").is_none());
        s.get_or_insert("d").last_ts = 4;
        assert_eq!(s.len(), 3);
        for (id, ts) in [("a", 1), ("b", 2), ("d", 4)] {
            assert_eq!(s.get(id).map(|r| r.last_ts), Some(ts), "{id}");
        }
        s.get_or_insert("b").last_ts = 7;
        assert_eq!(s.len(), 3, "an older session is found, not added again");
        assert_eq!(s.get("b").map(|r| r.last_ts), Some(7));
        s.retain(|_, _| false);
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
        assert!(s.get("a").is_none() && s.get("d").is_none());
    }

    #[test]
    fn ids_inline_or_not_are_found_and_kept_whole() {
        let uuid = "953aeb70-673e-29cb-73d3-3b666a1e21da";
        let long = "x".repeat(crate::inline_str::INLINE + 1);
        let edge = "y".repeat(crate::inline_str::INLINE);
        let unicode = "séance-😀";
        let ids = [uuid, long.as_str(), edge.as_str(), unicode, ""];
        let mut s = Sessions::default();
        for (n, id) in ids.iter().enumerate() {
            s.get_or_insert(id).last_ts = n as u64 + 1;
        }
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(s.get(id).map(|r| r.last_ts), Some(n as u64 + 1), "{id}");
        }
        assert!(
            s.get(&long[..crate::inline_str::INLINE - 1]).is_none(),
            "a prefix is another id"
        );
        let mut listed: Vec<&str> = s.iter().map(|(id, _)| id).collect();
        listed.sort_unstable();
        let mut expected = ids.to_vec();
        expected.sort_unstable();
        assert_eq!(listed, expected);
    }
}
