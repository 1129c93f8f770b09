//! Presence rooms whose memberships turn on batches folded at once.
//!
//! A batch folding `alice`'s join of a presence room reads the room's members to tell them; a
//! batch of another shard folding `bob`'s join at the same time does the same. Lambda runs both
//! at once (docs/architecture.md, Every shard at once): if each read before the other's write,
//! neither would hear of the other. So, as chat messages do (see `ahead`), a batch over a shared
//! store reads each presence room whose memberships it turned again after its commit, and tells
//! what its fold could not see:
//!
//! - a member that joined meanwhile hears the batch's member's join, and the batch's member hears
//!   theirs, if the batch's member joined;
//! - a member that left meanwhile is heard leaving by the batch's member, if it joined;
//! - a member that joined meanwhile hears the batch's member's leave, if it left.
//!
//! Whichever write is stored first, the other batch's read comes after it, so one batch or the
//! other tells. When both do, both copies have one id: an event's id is its membership write's
//! (room, member, time), not the record's that caused it ([`membership_event_id`]).

use crate::delivery::{Channel, Delivery};
use crate::key::Key;
use crate::room_presence::{member_event, membership_event_id};
use crate::world::World;
use schemas::EventId;
use std::collections::BTreeSet;

/// One presence room membership turned by the batch, as its fold told it.
#[derive(Debug, Clone)]
pub(crate) struct PresenceTurn {
    room: String,
    client: String,
    joined: bool,
    /// The other members the fold told (the room as it read it).
    told: Vec<String>,
    /// The record, whose position the recheck's deliveries take.
    event_id: EventId,
}

impl World {
    /// Whether this world reads its presence rooms again after its commit: one over a store
    /// that other batches write at once.
    fn rechecks_presence(&self) -> bool {
        self.parts_apart && !self.complete
    }

    /// Keeps a presence room membership turn, folded now, with the members its events went to,
    /// to compare with the room after the commit.
    pub(crate) fn defer_presence_check(
        &mut self,
        room: &str,
        client: &str,
        joined: bool,
        told: Vec<String>,
        event_id: EventId,
    ) {
        if !self.rechecks_presence() || self.is_refolding() {
            return;
        }
        self.ahead.presence.push(PresenceTurn {
            room: room.to_owned(),
            client: client.to_owned(),
            joined,
            told,
            event_id,
        });
    }

    /// The presence rooms to read again after the commit.
    pub(crate) fn presence_recheck_keys(&self) -> Vec<Key> {
        let rooms: BTreeSet<&str> = self
            .ahead
            .presence
            .iter()
            .map(|t| t.room.as_str())
            .collect();
        rooms.into_iter().map(|r| Key::Room(r.to_owned())).collect()
    }

    /// The entries of those rooms' members not loaded yet: what reaches them, and how they are
    /// present.
    pub(crate) fn presence_recheck_needs(&self) -> Vec<Key> {
        let rooms: BTreeSet<&str> = self
            .ahead
            .presence
            .iter()
            .map(|t| t.room.as_str())
            .collect();
        rooms
            .into_iter()
            .flat_map(|r| self.presence_room_members(r))
            .filter(|k| !self.has(k))
            .collect()
    }

    /// What the batch's presence turns owe the members their fold did not see, read again after
    /// the commit (see `presence_recheck`), each with its turn's record. Forgets the turns.
    pub(crate) fn presence_recheck(&mut self) -> Vec<(EventId, Delivery)> {
        let turns = std::mem::take(&mut self.ahead.presence);
        let mut owed = Vec::new();
        for (i, turn) in turns.iter().enumerate() {
            // The room's registers, read again, say who is a member now: the entries of the
            // others loaded while folding may be older.
            let Some(state) = self.rooms.get(turn.room.as_str()) else {
                continue;
            };
            // A member whose membership a later turn of the batch changed told, and was told,
            // with that turn.
            let later: BTreeSet<&str> = turns[i + 1..]
                .iter()
                .filter(|t| t.room == turn.room)
                .map(|t| t.client.as_str())
                .collect();
            let now: BTreeSet<&str> = state
                .members()
                .filter(|(m, w)| w.value.is_joined() && *m != turn.client)
                .map(|(m, _)| m)
                .collect();
            if now.len() >= crate::config::PRESENCE_ROOM_MAX {
                continue;
            }
            let now: BTreeSet<&str> = now.difference(&later).copied().collect();
            let told: BTreeSet<&str> = turn
                .told
                .iter()
                .map(String::as_str)
                .filter(|m| !later.contains(m))
                .collect();
            let mut tell = |to: &str, about: &str, joined: bool| {
                owed.extend(
                    self.told_of(&turn.room, to, about, joined)
                        .into_iter()
                        .map(|d| (turn.event_id, d)),
                );
            };
            for m in now.difference(&told) {
                if turn.joined {
                    tell(&turn.client, m, true);
                }
                tell(m, &turn.client, turn.joined);
            }
            if turn.joined {
                for m in told.difference(&now) {
                    tell(&turn.client, m, false);
                }
            }
        }
        owed
    }

    /// `to`'s deliveries of `about`'s membership of `room` turning to `joined` (or away from
    /// it), by its sockets and chat topics, with the id the membership's own batch gives it.
    fn told_of(&self, room: &str, to: &str, about: &str, joined: bool) -> Vec<Delivery> {
        let register = self.rooms.get(room).and_then(|r| r.member(about));
        let id = membership_event_id(room, about, register.map_or(0, |w| w.ts), joined);
        let payload = member_event(self, room, about, if joined { "join" } else { "leave" });
        let (sockets, topics) = crate::route::reach_of(self, to, room);
        let sockets = sockets.into_iter().map(|connection_id| {
            let channel = Channel::WebSocket { connection_id };
            Delivery::new(id, channel, Some(to.to_owned()), payload.clone())
        });
        let topics = topics
            .into_iter()
            .map(|topic| Delivery::new(id, Channel::Mqtt { topic }, None, payload.clone()));
        sockets.chain(topics).collect()
    }
}
