//! What is remembered of an event's deliveries, so that a retried batch sends nothing twice: a
//! record whose size does not grow with the event's fan-out.
//!
//! An event's delivery ids are cut into [`BUCKETS`] buckets by a hash of the id. Once every
//! delivery of a bucket is done (sent, found gone, or quarantined), the bucket is recorded with
//! a digest of its ids. A retried batch decides the event's deliveries again and skips a bucket
//! whose ids have the recorded digest: those were all done. A bucket with a delivery that was
//! not done, or whose ids changed since (the state a retry folds over already holds the whole
//! batch: a member who joined later in it may be a recipient now), is sent again whole: at least
//! once, never lost. An event of a few deliveries has them in buckets of their own, so it is
//! remembered exactly; one to a room of 1,000 members takes at most 64 buckets, 9 bytes each.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Buckets an event's deliveries are cut into.
pub const BUCKETS: u64 = 64;

/// FNV-1a of `id`, from `seed`: stable across releases and processes.
fn hash(seed: u64, id: &str) -> u64 {
    id.bytes().fold(seed, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The bucket of a delivery id.
fn bucket(id: &str) -> u8 {
    // BUCKETS fits a byte.
    (hash(0xcbf2_9ce4_8422_2325, id) % BUCKETS) as u8
}

/// The digest of a bucket's ids: any order, each id once.
fn digest<'a>(ids: impl IntoIterator<Item = &'a str>) -> u64 {
    ids.into_iter()
        .map(|id| hash(0x8422_2325_cbf2_9ce4, id).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .fold(0, u64::wrapping_add)
}

/// What is remembered of one event's deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// Buckets whose every delivery was done, with the digest of their ids.
    done: BTreeMap<u8, u64>,
    /// Delivery ids an earlier release recorded one by one: done, exactly.
    ids: HashSet<String>,
}

impl Sent {
    /// Nothing done yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// What an earlier release recorded: the ids done, one by one.
    pub fn from_ids(ids: impl IntoIterator<Item = String>) -> Self {
        Sent {
            done: BTreeMap::new(),
            ids: ids.into_iter().collect(),
        }
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.done.is_empty() && self.ids.is_empty()
    }

    /// Of `ids`, an event's deliveries as decided now (each once), those already done.
    pub fn already_done<'a>(&self, ids: &[&'a str]) -> HashSet<&'a str> {
        let mut out: HashSet<&'a str> = ids
            .iter()
            .copied()
            .filter(|id| self.ids.contains(*id))
            .collect();
        for (b, members) in by_bucket(ids) {
            if self.done.get(&b) == Some(&digest(members.iter().copied())) {
                out.extend(members);
            }
        }
        out
    }

    /// Records that of `ids`, the event's deliveries as decided now (each once), those in `done`
    /// are done: each bucket all of whose deliveries are.
    pub fn record(&mut self, ids: &[&str], done: &HashSet<&str>) {
        for (b, members) in by_bucket(ids) {
            if members.iter().all(|id| done.contains(id)) {
                self.done.insert(b, digest(members.iter().copied()));
            }
        }
    }

    /// The buckets done, 9 bytes each (the bucket, then the digest, big-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 * self.done.len());
        for (b, d) in &self.done {
            out.push(*b);
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    /// The buckets of [`Sent::to_bytes`], joined into this record; `None` for bytes that are not
    /// such a record.
    pub fn with_bytes(mut self, bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(9) {
            return None;
        }
        for chunk in bytes.chunks_exact(9) {
            let (b, d) = chunk.split_first()?;
            let d = u64::from_be_bytes(d.try_into().ok()?);
            self.done.insert(*b, d);
        }
        Some(self)
    }

    /// The ids an earlier release recorded (kept, so a retry across an upgrade sends nothing
    /// twice either).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.iter().map(String::as_str)
    }
}

/// `ids` by bucket.
fn by_bucket<'a>(ids: &[&'a str]) -> HashMap<u8, Vec<&'a str>> {
    let mut out: HashMap<u8, Vec<&'a str>> = HashMap::new();
    for id in ids {
        out.entry(bucket(id)).or_default().push(id);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("evt-1:ws:conn-{i}")).collect()
    }

    #[test]
    fn an_event_done_whole_is_skipped_whole_and_stays_small() {
        let all = ids(1_000);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut sent = Sent::new();
        sent.record(&refs, &refs.iter().copied().collect());
        assert_eq!(sent.already_done(&refs).len(), 1_000);
        let bytes = sent.to_bytes();
        assert!(bytes.len() <= 9 * BUCKETS as usize, "{} bytes", bytes.len());
        assert_eq!(Sent::new().with_bytes(&bytes), Some(sent));
    }

    #[test]
    fn a_failed_delivery_is_sent_again_with_its_bucket_and_never_lost() {
        let all = ids(1_000);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let failed = refs[17];
        let done: HashSet<&str> = refs.iter().copied().filter(|id| *id != failed).collect();
        let mut sent = Sent::new();
        sent.record(&refs, &done);
        let skipped = sent.already_done(&refs);
        assert!(!skipped.contains(failed));
        // Only the failed delivery's bucket goes again: about one in 64.
        assert!(skipped.len() >= 1_000 - 40, "{} skipped", skipped.len());
    }

    #[test]
    fn a_bucket_whose_deliveries_changed_is_sent_again() {
        let all = ids(200);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut sent = Sent::new();
        sent.record(&refs[..100], &refs[..100].iter().copied().collect());
        assert_eq!(sent.already_done(&refs[..100]).len(), 100);
        // Decided again with 100 more, no new delivery is ever taken for done, and the buckets
        // the new ones fall in go again whole.
        let now = sent.already_done(&refs);
        assert!(refs[100..].iter().all(|id| !now.contains(id)));
        assert!(now.len() < 100);
    }

    #[test]
    fn a_few_deliveries_are_remembered_exactly_and_ids_of_old_records_too() {
        let (a, b) = ("evt-2:push:alice", "evt-2:push:bob");
        assert_ne!(bucket(a), bucket(b), "two ids, two buckets");
        let mut sent = Sent::from_ids(["evt-2:push:carol".to_owned()]);
        sent.record(&[a, b], &[a].into_iter().collect());
        let done = sent.already_done(&[a, b, "evt-2:push:carol"]);
        assert_eq!(done, [a, "evt-2:push:carol"].into_iter().collect());
        assert_eq!(Sent::new().with_bytes(&[1, 2, 3]), None);
    }
}
