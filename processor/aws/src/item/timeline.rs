//! The items of rooms' message histories: one per message, in the room's partition after its
//! members (`sk` = `timeline#{sentAt}#{eventId}`, the time zero-padded to 13 digits so that sort
//! keys order by time), with the message as plain attributes for anyone reading the table:
//! `sentAt` (ms), `eventId`, `connectionId` and `from` (the sender's connection and client) and
//! `message` (the JSON sent), and a `ttl`. Only the sender's shard writes a message, once, so it goes without a condition.
//!
//! A room's **head** is one more item, `pk` = `history#{chatId}`, `sk` = `state`, with `newest`:
//! the time of the newest message the room ever kept, a max-register written after the messages
//! on condition that the stored one is older ([`head_condition`]). A membership write reads it
//! along with the other items of its batch (no request of its own), and only if a message is as
//! new as the write reads the messages since its time: one `Query` of
//! `sk BETWEEN timeline#{since} AND timeline#~`, newest first, at most the history's length: the
//! room's recent messages since then, whatever the room holds before. Most memberships are newer
//! than every message of their room, and cost no `Query`. A room's members are read with
//! `sk < timeline#`, so no message is read with them.

use super::attrs::{corrupt, get_n, get_s, key_of, n, Item};
use super::parts::Condition;
use crate::store_port::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use projections::{History, Message};
use schemas::EventId;
use std::collections::HashMap;

/// The prefix of a message's sort key; every sort key of a room's members sorts before it.
pub const TIMELINE: &str = "timeline#";

/// The greatest sort key of a room's messages: `~` sorts after every digit and hex letter.
pub const TIMELINE_END: &str = "timeline#~";

/// The sort key of the first message sent at or after `since`.
pub fn timeline_from(since: u64) -> String {
    format!("{TIMELINE}{since:013}")
}

/// The primary key of a message's item.
pub fn message_key(room: &str, sent_at: u64, event_id: EventId) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("room#{room}"))),
        (
            "sk".to_owned(),
            AttributeValue::S(format!("{}#{event_id}", timeline_from(sent_at))),
        ),
    ])
}

/// The `pk` of a room's head item.
pub fn head_pk(room: &str) -> String {
    format!("history#{room}")
}

/// The head item of `room`: the time of its newest message.
pub fn encode_head(room: &str, newest: u64) -> Item {
    let mut item = key_of(head_pk(room));
    item.insert("newest".into(), n(newest));
    item
}

/// The time of the newest message a head item holds.
pub fn head_newest(item: &Item) -> Option<u64> {
    get_n(item, "newest")
}

/// The condition on which a head with `newest` replaces the stored one: none is stored, or it
/// is older. A failed condition means the stored head is at least as new.
pub fn head_condition(newest: u64) -> Condition {
    Condition {
        expression: "attribute_not_exists(pk) OR #newest < :newest",
        names: HashMap::from([("#newest".to_owned(), "newest".to_owned())]),
        values: HashMap::from([(":newest".to_owned(), n(newest))]),
    }
}

/// How long after it was sent a message may go from the table ([`encode_message`]'s `ttl`):
/// a membership it may owe a catch-up to is at most the tombstone retention late (Kinesis keeps
/// records a day), and the message is recent for at least the history's length.
pub fn message_lifetime_ms(config: &projections::Config) -> u64 {
    config
        .tombstone_retention_ms
        .saturating_add(config.history_ms)
}

/// The item of one message of `room`'s history, with `ttl` = its time plus `lifetime_ms`
/// ([`message_lifetime_ms`]), in seconds.
pub fn encode_message(room: &str, message: &Message, lifetime_ms: u64) -> Item {
    let mut item = message_key(room, message.sent_at, message.event_id);
    item.insert("sentAt".into(), n(message.sent_at));
    item.insert(
        "eventId".into(),
        AttributeValue::S(message.event_id.to_string()),
    );
    item.insert(
        "connectionId".into(),
        AttributeValue::S(message.connection_id.clone()),
    );
    if let Some(from) = &message.from {
        item.insert("from".into(), AttributeValue::S(from.clone()));
    }
    item.insert(
        "message".into(),
        AttributeValue::S(message.message.to_string()),
    );
    item.insert(
        "ttl".into(),
        n(message.sent_at.saturating_add(lifetime_ms) / 1000),
    );
    item
}

/// The history stored as the message items of a room's partition (other items are skipped).
///
/// # Errors
/// A message item missing an attribute, or whose `message` is not JSON.
pub fn decode_history(pk: &str, items: &[Item]) -> Result<History, StoreError> {
    let mut history = History::default();
    for item in items {
        if !get_s(item, "sk").is_some_and(|sk| sk.starts_with(TIMELINE)) {
            continue;
        }
        history.add(&decode_message(pk, item)?);
    }
    Ok(history)
}

fn decode_message(pk: &str, item: &Item) -> Result<Message, StoreError> {
    let missing = |what: &str| corrupt(pk, format!("message item without {what}"));
    let sent_at = get_n(item, "sentAt").ok_or_else(|| missing("a numeric `sentAt`"))?;
    let event_id = get_s(item, "eventId")
        .and_then(|s| u128::from_str_radix(s, 16).ok())
        .map(EventId)
        .ok_or_else(|| missing("a hex `eventId`"))?;
    let connection_id = get_s(item, "connectionId")
        .ok_or_else(|| missing("a `connectionId`"))?
        .to_owned();
    let text = get_s(item, "message").ok_or_else(|| missing("a `message`"))?;
    let message = serde_json::from_str(text)
        .map_err(|e| corrupt(pk, format!("message item whose `message` is not JSON: {e}")))?;
    Ok(Message {
        sent_at,
        event_id,
        connection_id,
        from: get_s(item, "from").map(str::to_owned),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_reads_back_from_its_item() {
        let message = Message {
            sent_at: 1_700_000_000_123,
            event_id: EventId(0xabc),
            connection_id: "w1=".to_owned(),
            from: Some("alice".to_owned()),
            message: serde_json::json!({"text": "hi", "n": 3}),
        };
        let item = encode_message("r 1", &message, 60_000);
        assert_eq!(
            get_s(&item, "sk"),
            Some("timeline#1700000000123#00000000000000000000000000000abc")
        );
        assert_eq!(get_n(&item, "ttl"), Some(1_700_000_060));
        let history = decode_history("room#r 1", &[item]).unwrap();
        assert_eq!(history.messages(), [message]);
    }

    #[test]
    fn a_head_holds_the_newest_time() {
        let head = encode_head("r 1", 42);
        assert_eq!(get_s(&head, "pk"), Some("history#r 1"));
        assert_eq!(head_newest(&head), Some(42));
        assert_eq!(
            head_condition(42).values.get(":newest"),
            Some(&AttributeValue::N("42".into()))
        );
    }

    #[test]
    fn sort_keys_order_by_time_and_stay_between_the_bounds() {
        let early = timeline_from(999);
        let late = timeline_from(1_700_000_000_000);
        assert!(early < late);
        assert!(late.as_str() < TIMELINE_END && TIMELINE < early.as_str());
        assert!("subscriber#zzz" < TIMELINE && "member#zzz" < TIMELINE);
    }
}
