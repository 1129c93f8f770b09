//! What DynamoDB calls cost, counted by the adapter itself: requests, bytes, and read and write
//! units by DynamoDB's own rules from the sizes of the items sent and received, beside the
//! `ConsumedCapacity` AWS reports (an emulator's figure is not a real one; this count is).
//!
//! The rules (on-demand capacity, DynamoDB Developer Guide, "Read and write operations" and
//! "Item sizes"):
//! - a write costs one unit per started KB of the item (a failed condition costs it too); a
//!   put is charged for the larger of the old and the new item, and the old one is not known
//!   here, so a write is counted at the new item's size;
//! - a strongly consistent read costs one unit per started 4 KB of each item, and one for a key
//!   with no item; `BatchGetItem` charges every key as its own read;
//! - an item's size is its attribute names' and values' bytes: strings and binaries by their
//!   bytes, numbers about one byte per two significant digits plus one, booleans and nulls one
//!   byte, lists and maps three bytes plus one per element plus their elements.

use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// A write unit covers this many bytes of an item.
const WRITE_UNIT_BYTES: u64 = 1024;
/// A strongly consistent read unit covers this many bytes of an item.
const READ_UNIT_BYTES: u64 = 4096;

/// What some DynamoDB calls cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Calls made (each retry of unprocessed keys or items counts).
    pub requests: u64,
    /// Read units, counted from the items' sizes.
    pub read_units: u64,
    /// Write units, counted from the items' sizes.
    pub write_units: u64,
    /// Bytes of items read.
    pub bytes_read: u64,
    /// Bytes of items written.
    pub bytes_written: u64,
    /// Units AWS reported as consumed (`ReturnConsumedCapacity: TOTAL`), reads and writes, in
    /// thousandths: AWS reports fractions (half units of eventually consistent reads).
    pub reported_milli_units: u64,
}

impl Cost {
    /// What was spent between `earlier` and this total.
    pub fn since(&self, earlier: &Cost) -> Cost {
        Cost {
            requests: self.requests.saturating_sub(earlier.requests),
            read_units: self.read_units.saturating_sub(earlier.read_units),
            write_units: self.write_units.saturating_sub(earlier.write_units),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
            reported_milli_units: self
                .reported_milli_units
                .saturating_sub(earlier.reported_milli_units),
        }
    }

    /// Adds `other` to this.
    pub fn add(&mut self, other: &Cost) {
        self.requests += other.requests;
        self.read_units += other.read_units;
        self.write_units += other.write_units;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.reported_milli_units += other.reported_milli_units;
    }

    /// The units AWS reported.
    pub fn reported_units(&self) -> f64 {
        self.reported_milli_units as f64 / 1000.0
    }
}

/// A running total of [`Cost`], shared by the calls of one adapter (`&self` methods on many
/// tasks).
#[derive(Debug, Default)]
pub struct CostMeter {
    requests: AtomicU64,
    read_units: AtomicU64,
    write_units: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    reported_milli_units: AtomicU64,
}

impl CostMeter {
    /// The total so far.
    pub fn total(&self) -> Cost {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Cost {
            requests: get(&self.requests),
            read_units: get(&self.read_units),
            write_units: get(&self.write_units),
            bytes_read: get(&self.bytes_read),
            bytes_written: get(&self.bytes_written),
            reported_milli_units: get(&self.reported_milli_units),
        }
    }

    /// One call made.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A strongly consistent read of one key that found an item of `size` bytes, or none.
    pub fn read(&self, size: Option<u64>) {
        let size = size.unwrap_or(0);
        self.read_units
            .fetch_add(size.div_ceil(READ_UNIT_BYTES).max(1), Ordering::Relaxed);
        self.bytes_read.fetch_add(size, Ordering::Relaxed);
    }

    /// A write of an item of `size` bytes, whether its condition held or not.
    pub fn write(&self, size: u64) {
        self.write_units
            .fetch_add(size.div_ceil(WRITE_UNIT_BYTES).max(1), Ordering::Relaxed);
        self.bytes_written.fetch_add(size, Ordering::Relaxed);
    }

    /// The capacity AWS reported for one call.
    pub fn reported<'a>(&self, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let units: f64 = consumed.into_iter().filter_map(|c| c.capacity_units).sum();
        self.reported_milli_units
            .fetch_add((units * 1000.0).round() as u64, Ordering::Relaxed);
    }
}

/// An item's size as DynamoDB counts it.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> u64 {
    item.iter()
        .map(|(name, value)| name.len() as u64 + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> u64 {
    match value {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(v) => v.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|e| 1 + value_size(e)).sum::<u64>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, e)| 1 + k.len() as u64 + value_size(e))
                .sum::<u64>()
        }
        // A type newer than this SDK's: count it at least as a byte.
        _ => 1,
    }
}

/// About one byte per two significant digits, plus one.
fn number_size(n: &str) -> u64 {
    let digits: &str = n.trim_start_matches(['-', '+']);
    let digits = digits.split(['e', 'E']).next().unwrap_or(digits);
    let significant: String = digits.chars().filter(char::is_ascii_digit).collect();
    // DynamoDB keeps a number as its significant digits and an exponent: zeros at either end
    // take no room, whether before the decimal point or after it.
    let significant = significant.trim_start_matches('0').trim_end_matches('0');
    (significant.len() as u64).div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;

    fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn sizes_count_names_and_values_as_dynamodb_does() {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: &str| AttributeValue::N(v.to_owned());
        // "pk" + "client#alice" (2 + 12), "rev" + 7 (3 + 2), "state" + 100 bytes (5 + 100).
        let it = item(&[
            ("pk", s("client#alice")),
            ("rev", n("7")),
            ("state", AttributeValue::B(Blob::new(vec![0u8; 100]))),
        ]);
        assert_eq!(item_size(&it), 14 + 5 + 105);
        // 173235 and an exponent.
        assert_eq!(number_size("1732350000000"), 3 + 1);
        assert_eq!(number_size("-0.0500"), 2);
        assert_eq!(value_size(&AttributeValue::Bool(true)), 1);
        assert_eq!(
            value_size(&AttributeValue::Ss(vec!["ab".into(), "c".into()])),
            3
        );
        assert_eq!(
            value_size(&AttributeValue::L(vec![s("ab"), n("1")])),
            3 + 3 + 3
        );
    }

    #[test]
    fn units_start_per_kb_written_and_per_4_kb_read_and_a_missing_item_costs_a_read() {
        let meter = CostMeter::default();
        meter.write(1);
        meter.write(1024);
        meter.write(1025);
        meter.read(Some(4096));
        meter.read(Some(4097));
        meter.read(None);
        meter.request();
        let total = meter.total();
        assert_eq!(
            (total.write_units, total.read_units),
            (1 + 1 + 2, 1 + 2 + 1)
        );
        assert_eq!((total.bytes_written, total.bytes_read), (2050, 8193));
        let later = CostMeter::default();
        later.request();
        later.request();
        assert_eq!(later.total().since(&total).requests, 1);
    }
}
