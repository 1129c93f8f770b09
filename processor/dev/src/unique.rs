//! Bits that differ per id and per run, for the ids the local gateway and broker make up as AWS
//! would (connection ids, session identifiers). They need only be unique, not secret.

/// 128 bits from the wall clock, the process id and `n` (a per-kind counter), mixed so that
/// neighbouring counters give unrelated ids.
pub(crate) fn unique_bits(n: u64) -> u128 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    #[allow(clippy::cast_possible_truncation)]
    let lo = splitmix64(nanos as u64 ^ n.rotate_left(32));
    let hi = splitmix64(lo ^ n ^ u64::from(std::process::id()));
    (u128::from(hi) << 64) | u128::from(lo)
}

/// splitmix64's finalizer: a cheap avalanche of one word.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
