//! Settings of the fold: the presence rule's reset horizon, the chat-topic pattern and the
//! WebSocket connection bound.

use serde::{Deserialize, Serialize};

/// Settings that change what the fold derives. Every process folding the same stream must use
/// the same values, or their projections will differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The presence rule's reset horizon H (ms): sessions whose last event is older than the
    /// client's newest event minus H are no longer candidates. Default 30 minutes, half of the
    /// hour after which AWS resets `versionNumber`.
    pub reset_horizon_ms: u64,
    /// Which IoT topic subscriptions are chat-room memberships, and which segment names the room.
    pub chat_topic: TopicPattern,
    /// A WebSocket connection is live for at most this long (API Gateway's 2-hour maximum).
    pub connection_max_age_ms: u64,
    /// How long history is remembered: a closed IoT session (as a compact tombstone) and a left
    /// room after the client's newest event, and a member who left after the room's newest
    /// write; never less than the reset horizon (a candidate is never forgotten). Forgetting
    /// assumes no record about a client or room arrives later than this behind its newest
    /// event: Kinesis keeps records 24 hours by default, so no retry can bring back an older one.
    pub tombstone_retention_ms: u64,
    /// How long a room's message history keeps a message after it was sent (ms, in event
    /// time): a membership folded later than this behind a message it precedes does not catch
    /// up on it. (Absent from settings written before it existed: the default.)
    #[serde(default = "default_history_ms")]
    pub history_ms: u64,
    /// How many messages a room's history keeps at most, the newest; 0 keeps none, and no
    /// membership catches up.
    #[serde(default = "default_history_max")]
    pub history_max: usize,
    /// Which rooms are presence rooms: those whose id starts with this (`""`: every room). Their
    /// members hear each other `join` and `leave` and a joiner gets the room's state
    /// (`room_presence`), as on Pusher's `presence-` channels. (Absent from settings written
    /// before it existed: the default.)
    #[serde(default = "default_presence_rooms")]
    pub presence_rooms: String,
    /// How long after a member of presence rooms was last seen its going offline is announced,
    /// in event time: a reconnect within it announces nothing (`grace`). 0, the default, for at
    /// once. (Absent from settings written before it existed: 0.)
    #[serde(default)]
    pub presence_grace_ms: u64,
    /// Rate limits and bounds on what a connection sends (`limits`). (Absent from settings
    /// written before they existed: the defaults.)
    #[serde(default)]
    pub limits: crate::limits::Limits,
}

/// 30 minutes.
pub const DEFAULT_RESET_HORIZON_MS: u64 = 30 * 60 * 1000;
/// 2 hours.
pub const DEFAULT_CONNECTION_MAX_AGE_MS: u64 = 2 * 60 * 60 * 1000;
/// 24 hours.
pub const DEFAULT_TOMBSTONE_RETENTION_MS: u64 = 24 * 60 * 60 * 1000;
/// 10 minutes.
pub const DEFAULT_HISTORY_MS: u64 = 10 * 60 * 1000;
/// A thousand messages.
pub const DEFAULT_HISTORY_MAX: usize = 1000;
/// Presence rooms are those whose id starts with `presence-`, as on Pusher.
pub const DEFAULT_PRESENCE_ROOMS: &str = "presence-";
/// A presence room's members hear each other while it has at most this many members (Pusher's
/// limit for presence channels): every event reads each member's entry to find its sockets.
pub const PRESENCE_ROOM_MAX: usize = 100;
/// Seed 000's chat topics: `{app}/{user}/chat/{chatId}`.
pub const DEFAULT_CHAT_TOPIC: &str = "+/+/chat/{chatId}";

impl Config {
    /// What compaction may forget of an entity whose newest event is at `newest`: anything
    /// written before the result, which no record can still overrule (the retention, never
    /// less than the reset horizon; see `compact`).
    pub(crate) fn forget_before(&self, newest: u64) -> u64 {
        newest.saturating_sub(self.tombstone_retention_ms.max(self.reset_horizon_ms))
    }

    /// Whether `room` is a presence room.
    pub fn is_presence_room(&self, room: &str) -> bool {
        room.starts_with(self.presence_rooms.as_str())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            reset_horizon_ms: DEFAULT_RESET_HORIZON_MS,
            chat_topic: TopicPattern::default(),
            connection_max_age_ms: DEFAULT_CONNECTION_MAX_AGE_MS,
            tombstone_retention_ms: DEFAULT_TOMBSTONE_RETENTION_MS,
            history_ms: DEFAULT_HISTORY_MS,
            history_max: DEFAULT_HISTORY_MAX,
            presence_rooms: DEFAULT_PRESENCE_ROOMS.to_owned(),
            presence_grace_ms: 0,
            limits: crate::limits::Limits::default(),
        }
    }
}

fn default_history_ms() -> u64 {
    DEFAULT_HISTORY_MS
}

fn default_history_max() -> usize {
    DEFAULT_HISTORY_MAX
}

fn default_presence_rooms() -> String {
    DEFAULT_PRESENCE_ROOMS.to_owned()
}

/// Why a chat-topic pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chat topic pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A topic pattern such as `+/+/chat/{chatId}`: `+` matches any one level, `{chatId}` matches
/// one level and names the room, other levels match themselves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicPattern {
    text: String,
    levels: Vec<Level>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Any,
    Room,
    Exact(String),
}

impl TopicPattern {
    /// Parses a pattern; it needs exactly one `{chatId}` level and no `#`.
    ///
    /// # Errors
    /// A [`PatternError`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let err = |reason| PatternError {
            pattern: text.to_owned(),
            reason,
        };
        let levels: Vec<Level> = text
            .split('/')
            .map(|l| match l {
                "+" => Ok(Level::Any),
                "{chatId}" => Ok(Level::Room),
                l if l.contains('#') || l.contains('+') || l.contains('{') => Err(err(
                    "levels are `+`, `{chatId}` or literal text without `#`, `+` or `{`",
                )),
                l => Ok(Level::Exact(l.to_owned())),
            })
            .collect::<Result<_, _>>()?;
        match levels.iter().filter(|l| **l == Level::Room).count() {
            1 => Ok(TopicPattern {
                text: text.to_owned(),
                levels,
            }),
            _ => Err(err("it needs exactly one `{chatId}` level")),
        }
    }

    /// The room a topic names, if the topic matches. Topic filters with wildcards never match:
    /// they name no single room, and a filter is not a topic anyone can publish to.
    pub fn room_of<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let mut room = None;
        let mut rest = Some(topic);
        for level in &self.levels {
            room = level.check(next_level(&mut rest)?)?.or(room);
        }
        match rest {
            Some(_) => None,
            None => room,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Level {
    /// One level of a topic against this level of the pattern: `None` if it does not match,
    /// else the room it names, if it names one. An empty level or a wildcard never matches.
    fn check<'t>(&self, part: &'t str) -> Option<Option<&'t str>> {
        if part.is_empty() || part == "+" || part == "#" {
            return None;
        }
        match self {
            Level::Any => Some(None),
            Level::Room => Some(Some(part)),
            Level::Exact(text) if text == part => Some(None),
            Level::Exact(_) => None,
        }
    }
}

/// The next level of a topic, as `topic.split('/')` would give it, and what follows (`None`
/// after the last level). By bytes: a topic is a few short levels, where the generic character
/// searcher behind `split` cost more than the comparisons, in every subscription folded.
fn next_level<'t>(rest: &mut Option<&'t str>) -> Option<&'t str> {
    let text = (*rest)?;
    match text.bytes().position(|b| b == b'/') {
        // `/` is one byte, so both sides of it are `str` boundaries.
        Some(at) => {
            *rest = text.get(at + 1..);
            text.get(..at)
        }
        None => {
            *rest = None;
            Some(text)
        }
    }
}

impl Default for TopicPattern {
    fn default() -> Self {
        TopicPattern {
            text: DEFAULT_CHAT_TOPIC.to_owned(),
            levels: vec![
                Level::Any,
                Level::Any,
                Level::Exact("chat".to_owned()),
                Level::Room,
            ],
        }
    }
}

impl TryFrom<String> for TopicPattern {
    type Error = PatternError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TopicPattern::parse(&s)
    }
}

impl From<TopicPattern> for String {
    fn from(p: TopicPattern) -> String {
        p.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pattern_matches_seed_000_topics() {
        let p = TopicPattern::default();
        assert_eq!(p, TopicPattern::parse(DEFAULT_CHAT_TOPIC).unwrap());
        assert_eq!(p.room_of("app/user1/chat/42"), Some("42"));
        assert_eq!(p.room_of("app/user1/chat"), None);
        assert_eq!(p.room_of("app/user1/chat/42/x"), None);
        assert_eq!(p.room_of("app/user1/news/42"), None);
        assert_eq!(p.room_of("app/+/chat/42"), None);
        assert_eq!(p.room_of("app/user1/chat/#"), None);
    }

    /// `room_of` splitting with `str::split`, as it was first written: the oracle for the byte
    /// scan.
    fn room_of_by_split<'t>(p: &TopicPattern, topic: &'t str) -> Option<&'t str> {
        let mut room = None;
        let mut parts = topic.split('/');
        for level in &p.levels {
            room = level.check(parts.next()?)?.or(room);
        }
        match parts.next() {
            Some(_) => None,
            None => room,
        }
    }

    proptest::proptest! {
        #[test]
        fn room_of_splits_topics_as_str_split_does(
            levels in proptest::collection::vec("|\\+|#|chat|rooms|a|é😀|[a-c/]{0,3}", 0..7),
            pattern in proptest::sample::select(vec![
                DEFAULT_CHAT_TOPIC, "rooms/{chatId}", "{chatId}", "a/+/{chatId}/chat",
            ]),
        ) {
            let topic = levels.join("/");
            let p = TopicPattern::parse(pattern).unwrap();
            proptest::prop_assert_eq!(p.room_of(&topic), room_of_by_split(&p, &topic), "{}", topic);
        }
    }

    #[test]
    fn bad_patterns_are_rejected_with_a_reason() {
        assert!(TopicPattern::parse("+/chat").is_err());
        assert!(TopicPattern::parse("#/{chatId}").is_err());
        assert!(TopicPattern::parse("{chatId}/{chatId}").is_err());
        assert_eq!(
            TopicPattern::parse("rooms/{chatId}")
                .unwrap()
                .room_of("rooms/a"),
            Some("a")
        );
    }
}
