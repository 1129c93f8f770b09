//! [`VecMap`]: a small map from string ids to values, as a sorted vector.
//!
//! A session's topics and a client's rooms are a handful of entries. A `BTreeMap` allocates a
//! leaf node of eleven slots (hundreds of bytes) for the first one; a sorted vector allocates what
//! it holds and searches a few contiguous entries, and its keys sit inline in the vector, so a
//! search compares without a cache miss per probe and a new key allocates nothing. The key type
//! ([`MapKey`]) fits the keys: room names are short, and a client keeps dozens of them for a
//! day ([`Id`], 24 bytes, 24 inline); topics are often longer than 24 bytes
//! ([`InlineStr`], 48 bytes, 40 inline). It serializes as a map, in key order.

use crate::id::Id;
use crate::inline_str::{short_cmp, InlineStr};
use crate::lattice::Merge;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::marker::PhantomData;

/// A map from ids to values, kept sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VecMap<V, K = Id> {
    entries: Vec<(K, V)>,
}

/// A key a [`VecMap`] can hold: a string, stored its own way ([`Id`] here,
/// [`InlineStr`] in its own file).
pub(crate) trait MapKey: Clone + PartialEq + std::fmt::Debug {
    /// A copy of `s`.
    fn new(s: &str) -> Self;
    /// The string.
    fn as_str(&self) -> &str;
    /// The string's bytes, which searches compare (byte order is `str` order).
    fn as_bytes(&self) -> &[u8];
}

impl MapKey for Id {
    fn new(s: &str) -> Self {
        Id::from(s)
    }

    fn as_str(&self) -> &str {
        Id::as_str(self)
    }

    fn as_bytes(&self) -> &[u8] {
        Id::as_bytes(self)
    }
}

impl MapKey for InlineStr {
    fn new(s: &str) -> Self {
        InlineStr::new(s)
    }

    fn as_str(&self) -> &str {
        InlineStr::as_str(self)
    }

    fn as_bytes(&self) -> &[u8] {
        InlineStr::as_bytes(self)
    }
}

impl<V, K> Default for VecMap<V, K> {
    fn default() -> Self {
        VecMap {
            entries: Vec::new(),
        }
    }
}

impl<V, K: MapKey> VecMap<V, K> {
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _)| short_cmp(k.as_bytes(), key.as_bytes()))
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// Inserts or replaces the value for `key`.
    pub fn insert(&mut self, key: &str, value: V) {
        match self.find(key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.insert_at(i, key, value),
        }
    }

    /// The value for `key`, inserted as `V::default()` if absent.
    pub fn get_or_default(&mut self, key: &str) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.insert_at(i, key, V::default());
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Inserts a new key at its place, growing the storage by doubling from one entry: most
    /// maps hold one or two (a session's topics, a client's rooms), where `Vec`'s first
    /// allocation of four would leave most of it unused, in every client.
    fn insert_at(&mut self, i: usize, key: &str, value: V) {
        if self.entries.len() == self.entries.capacity() {
            self.entries.reserve_exact(self.entries.len().max(1));
        }
        self.entries.insert(i, (K::new(key), value));
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Removes every entry and frees the storage: compaction clears the topics of millions of
    /// closed sessions, and an emptied vector that kept its capacity would keep their memory.
    pub fn clear(&mut self) {
        self.entries = Vec::new();
    }

    /// Keeps the entries for which `keep` holds. A vector left mostly empty gives back its
    /// storage, for the same reason as [`VecMap::clear`].
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &V) -> bool) {
        self.entries.retain(|(k, v)| keep(k.as_str(), v));
        if self.entries.capacity() > 2 * self.entries.len() + 4 {
            self.entries.shrink_to_fit();
        }
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<V: Merge + Clone + PartialEq, K: MapKey> VecMap<V, K> {
    /// Joins `value` into the entry for `key`; true if that changed anything.
    pub fn join_at(&mut self, key: &str, value: &V) -> bool {
        match self.find(key) {
            Ok(i) => {
                let slot = &mut self.entries[i].1;
                if slot == value {
                    return false;
                }
                let before = slot.clone();
                slot.join(value);
                *slot != before
            }
            Err(i) => {
                self.insert_at(i, key, value.clone());
                true
            }
        }
    }
}

impl<V: Merge + Clone + PartialEq, K: MapKey> VecMap<V, K> {
    /// [`VecMap::join_at`], also handing back the value the join left out, if any: the one it
    /// replaced, or `value` when the stored one won.
    pub fn join_at_keeping_loser(&mut self, key: &str, value: &V) -> (bool, Option<V>) {
        match self.find(key) {
            Ok(i) => {
                let slot = &mut self.entries[i].1;
                if slot == value {
                    return (false, None);
                }
                let before = slot.clone();
                slot.join(value);
                if *slot == before {
                    (false, Some(value.clone()))
                } else {
                    (true, Some(before))
                }
            }
            Err(i) => {
                self.insert_at(i, key, value.clone());
                (true, None)
            }
        }
    }
}

impl<V: Merge + Clone + PartialEq, K: MapKey> Merge for VecMap<V, K> {
    fn join(&mut self, other: &Self) {
        for (k, v) in &other.entries {
            self.join_at(k.as_str(), v);
        }
    }
}

impl<V: Serialize, K: MapKey> Serialize for VecMap<V, K> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

impl<'de, V: Deserialize<'de>, K: MapKey> Deserialize<'de> for VecMap<V, K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Vis<V, K>(PhantomData<(V, K)>);
        impl<'de, V: Deserialize<'de>, K: MapKey> Visitor<'de> for Vis<V, K> {
            type Value = VecMap<V, K>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map from ids to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VecMap<V, K>, A::Error> {
                let mut m = VecMap::default();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    m.insert(&k, v);
                }
                Ok(m)
            }
        }
        d.deserialize_map(Vis(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::Lww;

    #[test]
    fn joins_like_a_map_and_stays_sorted() {
        let mut m: VecMap<Lww<u8>> = VecMap::default();
        assert!(m.join_at("b", &Lww::new(2, 1)));
        assert!(m.join_at("a", &Lww::new(1, 1)));
        assert!(!m.join_at("b", &Lww::new(1, 9)), "an older write loses");
        assert!(m.join_at("b", &Lww::new(3, 0)));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.get("b"), Some(&Lww::new(3, 0)));
        let bytes = rmp_serde::to_vec(&m).unwrap();
        assert_eq!(rmp_serde::from_slice::<VecMap<Lww<u8>>>(&bytes).unwrap(), m);
        // The key type is storage only: the same entries serialize the same.
        let mut inline: VecMap<Lww<u8>, InlineStr> = VecMap::default();
        inline.join(&rmp_serde::from_slice(&bytes).unwrap());
        assert_eq!(inline.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(rmp_serde::to_vec(&inline).unwrap(), bytes);
    }
}
