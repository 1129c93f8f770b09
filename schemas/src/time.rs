//! Event times as people read and write them: RFC 3339 or epoch milliseconds in (replay's
//! `--since` and `--until`), RFC 3339 (UTC, milliseconds) out (reports, the explain page, the
//! `@connections` API of `processor dev`).
//!
//! Written here rather than pulled from a date crate: one input grammar and one output form, both
//! in UTC, and the civil-calendar arithmetic is a few lines.

use std::fmt;

/// A time argument that is neither epoch milliseconds nor RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?}: {reason} (expected RFC 3339 such as 2024-11-23T08:20:00Z, or epoch milliseconds such as 1732350000000)")]
pub struct TimeError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses `2024-11-23T08:20:00Z`, `2024-11-23T08:20:00.250+01:00` or `1732350000000` (epoch ms).
///
/// # Errors
/// A [`TimeError`] saying what a time looks like.
pub fn parse_time(input: &str) -> Result<u64, TimeError> {
    let s = input.trim();
    let err = |reason| TimeError {
        input: input.to_owned(),
        reason,
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| err("epoch milliseconds out of range"));
    }
    let b = s.as_bytes();
    if b.len() < 20 {
        return Err(err("too short for RFC 3339"));
    }
    let num = |range: std::ops::Range<usize>| -> Result<i64, TimeError> {
        let part = s.get(range).ok_or_else(|| err("not RFC 3339"))?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err("not RFC 3339"));
        }
        part.parse().map_err(|_| err("not RFC 3339"))
    };
    let separators_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !separators_ok {
        return Err(err("not RFC 3339"));
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return Err(err("no such date"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(err("no such time of day"));
    }
    // Optional fraction: milliseconds are kept, finer digits are dropped.
    let mut i = 19;
    let mut millis = 0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(err("a fraction needs digits"));
        }
        let digits = &s[start..i.min(start + 3)];
        millis = digits.parse::<i64>().map_err(|_| err("not RFC 3339"))?
            * 10_i64.pow(3 - digits.len() as u32);
    }
    let offset_minutes = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (h * 60 + m)
        }
        _ => return Err(err("the time zone must be Z or +HH:MM")),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    let ms = secs * 1_000 + millis;
    u64::try_from(ms).map_err(|_| err("before 1970"))
}

/// Epoch milliseconds, shown as RFC 3339 in UTC with milliseconds: `2024-11-23T08:20:00.000Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0 % 1_000;
        let secs = self.0 / 1_000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
            rem / 3_600,
            rem % 3_600 / 60,
            rem % 60
        )
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_epoch_millis() {
        assert_eq!(parse_time("1732350000000"), Ok(1_732_350_000_000));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_time("2024-11-23T08:20:00Z"), Ok(1_732_350_000_000));
        assert_eq!(parse_time("2024-11-23T08:20:00.25Z"), Ok(1_732_350_000_250));
        assert_eq!(
            parse_time("2024-11-23T09:20:00.123456+01:00"),
            Ok(1_732_350_000_123)
        );
        assert_eq!(parse_time("2024-02-29T00:00:00Z"), Ok(1_709_164_800_000));
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "yesterday",
            "2023-02-29T00:00:00Z",
            "2024-11-23T08:20:00",
            "2024-11-23T25:00:00Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(
            Rfc3339(1_732_350_000_250).to_string(),
            "2024-11-23T08:20:00.250Z"
        );
        // As API Gateway writes `connectedAt`.
        assert_eq!(Rfc3339(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Rfc3339(951_782_400_000).to_string(),
            "2000-02-29T00:00:00.000Z"
        );
        for ms in [0, 951_782_400_000, 1_709_164_800_999, 4_102_444_800_000] {
            assert_eq!(parse_time(&Rfc3339(ms).to_string()), Ok(ms));
        }
    }
}
