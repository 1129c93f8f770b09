//! Presence rooms whose members turn on batches folded at once.
//!
//! A batch folding `alice`'s join of a presence room reads the room's members to tell them; a
//! batch of another shard folding `bob`'s join, or `carol` going offline, at the same time does
//! the same. Lambda runs both at once (docs/architecture.md, Every shard at once): if each read
//! before the other's write, neither would hear of the other. So, as chat messages do (see
//! `ahead`), a batch over a shared store reads each presence room whose members it told of a
//! turn again after its commit, and tells what its fold could not see:
//!
//! - a member that joined meanwhile hears the batch's turn (a join, leave, online or offline);
//!   and, when the turn is a join, the joiner hears it join;
//! - when the turn is a join: the joiner hears a member that left meanwhile leave, and a member
//!   whose presence turned since its state said it (read again: every member's entry) go
//!   `online` or `offline`, if the member's rooms heard that turn.
//!
//! Whichever write is stored first, the other batch's read comes after it, so one batch or the
//! other tells. When both do, both copies have one id: an event's id is its subject's register's
//! (room, member, time: the membership write's, or what the member's rooms heard and when),
//! not the record's that caused it ([`subject_event_id`]). The joiner's state and the events
//! another batch sends may arrive in either order.

use crate::delivery::Delivery;
use crate::key::Key;
use crate::room_presence::{member_event, subject_event_id, to_others};
use crate::world::World;
use schemas::EventId;
use std::collections::{BTreeMap, BTreeSet};

/// One turn of a presence room member the batch told the room, as its fold told it.
#[derive(Debug, Clone)]
pub(crate) struct PresenceTurn {
    room: String,
    client: String,
    /// `join`, `leave`, `online` or `offline`.
    event: &'static str,
    /// The other members the fold told (the room as it read it), each with whether it was
    /// online then (what a joiner's state said).
    told: Vec<(String, bool)>,
    /// The record, whose position the recheck's deliveries take.
    event_id: EventId,
}

impl World {
    /// Whether this world reads its presence rooms again after its commit: one over a store
    /// that other batches write at once.
    fn rechecks_presence(&self) -> bool {
        self.parts_apart && !self.complete
    }

    /// Keeps a turn of `client` in presence room `room` (`event`), folded now and told to
    /// `members`, to compare with the room after the commit.
    pub(crate) fn defer_presence_check(
        &mut self,
        room: &str,
        client: &str,
        event: &'static str,
        members: &[String],
        event_id: EventId,
    ) {
        if !self.rechecks_presence() || self.is_refolding() {
            return;
        }
        let told = members
            .iter()
            .filter(|m| *m != client)
            .map(|m| (m.clone(), self.client(m).is_some_and(|v| v.online)))
            .collect();
        self.ahead.presence.push(PresenceTurn {
            room: room.to_owned(),
            client: client.to_owned(),
            event,
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

    /// The entries of those rooms' members to read: those not loaded yet (what reaches them,
    /// how they are present), and, in a room a member joined, every member's again (whether
    /// its presence turned since the joiner's state said it).
    pub(crate) fn presence_recheck_needs(&self) -> Vec<Key> {
        let mut rooms: BTreeMap<&str, bool> = BTreeMap::new();
        for turn in &self.ahead.presence {
            *rooms.entry(&turn.room).or_default() |= turn.event == "join";
        }
        rooms
            .into_iter()
            .flat_map(|(r, joined)| {
                let members = self.presence_room_members(r).into_iter();
                members.filter(move |k| joined || !self.has(k))
            })
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
            // A member whose membership or presence a later turn of the batch changed told,
            // and was told, with that turn.
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
            let told: BTreeMap<&str, bool> = turn
                .told
                .iter()
                .map(|(m, online)| (m.as_str(), *online))
                .filter(|(m, _)| !later.contains(m))
                .collect();
            let (room, client) = (turn.room.as_str(), turn.client.as_str());
            let mut tell = |to: &str, about: &str, event: &str| {
                let told = self.told_of(room, to, about, event);
                owed.extend(told.into_iter().map(|d| (turn.event_id, d)));
            };
            for m in now.iter().filter(|m| !told.contains_key(*m)) {
                if turn.event == "join" {
                    tell(client, m, "join");
                }
                tell(m, client, turn.event);
            }
            if turn.event != "join" {
                continue;
            }
            for (m, said) in &told {
                if !now.contains(m) {
                    tell(client, m, "leave");
                } else if let Some(event) = self.presence_since(m, *said) {
                    tell(client, m, event);
                }
            }
        }
        owed
    }

    /// The presence event `member`'s rooms heard, if it turned from `said` and they heard the
    /// turn (one they have not heard yet is told by the member's next record).
    fn presence_since(&self, member: &str, said: bool) -> Option<&'static str> {
        let state = self.clients.get(member)?;
        let heard = state.announced.as_ref()?.value;
        (heard != said && self.online_now(state) == heard).then_some(if heard {
            "online"
        } else {
            "offline"
        })
    }

    /// `to`'s deliveries of `about`'s `event` in `room`, by its sockets and chat topics, with the
    /// id the batch of the turn gives it: from `about`'s register for the room (a `join` or
    /// `leave`) or from what its rooms heard (`online`, `offline`).
    fn told_of(&self, room: &str, to: &str, about: &str, event: &str) -> Vec<Delivery> {
        let ts = match event {
            "join" | "leave" => self
                .rooms
                .get(room)
                .and_then(|r| r.member(about))
                .map(|w| w.ts),
            _ => self
                .clients
                .get(about)
                .and_then(|c| c.announced.as_ref())
                .map(|a| a.ts),
        };
        let id = subject_event_id(event, room, about, ts.unwrap_or(0));
        let payload = member_event(self, room, about, event);
        to_others(self, room, &[to.to_owned()], about, id, &payload)
    }
}
