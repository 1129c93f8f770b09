//! A room's message history: its recent chat messages, so that a membership folded after
//! messages it precedes in event time catches up on them (docs/architecture.md, Deliveries).
//!
//! A message is added to its room's history when its `sendmessage` is folded; a membership
//! write folded later whose time is before the message's may change whether the client was a
//! member when the message was sent. `World::membership_turn` and `World::catch_up` compare
//! the client's membership at each later message before and after the write: a client that
//! becomes a member at a message's time receives it then, by socket or push as it is reachable
//! now, with the id the message's live delivery to it would have had; one that stops being a
//! member already received it (a late leave), which cannot be undone and is counted
//! ([`World::late_leaves`]).

use crate::config::Config;
use crate::delivery::Delivery;
use crate::id::Lookup;
use crate::lattice::Merge;
use crate::world::World;
use schemas::EventId;
use serde::{Deserialize, Serialize};

/// One chat message a room's history keeps: what a member catching up receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// When it was sent: the `sendmessage` record's event time (ms).
    pub sent_at: u64,
    /// The `sendmessage` record's id, from which every delivery of the message takes its id.
    pub event_id: EventId,
    /// The sender's connection, which never receives its own message.
    pub connection_id: String,
    /// The sender's client: its connection's, once known. A connection's client is known once
    /// its `$connect` is folded, which its messages follow on its shard; folded in another
    /// order, a message is filled in when the `$connect` comes (`World::name_sender`), so a
    /// history is the same in any order. Copies of a message join to the one that knows.
    #[serde(default)]
    pub from: Option<String>,
    /// What the sender sent.
    pub message: serde_json::Value,
}

impl Message {
    /// Its place in a history: by time, then by id.
    pub fn stamp(&self) -> (u64, EventId) {
        (self.sent_at, self.event_id)
    }
}

/// A room's recent messages, oldest first, each once. Merged by union, which is commutative,
/// associative and idempotent.
///
/// What it holds is its *recent* messages ([`History::recent`]): the newest
/// [`Config::history_max`] of those sent within [`Config::history_ms`] of the newest. The
/// window is the room's own, not the fold's now: a world that folds a batch of a stream knows
/// an earlier now than one that folds all of it, and both must catch a membership up on the
/// same messages. A world that loads the messages since a time holds the room's newest, if any
/// is since then, so it finds the same recent messages since that time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History(Vec<Message>);

impl History {
    /// Adds `message`, or the sender it names to a copy that lacks it; true if that changed
    /// anything.
    pub fn add(&mut self, message: &Message) -> bool {
        match self
            .0
            .binary_search_by_key(&message.stamp(), Message::stamp)
        {
            Ok(i) => {
                let kept = &mut self.0[i];
                let newer = message.from > kept.from;
                if newer {
                    kept.from.clone_from(&message.from);
                }
                newer
            }
            Err(i) => {
                self.0.insert(i, message.clone());
                true
            }
        }
    }

    /// The messages, oldest first.
    pub fn messages(&self) -> &[Message] {
        &self.0
    }

    /// The messages sent at or after `t`, oldest first: those a membership write at `t` can
    /// change (the membership at a time is the latest write at or before it).
    pub fn since(&self, t: u64) -> &[Message] {
        from(&self.0, t)
    }

    /// The recent messages (see [`History`]) sent at or after `t`, oldest first.
    pub fn recent_since(&self, config: &Config, t: u64) -> &[Message] {
        from(self.recent(config), t)
    }

    /// A page of the recent messages sent after `after`, oldest first: the first `limit`, and
    /// any more sent in the same millisecond as the last of them, so that asking again after
    /// the last one's time misses none; and whether any remain after the page.
    pub fn page(&self, config: &Config, after: u64, limit: usize) -> (&[Message], bool) {
        let rest = self.recent_since(config, after.saturating_add(1));
        let Some(last) = rest.get(limit.max(1) - 1) else {
            return (rest, false);
        };
        let end = rest.partition_point(|m| m.sent_at <= last.sent_at);
        (&rest[..end], end < rest.len())
    }

    /// Whether it keeps no message.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recent messages (see [`History`]), oldest first.
    pub fn recent(&self, config: &Config) -> &[Message] {
        &self.0[self.first_recent(config)..]
    }

    fn first_recent(&self, config: &Config) -> usize {
        first_recent(&self.0, config)
    }

    /// Forgets all but the recent messages. Returns how many it keeps.
    pub(crate) fn bound(&mut self, config: &Config) -> usize {
        let first = self.first_recent(config);
        self.0.drain(..first);
        self.0.len()
    }
}

/// Where the recent messages of `messages` (oldest first) begin: the newest
/// [`Config::history_max`] of those sent within [`Config::history_ms`] of the newest.
pub(crate) fn first_recent<M: std::borrow::Borrow<Message>>(
    messages: &[M],
    config: &Config,
) -> usize {
    let newest = messages.last().map_or(0, |m| m.borrow().sent_at);
    let cut = newest.saturating_sub(config.history_ms);
    let old = messages.partition_point(|m| m.borrow().sent_at < cut);
    old.max(messages.len().saturating_sub(config.history_max))
}

/// The messages of `messages` (oldest first) sent at or after `t`.
fn from(messages: &[Message], t: u64) -> &[Message] {
    &messages[messages.partition_point(|m| m.sent_at < t)..]
}

impl Merge for History {
    fn join(&mut self, other: &Self) {
        for message in &other.0 {
            self.add(message);
        }
    }
}

impl World {
    /// The history of `room` as loaded (in a partial world, the messages since the time it was
    /// loaded from: [`crate::Key::History`]).
    pub fn history(&self, room: &str) -> Option<&History> {
        self.histories.get(room)
    }

    /// How many deliveries were made to a client whose leave, folded after the message, says
    /// it was no member when the message was sent: made, and not undone, since a leave
    /// processed late cannot take a message back.
    pub fn late_leaves(&self) -> u64 {
        self.late_leaves
    }

    /// The client that sent `message`: the one it names, or, when it was folded before its
    /// connection's `$connect` and stored so, its connection's (which a world loads for it:
    /// `World::needs`).
    pub fn sender_of<'a>(&'a self, message: &'a Message) -> Option<&'a str> {
        message.from.as_deref().or_else(|| {
            self.conns
                .get(message.connection_id.as_str())
                .and_then(|c| c.summary.client_id.as_deref())
        })
    }

    /// Names `client` the sender of the messages of `connection_id` the loaded histories hold
    /// without one: its `$connect` was folded after them (a stream out of order, or two halves of
    /// one joined). Each message changed is listed to write.
    pub(crate) fn name_sender(&mut self, connection_id: &str, client: &str) {
        let mut named = Vec::new();
        for (room, history) in self.histories.iter_mut() {
            for m in history.0.iter_mut() {
                if m.connection_id == connection_id && m.from.as_deref() < Some(client) {
                    m.from = Some(client.to_owned());
                    named.push((room.to_string(), m.clone()));
                }
            }
        }
        for (room, message) in named {
            self.mark_message(&room, &message);
        }
    }

    /// Adds a chat message to its room's history, bounded, and lists it to write.
    pub(crate) fn remember(&mut self, room: &str, message: &Message) {
        if self.config.history_max == 0 {
            return;
        }
        let stored = self.folded_published(message);
        self.folded_own(message);
        let history = self.histories.entry_ref(&Lookup(room)).or_default();
        if history.add(message) && !stored {
            if self.complete {
                history.bound(&self.config);
            }
            self.mark_message(room, message);
        }
    }

    /// The messages of `room`'s history since `t` that `client` was a member at, before a
    /// membership write at `t` is folded: what [`World::catch_up`] compares with after it.
    pub(crate) fn membership_turn(&self, room: &str, client: &str, t: u64) -> Vec<(u64, EventId)> {
        // Most of a stream is lifecycle events, and many worlds hold no message at all.
        if self.histories.is_empty() {
            return Vec::new();
        }
        let Some(history) = self.histories.get(room) else {
            return Vec::new();
        };
        let state = self.clients.get(client);
        history
            .since(t)
            .iter()
            .filter(|m| self.sender_of(m) != Some(client) && !self.is_pending(m))
            .filter(|m| state.is_some_and(|c| c.member_at(room, m.sent_at, None)))
            .map(Message::stamp)
            .collect()
    }

    /// The deliveries a membership write of `client` at `t` in `room` owes, now that it is folded:
    /// each recent message of the room's history since `t`, not sent by the client, that the client
    /// is a member at now and was not before (`before`, from [`World::membership_turn`]). Messages
    /// it was a member at before and is not now were delivered to a client that had left: they are
    /// counted ([`World::late_leaves`]).
    pub(crate) fn catch_up(
        &mut self,
        room: &str,
        client: &str,
        t: u64,
        before: &[(u64, EventId)],
    ) -> Vec<Delivery> {
        if self.histories.is_empty() {
            return Vec::new();
        }
        let Some(history) = self.histories.get(room) else {
            return Vec::new();
        };
        let state = self.clients.get(client);
        let mut owed = Vec::new();
        let mut late = 0;
        for message in history.recent_since(&self.config, t) {
            let was = before.binary_search(&message.stamp()).is_ok();
            let is = state.is_some_and(|c| c.member_at(room, message.sent_at, None));
            if self.sender_of(message) == Some(client) || self.is_pending(message) {
                continue;
            }
            match (was, is) {
                (false, true) => owed.push(message),
                (true, false) => late += 1,
                _ => {}
            }
        }
        let mut out = Vec::new();
        for message in owed {
            crate::route::to_member(self, client, room, message, &mut out);
        }
        self.late_leaves += late;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(sent_at: u64, id: u128) -> Message {
        Message {
            sent_at,
            event_id: EventId(id),
            connection_id: "w".to_owned(),
            from: Some("a".to_owned()),
            message: serde_json::json!("hi"),
        }
    }

    #[test]
    fn a_history_is_the_same_whatever_order_its_messages_came_in() {
        let messages = [
            message(30, 1),
            message(10, 2),
            message(20, 3),
            message(10, 2),
        ];
        let mut forward = History::default();
        let mut backward = History::default();
        for m in &messages {
            forward.add(m);
        }
        for m in messages.iter().rev() {
            backward.add(m);
        }
        assert_eq!(forward, backward);
        let times: Vec<u64> = forward.messages().iter().map(|m| m.sent_at).collect();
        assert_eq!(times, [10, 20, 30]);
        assert_eq!(forward.since(20).len(), 2);
    }

    #[test]
    fn a_page_ends_after_the_last_message_of_its_millisecond() {
        let config = Config::default();
        let mut h = History::default();
        for (i, t) in [10, 20, 20, 30].into_iter().enumerate() {
            h.add(&message(t, i as u128));
        }
        let times = |(page, more): (&[Message], bool)| {
            (page.iter().map(|m| m.sent_at).collect::<Vec<_>>(), more)
        };
        assert_eq!(times(h.page(&config, 0, 2)), (vec![10, 20, 20], true));
        assert_eq!(times(h.page(&config, 20, 2)), (vec![30], false));
        assert_eq!(times(h.page(&config, 10, 9)), (vec![20, 20, 30], false));
        assert_eq!(times(h.page(&config, 30, 9)), (vec![], false));
    }

    #[test]
    fn the_recent_messages_are_the_newest_within_the_length_of_the_newest() {
        let config = Config {
            history_ms: 100,
            history_max: 2,
            ..Config::default()
        };
        let mut h = History::default();
        for (i, t) in [50, 200, 250, 260].into_iter().enumerate() {
            h.add(&message(t, i as u128));
        }
        assert_eq!(h.recent(&config).len(), 2);
        assert_eq!(
            h.recent(&Config {
                history_max: 9,
                ..config.clone()
            })
            .len(),
            3,
            "50 is more than 100 ms before 260"
        );
        assert_eq!(h.bound(&config), 2);
        let times: Vec<u64> = h.messages().iter().map(|m| m.sent_at).collect();
        assert_eq!(times, [250, 260]);
    }
}
