//! Attributes of items: the single-item entry's key and encoded `state`, numbers and strings.

use crate::store_port::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use projections::{Entry, Revision};
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

/// A store error for an item that does not decode.
pub(super) fn corrupt(pk: &str, why: impl std::fmt::Display) -> StoreError {
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
