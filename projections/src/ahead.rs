//! Chat messages and memberships that meet across batches folded at once.
//!
//! A batch folding a chat message reads its room's members; another shard's batch folding a `join`
//! of the room, or a subscription to its chat topic, reads the room's history. Lambda runs both at
//! once (docs/architecture.md, Every shard at once): if each read before the other's write, the
//! member would miss the message. So a world over a shared store ([`World::parts_apart`]) writes
//! before it reads, on both sides:
//!
//! - a chat message is stored ([`crate::Step::Publish`]) before its room's members are read;
//! - a batch that changed memberships reads those rooms' histories after its commit, not while
//!   folding, and owes the messages it finds there as a membership folded late owes them
//!   ([`World::recheck`]): each one the client is a member at after the batch and was not
//!   before it. A batch's own messages are folded with it, and are caught up on then.
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

/// What a batch over a shared store has stored ahead and must check after its commit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ahead {
    /// Messages stored before their records are folded, by stamp: the sender each was stored
    /// with, and whether its record is folded yet.
    published: HashMap<(u64, EventId), (Option<String>, bool)>,
    /// The membership writes the batch folded, in order.
    turns: Vec<Turn>,
    /// While rechecking: the messages of each turned room the fold held (loaded for `history`
    /// requests, or the batch's own).
    seen: HashMap<String, HashSet<(u64, EventId)>>,
    /// Rooms whose members were read before a message of theirs was stored: read again.
    stale: HashSet<String>,
    /// The batch's own chat messages, with how many membership writes were folded before each:
    /// a write compares the room's history as it was when it was folded, without the batch's
    /// later messages, whose times move the history's recent window.
    own: HashMap<(u64, EventId), usize>,
    /// Whether the batch's first pass is folded: a pass after a conflict folds the same records
    /// again, and its membership writes change nothing to compare.
    refolding: bool,
    /// Connections whose `$connect` the batch folded after other records of theirs, with how
    /// many membership writes were folded before it: a message of theirs stored without its
    /// sender names none to those writes, as it named none while they were folded.
    named: HashMap<String, usize>,
    /// The presence room memberships the batch turned, to compare with their rooms after its
    /// commit (`presence_recheck`).
    pub(crate) presence: Vec<crate::presence_recheck::PresenceTurn>,
}

/// One membership write as it was folded, to compare with the room's history after the commit
/// as [`World::catch_up`] compares it while folding.
#[derive(Debug, Clone)]
struct Turn {
    room: String,
    client: String,
    /// The write's time.
    since: u64,
    /// The client's writes in the room (its register and earlier writes) before the record was
    /// folded, and after.
    before: Vec<Lww<Membership>>,
    after: Vec<Lww<Membership>>,
    /// What reached the client after the record was folded: sockets, chat topics.
    reach: (Vec<String>, Vec<String>),
    /// The record, whose position a recheck's deliveries take.
    event_id: EventId,
}

/// Whether `writes` say a member at `t`: the latest at or before `t` (at equal times, leaving
/// wins) is a join.
fn member_at(writes: &[Lww<Membership>], t: u64) -> bool {
    writes
        .iter()
        .filter(|w| w.ts <= t)
        .max_by_key(|w| (w.ts, w.value))
        .is_some_and(|w| w.value.is_joined())
}

impl World {
    /// Whether this world stores chat messages ahead and compares memberships with their
    /// rooms' histories after the batch's commit ([`World::recheck`]) rather than while folded:
    /// one read of a room's history a batch, after its memberships are stored, which a read
    /// before could not spare (see `ahead`).
    pub(crate) fn rechecks_memberships(&self) -> bool {
        self.parts_apart && !self.complete && self.config.history_max > 0
    }

    /// The chat message `record` sends, to store before its room's members are read: once its
    /// connection is loaded (which names the sender) and until it is stored.
    pub(crate) fn to_publish(&self, record: &Record) -> Option<(String, Message)> {
        let Record::WebSocket(ws) = record else {
            return None;
        };
        if !self.rechecks_memberships() || !self.has(&Key::Connection(ws.connection_id.clone())) {
            return None;
        }
        let Action::SendMessage {
            message,
            chat_id: Some(room),
        } = ws.action()
        else {
            return None;
        };
        let (sent_at, event_id) = (ws.request_time_epoch, record.event_id());
        if self.ahead.published.contains_key(&(sent_at, event_id)) {
            return None;
        }
        // The sender is the connection's client, which its `$connect` names, as when the
        // record is folded.
        let from = self
            .conns
            .get(ws.connection_id.as_str())
            .and_then(|c| c.summary.client_id.clone());
        Some((
            room,
            Message {
                sent_at,
                event_id,
                connection_id: ws.connection_id.clone(),
                from,
                message,
            },
        ))
    }

    /// Whether the chat message `record` sent at `sent_at` is stored: a world that stores
    /// messages ahead reads the room's members only then.
    pub(crate) fn is_published(&self, sent_at: u64, record: &Record) -> bool {
        !self.rechecks_memberships()
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

    /// `client`'s membership writes in `room`, before a membership record is folded, in a
    /// world that compares them with the room's history after its commit; `None` in others.
    pub(crate) fn writes_before(&self, room: &str, client: &str) -> Option<Vec<Lww<Membership>>> {
        self.rechecks_memberships()
            .then(|| self.membership_writes(room, client))
    }

    /// Notes that the batch folded `message`, a chat message of its own.
    pub(crate) fn folded_own(&mut self, message: &Message) {
        if self.rechecks_memberships() {
            let turns = self.ahead.turns.len();
            self.ahead.own.entry(message.stamp()).or_insert(turns);
        }
    }

    /// Notes that the `$connect` of `connection_id` is folded after other records of it.
    pub(crate) fn named_late(&mut self, connection_id: &str) {
        if self.rechecks_memberships() {
            let turns = self.ahead.turns.len();
            self.ahead
                .named
                .entry(connection_id.to_owned())
                .or_insert(turns);
        }
    }

    /// The sender of `message` as the fold knew it when the `turn`-th membership write was
    /// folded.
    fn sender_at<'a>(&'a self, message: &'a Message, turn: usize) -> Option<&'a str> {
        let named_after = self
            .ahead
            .named
            .get(&message.connection_id)
            .is_some_and(|at| *at > turn);
        match message.from {
            None if named_after => None,
            _ => self.sender_of(message),
        }
    }

    /// `client`'s register in `room` and its earlier writes.
    fn membership_writes(&self, room: &str, client: &str) -> Vec<Lww<Membership>> {
        let Some(c) = self.clients.get(client) else {
            return Vec::new();
        };
        let register = c.rooms.get(room).cloned();
        let earlier = c.earlier.get(room).into_iter().flat_map(|e| e.iter());
        register.into_iter().chain(earlier.cloned()).collect()
    }

    /// Keeps a membership write of `client` in `room` at `t`, now folded, by `record`, with the
    /// client's writes `before` it ([`World::writes_before`]), to compare with the room's
    /// history after the commit ([`World::recheck`]).
    pub(crate) fn defer_catch_up(
        &mut self,
        room: &str,
        client: &str,
        t: u64,
        before: Option<Vec<Lww<Membership>>>,
        record: &Record,
    ) {
        let Some(before) = before.filter(|_| !self.ahead.refolding) else {
            return;
        };
        let turn = Turn {
            room: room.to_owned(),
            client: client.to_owned(),
            since: t,
            before,
            after: self.membership_writes(room, client),
            reach: crate::route::reach_of(self, client, room),
            event_id: record.event_id(),
        };
        self.ahead.turns.push(turn);
    }

    /// The histories to read after the batch's commit (see `ahead`): one per room whose
    /// memberships it wrote, since the earliest write. Notes the messages the fold saw (the
    /// batch's own).
    pub(crate) fn recheck_keys(&mut self) -> Vec<Key> {
        let mut since: BTreeMap<&str, u64> = BTreeMap::new();
        for turn in &self.ahead.turns {
            let t = since.entry(&turn.room).or_insert(turn.since);
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
        let mut keys: Vec<Key> = since
            .into_iter()
            .map(|(room, since)| Key::History {
                room: room.to_owned(),
                since,
            })
            .collect();
        self.ahead.seen = seen;
        keys.extend(self.presence_recheck_keys());
        keys
    }

    /// The messages of the turned rooms the fold did not see, with the membership writes they
    /// are checked against.
    fn unseen(&self) -> Vec<(usize, &Turn, &Message)> {
        let mut out = Vec::new();
        for (i, turn) in self.ahead.turns.iter().enumerate() {
            let Some(history) = self.histories.get(turn.room.as_str()) else {
                continue;
            };
            // The history as the write was folded with: without the batch's later messages.
            let then: Vec<&Message> = history
                .messages()
                .iter()
                .filter(|m| self.ahead.own.get(&m.stamp()).is_none_or(|at| *at <= i))
                .collect();
            let recent = &then[crate::history::first_recent(&then, &self.config)..];
            let since = &recent[recent.partition_point(|m| m.sent_at < turn.since)..];
            // The batch's own messages were decided while folding (a membership folded before
            // one is routed it, one folded after catches up on it), even those the commit's
            // compaction has since dropped from the history.
            let seen = self.ahead.seen.get(&turn.room);
            for m in since {
                let stamp = m.stamp();
                let decided =
                    self.ahead.own.contains_key(&stamp) || seen.is_some_and(|s| s.contains(&stamp));
                if !decided {
                    out.push((i, turn, *m));
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
        keys.extend(self.presence_recheck_needs());
        keys.sort();
        keys.dedup();
        keys
    }

    /// What the batch's membership writes owe for the messages of their rooms' histories,
    /// read after the commit, that the fold did not see: as [`World::catch_up`] decides while
    /// folding, each one the client is a member at after a write and was not before it is
    /// delivered (reached as the client was then, with the id of the write's record), and each
    /// one it was a member at before and is not after was delivered to a client that had left,
    /// and is counted ([`World::late_leaves`]); and what its presence room turns owe
    /// (`presence_recheck`). Forgets the batch's writes.
    pub(crate) fn recheck(&mut self) -> Vec<(EventId, Delivery)> {
        let mut owed = self.presence_recheck();
        let mut late = 0;
        for (i, turn, message) in self.unseen() {
            let sender = self.sender_at(message, i);
            if sender == Some(turn.client.as_str()) {
                continue;
            }
            let was = member_at(&turn.before, message.sent_at);
            let is = member_at(&turn.after, message.sent_at);
            match (was, is) {
                (false, true) => {
                    let mut out = Vec::new();
                    let (sockets, mqtt) = &turn.reach;
                    crate::route::to_member_reached(
                        &turn.client,
                        &turn.room,
                        message,
                        sender,
                        (sockets, mqtt),
                        &mut out,
                    );
                    owed.extend(out.into_iter().map(|d| (turn.event_id, d)));
                }
                (true, false) => late += 1,
                _ => {}
            }
        }
        self.late_leaves += late;
        self.ahead.turns.clear();
        self.ahead.seen.clear();
        self.ahead.named.clear();
        self.ahead.own.clear();
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

    /// The batch's first pass is folded: later passes note no membership write.
    pub(crate) fn first_pass_folded(&mut self) {
        self.ahead.refolding = true;
    }

    /// Forgets what the batch stored ahead: its records are folded and committed.
    pub(crate) fn end_batch(&mut self) {
        self.ahead = Ahead::default();
    }

    /// Whether the batch wrote memberships to check again after its commit.
    pub(crate) fn has_turns(&self) -> bool {
        !self.ahead.turns.is_empty() || !self.ahead.presence.is_empty()
    }

    /// Whether the batch's first pass is folded, so that a membership write folded now was
    /// noted already.
    pub(crate) fn is_refolding(&self) -> bool {
        self.ahead.refolding
    }
}
