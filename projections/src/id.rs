//! Ids as the fold's maps hold them: [`Id`], a string stored inline when short, and [`Map`] and
//! [`Set`] keyed by it, looked up by [`Lookup`] without allocating.

use crate::inline_str::short_eq;
use rustc_hash::FxBuildHasher;

/// A map keyed by id, with a fast hasher; `entry_ref` allocates the key only on insert.
///
/// Keys are [`Id`]s: an id of up to 24 bytes (client, connection and room ids usually are) sits
/// in the bucket itself, so finding it compares bytes already in cache instead of following a
/// pointer to the heap. The fold is bound by such cache misses: a lifecycle event looks up its
/// client, its rooms and their members.
pub(crate) type Map<V> = hashbrown::HashMap<Id, V, FxBuildHasher>;
/// A set of ids, with the same hasher and inline keys as [`Map`].
pub(crate) type Set = hashbrown::HashSet<Id, FxBuildHasher>;

/// An id as a map key: a string stored inline when short.
pub(crate) type Id = compact_str::CompactString;

/// An id to look up in a [`Map`] or [`Set`]: it hashes as the stored [`Id`] does, and compares
/// with [`short_eq`] instead of the `memcmp` call of `str` equality: the fold's hottest lookups
/// (a client, a room, a room's member) compare ids of a dozen bytes, once or twice each.
#[derive(Clone, Copy)]
pub(crate) struct Lookup<'a>(pub(crate) &'a str);

impl std::hash::Hash for Lookup<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `Id` hashes: as its `str`.
        self.0.hash(state);
    }
}

impl hashbrown::Equivalent<Id> for Lookup<'_> {
    fn equivalent(&self, key: &Id) -> bool {
        short_eq(self.0.as_bytes(), key.as_bytes())
    }
}

impl From<&Lookup<'_>> for Id {
    fn from(id: &Lookup<'_>) -> Id {
        Id::from(id.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn a_lookup_finds_what_its_id_does() {
        let hasher = FxBuildHasher;
        let mut map: Map<u8> = Map::default();
        let long = "x".repeat(40);
        let ids = ["", "a", "device-000123", "bob", long.as_str(), "séance-😀"];
        for (n, id) in ids.iter().enumerate() {
            // Hashed alike, or a lookup would probe the wrong buckets.
            assert_eq!(hasher.hash_one(Lookup(id)), hasher.hash_one(Id::from(*id)));
            *map.entry_ref(&Lookup(id)).or_default() = n as u8;
        }
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(map.get(&Lookup(id)), Some(&(n as u8)), "{id}");
            assert_eq!(map.get(*id), Some(&(n as u8)), "{id}");
        }
        assert_eq!(map.len(), ids.len());
        assert!(map.get(&Lookup("device-000124")).is_none());
    }
}
