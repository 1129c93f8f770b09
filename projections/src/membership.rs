//! Whether a client was a member of a room at a time: the recipients of a chat message are the
//! room's members when it was sent, in event time, not when the processor reaches it
//! (docs/architecture.md, Deliveries). Shards are not ordered against each other, so a `join` or a
//! `leave` on another shard may be folded before or after a message it precedes or follows.
//!
//! A room and its parts keep each member's latest write (a last-writer-wins register); the
//! client's entry keeps the register too, and its earlier writes ([`Earlier`]), so that the
//! membership at any time since the compaction cut is the latest write at or before it.

use crate::client::ClientState;
use crate::connection::ConnectionState;
use crate::lattice::{Lww, Membership, Merge};
use crate::vecmap::VecMap;
use serde::{Deserialize, Serialize};

/// The membership writes of one client in one room other than its register, oldest first, each
/// once, at most [`EARLIER_KEPT`] (the latest): merged by union, keeping the latest, which is
/// commutative, associative and idempotent as a union is. A client that joins and leaves a room
/// more often than that keeps only its latest changes: a message folded later than those left
/// the rest sees the oldest kept as its membership.
pub const EARLIER_KEPT: usize = 8;

/// See [`EARLIER_KEPT`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earlier(Vec<Lww<Membership>>);

impl Earlier {
    /// Adds `write`; true if it was not there yet.
    fn add(&mut self, write: &Lww<Membership>) -> bool {
        let key = |w: &Lww<Membership>| (w.ts, w.value);
        match self.0.binary_search_by_key(&key(write), key) {
            Ok(_) => false,
            Err(0) if self.0.len() == EARLIER_KEPT => false,
            Err(i) => {
                self.0.insert(i, write.clone());
                if self.0.len() > EARLIER_KEPT {
                    self.0.remove(0);
                }
                true
            }
        }
    }

    /// The latest write at or before `t` (at equal times, leaving wins).
    fn at(&self, t: u64) -> Option<&Lww<Membership>> {
        self.0.iter().rev().find(|w| w.ts <= t)
    }

    /// Forgets the writes before `cut` but the latest of them, which says the membership from
    /// `cut` on; with `register` before `cut`, every write, since the register says it.
    fn forget_before(&mut self, cut: u64, register: &Lww<Membership>) {
        if register.ts < cut {
            self.0.clear();
            return;
        }
        let before = self.0.partition_point(|w| w.ts < cut);
        self.0.drain(..before.saturating_sub(1));
    }

    /// How many writes it keeps.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The writes, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Lww<Membership>> {
        self.0.iter()
    }

    /// Whether it keeps none.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Merge for Earlier {
    fn join(&mut self, other: &Self) {
        for write in &other.0 {
            self.add(write);
        }
    }
}

/// Each room's latest membership write, as a client's and a connection's entries keep them.
pub(crate) type Registers = VecMap<Lww<Membership>>;

/// Joins a membership write for `room`: `rooms` keeps the latest write, and the one it does not
/// keep goes to `earlier`. True if the register changed.
pub(crate) fn record(
    rooms: &mut Registers,
    earlier: &mut VecMap<Earlier>,
    room: &str,
    write: &Lww<Membership>,
) -> bool {
    let (changed, loser) = rooms.join_at_keeping_loser(room, write);
    if let Some(loser) = loser {
        earlier.get_or_default(room).add(&loser);
    }
    changed
}

/// Joins another entry's registers and earlier writes: a register that loses is an earlier
/// write.
pub(crate) fn join(
    rooms: &mut Registers,
    earlier: &mut VecMap<Earlier>,
    other_rooms: &Registers,
    other_earlier: &VecMap<Earlier>,
) {
    for (room, write) in other_rooms.iter() {
        record(rooms, earlier, room, write);
    }
    earlier.join(other_earlier);
}

/// Forgets the earlier writes compaction no longer needs: those of rooms `rooms` no longer
/// keeps, and, of the others, those before `cut` but the latest.
pub(crate) fn forget(rooms: &Registers, earlier: &mut VecMap<Earlier>, cut: u64) {
    if earlier.is_empty() {
        return;
    }
    let mut kept = VecMap::default();
    for (room, writes) in earlier.iter() {
        let Some(register) = rooms.get(room) else {
            continue;
        };
        let mut writes = writes.clone();
        writes.forget_before(cut, register);
        if !writes.is_empty() {
            kept.insert(room, writes);
        }
    }
    *earlier = kept;
}

impl ClientState {
    /// Joins a membership write for `room` (see [`record`]). True if the register changed.
    pub(crate) fn record_membership(&mut self, room: &str, write: &Lww<Membership>) -> bool {
        record(&mut self.rooms, &mut self.earlier, room, write)
    }

    /// Whether the client was a member of `room` at `t`: its latest membership write at or
    /// before `t` (at equal times, leaving wins) is a join. `also` is a write the caller knows of
    /// besides the client's own (a room's register, which a store may hold newer than the
    /// client's entry).
    pub fn member_at(&self, room: &str, t: u64, also: Option<&Lww<Membership>>) -> bool {
        let register = self.rooms.get(room).filter(|w| w.ts <= t);
        let earlier = self.earlier.get(room).and_then(|e| e.at(t));
        let also = also.filter(|w| w.ts <= t);
        [register, earlier, also]
            .into_iter()
            .flatten()
            .max_by_key(|w| (w.ts, w.value))
            .is_some_and(|w| w.value.is_joined())
    }
}

impl ConnectionState {
    /// Joins a membership write for `room` made on this connection (see [`record`]).
    pub(crate) fn record_membership(&mut self, room: &str, write: &Lww<Membership>) -> bool {
        record(&mut self.rooms, &mut self.earlier, room, write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(ts: u64) -> Lww<Membership> {
        Lww::new(ts, Membership::Joined)
    }

    fn left(ts: u64) -> Lww<Membership> {
        Lww::new(ts, Membership::Left)
    }

    #[test]
    fn the_membership_at_a_time_is_the_latest_write_at_or_before_it_in_any_order() {
        let writes = [joined(10), left(20), joined(30), left(30)];
        let want = |t: u64| (10..20).contains(&t);
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]] {
            let mut c = ClientState::default();
            for i in order {
                c.record_membership("r", &writes[i]);
            }
            for t in [0, 10, 15, 20, 25, 30, 40] {
                assert_eq!(
                    c.member_at("r", t, None),
                    want(t),
                    "t = {t}, order {order:?}"
                );
            }
        }
    }

    #[test]
    fn a_write_the_client_lacks_counts_too() {
        let mut c = ClientState::default();
        c.record_membership("r", &left(5));
        assert!(!c.member_at("r", 20, None));
        assert!(c.member_at("r", 20, Some(&joined(10))));
        assert!(!c.member_at("r", 20, Some(&joined(30))));
    }

    #[test]
    fn a_client_that_joins_and_leaves_often_keeps_its_latest_changes_in_any_order() {
        let writes: Vec<Lww<Membership>> = (1..=30)
            .map(|i| {
                if i % 2 == 1 {
                    joined(i * 10)
                } else {
                    left(i * 10)
                }
            })
            .collect();
        let mut forward = ClientState::default();
        let mut backward = ClientState::default();
        for w in &writes {
            forward.record_membership("r", w);
        }
        for w in writes.iter().rev() {
            backward.record_membership("r", w);
        }
        assert_eq!(forward, backward);
        assert_eq!(
            forward.earlier.get("r").map(Earlier::len),
            Some(EARLIER_KEPT)
        );
        // The kept changes answer for their times: joined on odd tens, left on even ones.
        for t in [225, 235, 285, 295, 305] {
            assert_eq!(
                forward.member_at("r", t, None),
                (t / 10) % 2 == 1,
                "t = {t}"
            );
        }
    }

    #[test]
    fn forgetting_keeps_the_membership_from_the_cut_on() {
        let mut c = ClientState::default();
        for w in [joined(10), left(20), joined(30), left(40)] {
            c.record_membership("r", &w);
        }
        forget(&c.rooms, &mut c.earlier, 25);
        for t in [25, 30, 35, 40, 50] {
            assert_eq!(c.member_at("r", t, None), (30..40).contains(&t), "t = {t}");
        }
        assert_eq!(c.earlier.get("r").map(Earlier::len), Some(2));
    }
}
