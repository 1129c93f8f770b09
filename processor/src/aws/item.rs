//! How entries become DynamoDB items, and back.
//!
//! One table, `pk` and `sk` strings. Every projection entry is **one item**, `pk` = its key
//! (`client#{id}`, `conn#{id}`, `room#{id}`, `device#{id}`, `lobby`, `watermark`), `sk` =
//! `state`, with the entry as compact MessagePack in `state` (binary) and its revision in `rev`.
//!
//! Rooms are one item, not `member#{clientId}` items (DESIGN.md suggests the latter): a room's
//! members are one last-writer-wins map merged as a whole, so one item keeps "one conditional
//! write per touched key per batch" and needs no query to load a room. The cost is DynamoDB's
//! 400 KB item limit, a few thousand members per room; the same holds for `device#` watchers and
//! for `lobby` (every live connection), which is the first to outgrow it at scale.
//!
//! Readers get plain attributes next to the encoded state: on `client#` items `connected`,
//! `online`, `sessionId`, `topics`, `versionNumber`, `since`, `updatedAt` (as of the batch that
//! wrote the item; `online` can go stale as connections age past 2 hours with no event). `conn#`
//! items carry `ttl` = `connectedAt` + 2 hours in seconds (API Gateway's maximum connection
//! duration). Other items of the table: `dedup#{eventId}` (`sent`: the delivery ids sent, `ttl`)
//! and `checkpoint#{stream}#{shardId}` (`consume`'s position: `seq`, `done`).

use crate::aws::store_port::{StoreError, Write};
use aws_sdk_dynamodb::types::AttributeValue;
use projections::{Entry, Key, Revision};
use std::collections::HashMap;

/// The sort key of every single-item entry.
pub const SK: &str = "state";
/// An item.
pub type Item = HashMap<String, AttributeValue>;

/// The primary key of `pk`.
pub fn key_of(pk: String) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk)),
        ("sk".to_owned(), AttributeValue::S(SK.to_owned())),
    ])
}

/// A number attribute.
pub fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Reads a number attribute.
pub fn get_n(item: &Item, name: &str) -> Option<u64> {
    match item.get(name) {
        Some(AttributeValue::N(s)) => s.parse().ok(),
        _ => None,
    }
}

/// Reads a string attribute.
pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Some(s),
        _ => None,
    }
}

fn corrupt(pk: &str, why: impl std::fmt::Display) -> StoreError {
    StoreError {
        retryable: false,
        op: "decode",
        message: format!("item {pk}: {why}"),
    }
}

/// The entry and revision stored in `item`.
///
/// # Errors
/// A missing or undecodable `state` (written by an incompatible build, or by hand).
pub fn decode(pk: &str, item: &Item) -> Result<(Entry, Revision), StoreError> {
    let rev = get_n(item, "rev").unwrap_or(0);
    let Some(AttributeValue::B(bytes)) = item.get("state") else {
        return Err(corrupt(pk, "no binary `state` attribute"));
    };
    let entry = rmp_serde::from_slice(bytes.as_ref()).map_err(|e| corrupt(pk, e))?;
    Ok((entry, rev))
}

/// The item `write` puts, at revision `rev`.
///
/// # Errors
/// The entry does not encode (cannot happen for the fold's types; reported, not unwrapped).
pub fn encode(write: &Write, rev: Revision) -> Result<Item, StoreError> {
    let pk = write.key.to_string();
    let mut bytes = Vec::new();
    rmp_serde::encode::write(&mut bytes, &write.entry).map_err(|e| corrupt(&pk, e))?;
    let mut item = key_of(pk);
    item.insert("state".into(), AttributeValue::B(bytes.into()));
    item.insert("rev".into(), n(rev));
    match (&write.key, &write.entry) {
        (Key::Watermark, Entry::Watermark(t)) => {
            item.insert("wm".into(), n(*t));
        }
        (Key::Connection(_), Entry::Connection(c)) => {
            if let Some(at) = c.summary.connected_at.0 {
                item.insert("ttl".into(), n(at / 1000 + 2 * 3600));
            }
        }
        _ => {}
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
    }
    Ok(item)
}
