//! The explain chart's time axis and row labels: the range it spans, round ticks and their
//! labels, and ids cut to what tells them apart.

use crate::Step;
use schemas::time::Rfc3339;

/// The most characters of an id a row's label shows (the whole id is in its tooltip).
pub const ID_CHARS: usize = 24;

/// Each id as a row label shows it: whole when short, otherwise its first characters, or, when
/// ids share a long beginning, where it parts from the others (`2c5a…-0002-a1f3…`).
pub fn distinct(ids: &[&str]) -> Vec<String> {
    ids.iter()
        .map(|id| {
            let chars: Vec<char> = id.chars().collect();
            if chars.len() <= ID_CHARS {
                return (*id).to_owned();
            }
            // Where this id first differs from the one most like it.
            let parts_at = ids
                .iter()
                .filter(|other| *other != id)
                .map(|other| {
                    id.chars()
                        .zip(other.chars())
                        .take_while(|(a, b)| a == b)
                        .count()
                })
                .max()
                .unwrap_or(0);
            if parts_at < ID_CHARS - 1 {
                let head: String = chars[..ID_CHARS - 1].iter().collect();
                return format!("{head}…");
            }
            let head: String = chars[..4].iter().collect();
            let from = parts_at - 4;
            let to = (from + ID_CHARS - 7).min(chars.len());
            let middle: String = chars[from..to].iter().collect();
            let tail = if to < chars.len() { "…" } else { "" };
            format!("{head}…{middle}{tail}")
        })
        .collect()
}

/// Round tick spacings, in ms: the first that puts at most [`MAX_TICKS`] ticks on the axis wins.
const SPACINGS: [u64; 29] = [
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    1_000,
    2_000,
    5_000,
    10_000,
    15_000,
    30_000,
    60_000,
    120_000,
    300_000,
    600_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    DAY,
    2 * DAY,
    7 * DAY,
];
/// The most ticks on the axis.
const MAX_TICKS: u64 = 8;
/// A day, in ms.
pub const DAY: u64 = 86_400_000;

/// The axis's ticks between `t0` and `t1`, on multiples of a round spacing; and the spacing.
pub fn ticks(t0: u64, t1: u64) -> (Vec<u64>, u64) {
    let span = t1.saturating_sub(t0).max(1);
    let spacing = SPACINGS
        .iter()
        .copied()
        .find(|s| span / s < MAX_TICKS)
        .unwrap_or_else(|| span.div_ceil(MAX_TICKS).div_ceil(DAY) * DAY);
    let first = t0.div_ceil(spacing) * spacing;
    let ticks = (0..)
        .map(|i| first + i * spacing)
        .take_while(|t| *t <= t1)
        .collect();
    (ticks, spacing)
}

/// A tick's label: as precise as the spacing needs, with the date when the axis spans days.
pub fn tick_label(t: u64, spacing: u64, days: bool) -> String {
    let full = Rfc3339(t).to_string();
    let part = |from: usize, to: usize| full.get(from..to).unwrap_or(&full).to_owned();
    if spacing >= DAY {
        return part(0, 10);
    }
    let time = match spacing {
        s if s >= 60_000 => part(11, 16),
        s if s >= 1_000 => part(11, 19),
        _ => part(11, 23),
    };
    if days {
        format!("{} {time}", part(5, 10))
    } else {
        time
    }
}

/// The chart's time range: the first step to `until` when that is later than the last step,
/// otherwise a tenth of the span (at least a second) past it.
pub fn range(steps: &[Step], until: Option<u64>) -> (u64, u64) {
    let t0 = steps.iter().map(|s| s.event_time).min().unwrap_or(0);
    let last = steps.iter().map(|s| s.event_time).max().unwrap_or(0);
    let margin = ((last - t0) / 10).max(1_000);
    let t1 = until.filter(|u| *u > last).unwrap_or(last + margin);
    (t0, t1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_round_times_within_the_axis() {
        // 17:30:59.588 to 17:31:00.485: every 200 ms, labelled to the millisecond.
        let t0 = 1_796_923_859_588;
        let (at, spacing) = ticks(t0, t0 + 897);
        assert_eq!(spacing, 200);
        assert!(at
            .iter()
            .all(|t| t % 200 == 0 && *t >= t0 && *t <= t0 + 897));
        assert_eq!(tick_label(at[0], spacing, false), "17:30:59.600");
        // Ten minutes: every two minutes, as hours and minutes.
        let (at, spacing) = ticks(t0, t0 + 600_000);
        assert_eq!(spacing, 120_000);
        assert_eq!(tick_label(at[0], spacing, false), "17:32");
        // A week: a tick a day, as dates; across midnight, times carry the date.
        let (at, spacing) = ticks(t0, t0 + 7 * DAY);
        assert_eq!(spacing, DAY);
        assert_eq!(tick_label(at[0], spacing, true), "2026-12-11");
        assert_eq!(tick_label(t0, 3_600_000, true), "12-10 17:30");
        assert!(at.len() as u64 <= MAX_TICKS);
    }

    #[test]
    fn labels_keep_the_part_of_an_id_that_tells_it_apart() {
        let long_a = "session-of-the-thermostat-in-the-hall-0001";
        let long_b = "session-of-the-thermostat-in-the-hall-0002";
        let uuid = "2c5a55f2-d6ae-4c93-9e3f-1d2b3c4d5e6f";
        let shown = distinct(&[long_a, long_b, uuid, "short"]);
        assert_eq!(shown[3], "short");
        assert_eq!(shown[2], "2c5a55f2-d6ae-4c93-9e3f…");
        assert!(
            shown[0].contains("0001") && shown[1].contains("0002"),
            "{shown:?}"
        );
        assert!(shown[0].starts_with("sess…"), "{shown:?}");
        for label in &shown {
            assert!(label.chars().count() <= ID_CHARS, "{label}");
        }
    }
}
