//! Chat messages and memberships that meet across batches folded at once.
//!
//! A batch folding a chat message reads its room's members; another shard's batch folding a
//! `join` of the room, or a subscription to its chat topic, reads the room's history. Lambda
//! runs both at once (DESIGN.md, Concurrency): if each read before the other's write, the member
//! would miss the message. So a world over a shared store ([`World::parts_apart`]) writes before
//! it reads, on both sides:
//!
//! - a chat message is stored ([`crate::Step::Publish`]) before its room's members are read;
//! - a batch that changed memberships reads those rooms' histories again after its commit, and
//!   owes the messages it learns of there as a membership folded late owes them
//!   ([`World::recheck`]).
//!
//! Whichever write is stored first, the other batch's read comes after it: the message's batch
//! finds the member, or the membership's batch finds the message. When both do, both deliver,
//! with the one id a delivery of the message to the member has.

use crate::delivery::Delivery;
use crate::history::Message;
use crate::lattice::{Lww, Membership};
use crate::world::World;
use crate::Key;
use schemas::{Action, EventId, Record};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What a batch over a shared store has stored ahead and must check again after its commit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ahead {
    /// Messages stored before their records are folded, by stamp: the sender each was stored
    /// with, and whether its record is folded yet.
    published: HashMap<(u64, EventId), (Option<String>, bool)>,
    /// The memberships the batch wrote, by (room, client).
    turns: BTreeMap<(String, String), Turn>,
    /// While rechecking: the messages of each turned room the fold saw.
    seen: HashMap<String, HashSet<(u64, EventId)>>,
    /// Rooms whose members were read before a message of theirs was stored: read again.
    stale: HashSet<String>,
}

/// A client's memberships of one room as a batch found them, before its first write.
#[derive(Debug, Clone)]
struct Turn {
    /// The earliest time the batch wrote.
    since: u64,
    /// The client's writes before the batch's: its register and earlier writes.
    before: Vec<Lww<Membership>>,
    /// The record of the first write, whose position a recheck's deliveries take.
    event_id: EventId,
}

impl Turn {
    /// Whether the client was a member at `t` by the writes before the batch's.
    fn member_at(&self, t: u64) -> bool {
        self.before
            .iter()
            .filter(|w| w.ts <= t)
            .max_by_key(|w| (w.ts, w.value))
            .is_some_and(|w| w.value.is_joined())
    }
}

impl World {
    /// Whether this world stores chat messages ahead and rechecks memberships (see `ahead`).
    fn ahead_of_members(&self) -> bool {
        self.parts_apart && !self.complete && self.config.history_max > 0
    }

    /// The chat message `record` sends, to store before its room's members are read: once its
    /// connection is loaded (which names the sender) and until it is stored.
    pub(crate) fn to_publish(&self, record: &Record) -> Option<(String, Message)> {
        let Record::WebSocket(ws) = record else {
            return None;
        };
        if !self.ahead_of_members() || !self.has(&Key::Connection(ws.connection_id.clone())) {
            return None;
        }
        let Action::SendMessage {
            message,
            chat_id: Some(room),
        } = ws.action()
        else {
            return None;
        };
        let sent_at = ws.request_time_epoch;
        if self
            .ahead
            .published
            .contains_key(&(sent_at, record.event_id()))
        {
            return None;
        }
        let known = self
            .conns
            .get(ws.connection_id.as_str())
            .and_then(|c| c.summary.client_id.as_deref());
        let from = ws.resolved_client_id().max(known).map(str::to_owned);
        Some((
            room,
            Message {
                sent_at,
                event_id: record.event_id(),
                connection_id: ws.connection_id.clone(),
                from,
                message,
            },
        ))
    }

    /// Whether the chat message `record` sent at `sent_at` is stored: a world that stores
    /// messages ahead reads the room's members only then.
    pub(crate) fn is_published(&self, sent_at: u64, record: &Record) -> bool {
        !self.ahead_of_members()
            || self
                .ahead
                .published
                .contains_key(&(sent_at, record.event_id()))
    }

    /// Lists `message` of `room` to store ahead: its value is the entry of its
    /// [`Key::Message`] until the next commit, and it counts as stored from now on.
    pub(crate) fn publish(&mut self, room: &str, message: &Message) -> Key {
        self.parts.message(room, message);
        if self.rooms.contains_key(room) {
            self.ahead.stale.insert(room.to_owned());
        }
        self.ahead
            .published
            .insert(message.stamp(), (message.from.clone(), false));
        Key::Message {
            room: room.to_owned(),
            sent_at: message.sent_at,
            event_id: message.event_id,
        }
    }

    /// Notes that `message`'s record is folded; true if it was stored ahead as it is now, so
    /// that it needs no write.
    pub(crate) fn folded_published(&mut self, message: &Message) -> bool {
        match self.ahead.published.get_mut(&message.stamp()) {
            Some((from, folded)) => {
                *folded = true;
                *from >= message.from
            }
            None => false,
        }
    }

    /// Whether `message` is stored ahead and its record not folded yet: the fold routes it
    /// when it gets there, so a membership folded before does not catch up on it.
    pub(crate) fn is_pending(&self, message: &Message) -> bool {
        !self.ahead.published.is_empty()
            && self
                .ahead
                .published
                .get(&message.stamp())
                .is_some_and(|(_, folded)| !folded)
    }

    /// Notes a membership write of `client` in `room` at `t` by `record`, before it is folded:
    /// the first of the batch keeps the client's writes before it.
    pub(crate) fn note_turn(&mut self, room: &str, client: &str, t: u64, record: &Record) {
        if !self.ahead_of_members() {
            return;
        }
        let key = (room.to_owned(), client.to_owned());
        if let Some(turn) = self.ahead.turns.get_mut(&key) {
            turn.since = turn.since.min(t);
            return;
        }
        let before = self.clients.get(client).map(|c| {
            let register = c.rooms.get(room).cloned();
            let earlier = c.earlier.get(room).into_iter().flat_map(|e| e.iter());
            register
                .into_iter()
                .chain(earlier.cloned())
                .collect::<Vec<_>>()
        });
        self.ahead.turns.insert(
            key,
            Turn {
                since: t,
                before: before.unwrap_or_default(),
                event_id: record.event_id(),
            },
        );
    }

    /// The histories to read again after the batch's commit (see `ahead`): one per room whose
    /// memberships it wrote, since the earliest write. Notes the messages the fold saw.
    pub(crate) fn recheck_keys(&mut self) -> Vec<Key> {
        let mut since: BTreeMap<&str, u64> = BTreeMap::new();
        for ((room, _), turn) in &self.ahead.turns {
            let t = since.entry(room).or_insert(turn.since);
            *t = (*t).min(turn.since);
        }
        let mut seen = HashMap::new();
        for room in since.keys() {
            let stamps = self
                .histories
                .get(*room)
                .map(|h| h.messages().iter().map(Message::stamp).collect())
                .unwrap_or_default();
            seen.insert((*room).to_owned(), stamps);
        }
        let keys = since
            .into_iter()
            .map(|(room, since)| Key::History {
                room: room.to_owned(),
                since,
            })
            .collect();
        self.ahead.seen = seen;
        keys
    }

    /// The messages of the turned rooms the fold did not see, with the memberships they are
    /// checked against.
    fn unseen(&self) -> Vec<(&(String, String), &Turn, &Message)> {
        let mut out = Vec::new();
        for (key @ (room, _), turn) in &self.ahead.turns {
            let Some(history) = self.histories.get(room.as_str()) else {
                continue;
            };
            let seen = self.ahead.seen.get(room);
            for m in history.recent_since(&self.config, turn.since) {
                if !seen.is_some_and(|s| s.contains(&m.stamp())) {
                    out.push((key, turn, m));
                }
            }
        }
        out
    }

    /// The connections that sent the unseen messages without naming their client: loaded, they
    /// tell whether a member is the sender ([`World::sender_of`]).
    pub(crate) fn recheck_needs(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .unseen()
            .into_iter()
            .filter(|(_, _, m)| m.from.is_none())
            .map(|(_, _, m)| Key::Connection(m.connection_id.clone()))
            .filter(|k| !self.has(k))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// What the batch's memberships owe for the messages its history reads after the commit
    /// found and its fold did not see: each one a client is a member at now and was not before
    /// the batch is delivered (with the id of the membership record that owes it); each one it
    /// was a member at before and is not now was delivered to a client that had left, and is
    /// counted ([`World::late_leaves`]). Forgets the batch's turns.
    pub(crate) fn recheck(&mut self) -> Vec<(EventId, Delivery)> {
        let mut owed = Vec::new();
        let mut late = 0;
        for ((room, client), turn, message) in self.unseen() {
            if self.sender_of(message) == Some(client.as_str()) {
                continue;
            }
            let was = turn.member_at(message.sent_at);
            let is = self
                .clients
                .get(client.as_str())
                .is_some_and(|c| c.member_at(room, message.sent_at, None));
            match (was, is) {
                (false, true) => {
                    let mut out = Vec::new();
                    crate::route::to_member(self, client, room, message, &mut out);
                    owed.extend(out.into_iter().map(|d| (turn.event_id, d)));
                }
                (true, false) => late += 1,
                _ => {}
            }
        }
        self.late_leaves += late;
        self.ahead.turns.clear();
        self.ahead.seen.clear();
        owed
    }

    /// Whether `room`'s members were read before a message of it was stored, so that they are
    /// read again before the message is routed.
    pub(crate) fn is_stale(&self, room: &str) -> bool {
        !self.ahead.stale.is_empty() && self.ahead.stale.contains(room)
    }

    /// `room`'s members are read (again).
    pub(crate) fn read_members(&mut self, room: &str) {
        if !self.ahead.stale.is_empty() {
            self.ahead.stale.remove(room);
        }
    }

    /// Forgets what the batch stored ahead: its records are folded and committed.
    pub(crate) fn end_batch(&mut self) {
        self.ahead = Ahead::default();
    }

    /// Whether the batch wrote memberships to check again after its commit.
    pub(crate) fn has_turns(&self) -> bool {
        !self.ahead.turns.is_empty()
    }
}
