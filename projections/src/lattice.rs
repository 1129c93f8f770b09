//! Join-semilattice building blocks.
//!
//! Every piece of projection state merges with [`Merge::join`], which is commutative,
//! associative and idempotent. Folding an event is merging in the little state that event alone
//! implies, so any arrival order and any duplication of the same events gives the same state:
//! this is what makes Kinesis retries, IoT's out-of-order lifecycle events, Firehose duplicates
//! and replay safe.

use crate::id::Map;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A join-semilattice: `join` is commutative, associative and idempotent.
pub trait Merge {
    /// Joins `other` into `self`.
    fn join(&mut self, other: &Self);
}

/// A last-writer-wins register: the value with the largest `(ts, value)` wins. Ordering ties by
/// the value itself keeps the merge deterministic; value types order themselves so that the
/// right one wins a tie (for example an unsubscribe over a subscribe).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Lww<T> {
    /// Event time of the write (ms epoch).
    pub ts: u64,
    /// The value written.
    pub value: T,
}

impl<T> Lww<T> {
    /// A register written at `ts`.
    pub fn new(ts: u64, value: T) -> Self {
        Lww { ts, value }
    }
}

impl<T: Ord + Clone> Merge for Lww<T> {
    fn join(&mut self, other: &Self) {
        if (other.ts, &other.value) > (self.ts, &self.value) {
            *self = other.clone();
        }
    }
}

impl Merge for u64 {
    /// Numbers merge by maximum.
    fn join(&mut self, other: &Self) {
        *self = (*self).max(*other);
    }
}

impl<T: Merge + Clone> Merge for Option<T> {
    /// `None` is the bottom element.
    fn join(&mut self, other: &Self) {
        match (self.as_mut(), other) {
            (_, None) => {}
            (None, Some(o)) => *self = Some(o.clone()),
            (Some(s), Some(o)) => s.join(o),
        }
    }
}

impl<K: Ord + Clone, V: Merge + Clone> Merge for BTreeMap<K, V> {
    /// Maps merge pointwise.
    fn join(&mut self, other: &Self) {
        for (k, v) in other {
            match self.get_mut(k) {
                Some(mine) => mine.join(v),
                None => {
                    self.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

impl<V: Merge + Clone> Merge for Map<V> {
    /// Maps merge pointwise.
    fn join(&mut self, other: &Self) {
        for (k, v) in other {
            match self.get_mut(k.as_str()) {
                Some(mine) => mine.join(v),
                None => {
                    self.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

/// The minimum of the values seen (`None` is the bottom): for "first seen at" facts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Min(pub Option<u64>);

impl Min {
    /// Records a value.
    pub fn add(&mut self, v: u64) {
        self.0 = Some(self.0.map_or(v, |m| m.min(v)));
    }
}

impl Merge for Min {
    fn join(&mut self, other: &Self) {
        if let Some(v) = other.0 {
            self.add(v);
        }
    }
}

/// A room membership or subscription state. `Left` orders after `Joined`, so at equal
/// timestamps leaving wins: a client is never kept in a room by a tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Membership {
    /// Subscribed or joined.
    Joined,
    /// Unsubscribed or left.
    Left,
}

impl Membership {
    /// Whether this is [`Membership::Joined`].
    pub fn is_joined(self) -> bool {
        self == Membership::Joined
    }
}
