//! How entries become DynamoDB items, and back.
//!
//! One table, `pk` and `sk` strings. Most projection entries are **one item**, `pk` = its key
//! (`client#{id}`, `conn#{id}`), `sk` = `state`, with the entry as compact MessagePack in
//! `state` (binary) and its revision in `rev`. No item holds the fold's now, which every batch
//! would write: a batch takes it from its records and the entries it loads
//! (`World::clock_from_entries`); the processor never reads the `watermark` item an earlier release wrote.
//!
//! A room is a **partition of items**, one or two per member: `pk` = `room#{id}`, `sk` =
//! `member#{clientId}` as WebSocket `join`s write it and `subscriber#{clientId}` as MQTT
//! subscriptions to the room's topic write it, each with the member's last-writer-wins register as
//! plain attributes: `ts` (the write's event time, ms) and `membership` (`joined` or `left`).
//! Any shard may write a `member#` item, so it is put on condition that the stored register is
//! older ([`member_condition`]); only the shard of the client's lifecycle events writes a
//! `subscriber#` item, so it goes without one. Writers never conflict over a room and no item
//! grows with it; a room is loaded with a `Query` of its partition, each member the join of its
//! items. A member that left carries a `ttl` ([`left_member_lifetime_ms`] after it), by when no
//! record can come that it would have to overrule. A room written whole by an earlier release (`sk` = `state`) sits in the same
//! partition and is read as one more part of it ([`decode_room`]).
//!
//! The lobby (every connection, for broadcasts) is [`LOBBY_PARTITIONS`] partitions of items, one
//! per connection: `pk` = `lobby#{n}` ([`lobby_partition`]), `sk` = `conn#{connectionId}`, with
//! the connection's summary as plain attributes ([`encode_in_lobby`]). Only the connection's own
//! shard writes its item, so it goes without a condition, 25 to a call; a broadcast reads every
//! partition with `Query`. A whole lobby an earlier release wrote (`pk` = `lobby`) is read along.
//!
//! A room's partition also holds its message history, one item per message after the members
//! (`sk` = `timeline#{sentAt}#{eventId}`), and an item `history#{chatId}` the time of its newest
//! message (`timeline`).
//!
//! A device is a partition too, of one item per watching connection: `pk` = `device#{id}`, `sk` =
//! `watcher#{connectionId}`, with `listedAt` (when the connection last listed the device) and a
//! `ttl`. Only the connection's own shard writes its item, so it goes without a condition.
//!
//! Readers get plain attributes next to the encoded state: on `client#` items `connected`,
//! `online`, `sessionId`, `topics`, `versionNumber`, `since`, `updatedAt` (as of the batch that
//! wrote the item; `online` can go stale as connections age past 2 hours with no event). `conn#`
//! items carry `ttl` = `connectedAt` + 2 hours in seconds (API Gateway's maximum connection
//! duration). Other items of the table: `dedup#{eventId}` (`done`: digests of the delivery buckets
//! sent, `ttl`)
//! and `checkpoint#{stream}#{shardId}` (`consume`'s position: `seq`, `done`).

mod attrs;
mod parts;
mod timeline;

pub use attrs::{decode, get_n, get_s, key_of, n, Item, SK};
pub use parts::{
    decode_device, decode_lobby, decode_member, decode_room, encode_in_lobby, encode_member,
    encode_watcher, left_member_lifetime_ms, lobby_partition, member_condition, member_of,
    part_key, Condition, IN_LOBBY, LOBBY_PARTITIONS, MEMBER, SUBSCRIBER, WATCHER,
};
pub use timeline::{
    decode_history, encode_head, encode_message, head_condition, head_newest, head_pk, message_key,
    message_lifetime_ms, timeline_from, TIMELINE, TIMELINE_END,
};

use crate::store_port::{StoreError, Write};
use attrs::corrupt;
use aws_sdk_dynamodb::types::AttributeValue;
use projections::{Entry, Key, Revision};

/// The primary key of the item of `key`.
pub fn primary_key(key: &Key) -> Item {
    part_key(key).unwrap_or_else(|| key_of(key.to_string()))
}

/// The item `write` puts, at revision `rev` (a room member's and a message's with the default
/// settings' [`left_member_lifetime_ms`] and [`message_lifetime_ms`]; the store uses its own).
///
/// # Errors
/// The entry does not encode (cannot happen for the fold's types; reported, not unwrapped).
pub fn encode(write: &Write, rev: Revision) -> Result<Item, StoreError> {
    match (&write.key, &write.entry) {
        (_, Entry::Member(m)) => {
            let lifetime = left_member_lifetime_ms(&projections::Config::default());
            return Ok(encode_member(&write.key, m, lifetime));
        }
        (Key::InLobby(id), Entry::Summary(summary)) => return Ok(encode_in_lobby(id, summary)),
        (Key::Watcher { device, connection }, Entry::ListedAt(at)) => {
            return Ok(encode_watcher(device, connection, *at))
        }
        (Key::Message { room, .. }, Entry::Message(m)) => {
            let lifetime = message_lifetime_ms(&projections::Config::default());
            return Ok(encode_message(room, m, lifetime));
        }
        _ => {}
    }
    let pk = write.key.to_string();
    let mut bytes = Vec::new();
    rmp_serde::encode::write(&mut bytes, &write.entry).map_err(|e| corrupt(&pk, e))?;
    let mut item = key_of(pk);
    item.insert("state".into(), AttributeValue::B(bytes.into()));
    item.insert("rev".into(), n(rev));
    if let (Key::Connection(_), Entry::Connection(c)) = (&write.key, &write.entry) {
        if let Some(at) = c.summary.connected_at.0 {
            item.insert("ttl".into(), n(at / 1000 + 2 * 3600));
        }
    }
    if let Some(v) = &write.view {
        item.insert("connected".into(), AttributeValue::Bool(v.connected));
        item.insert("online".into(), AttributeValue::Bool(v.online));
        if let Some(s) = &v.session_id {
            item.insert("sessionId".into(), AttributeValue::S(s.clone()));
        }
        let topics = v.topics.iter().cloned().map(AttributeValue::S).collect();
        item.insert("topics".into(), AttributeValue::L(topics));
        if let Some(version) = v.version_number {
            item.insert("versionNumber".into(), n(version));
        }
        if let Some(since) = v.since {
            item.insert("since".into(), n(since));
        }
        item.insert("updatedAt".into(), n(v.updated_at));
        if let Some(seen) = v.last_seen {
            item.insert("lastSeen".into(), n(seen));
        }
    }
    Ok(item)
}
