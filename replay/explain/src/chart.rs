//! The timeline chart of `explain --html`, as inline SVG: the client's online intervals, a bar
//! per IoT session (`sessionIdentifier`, from connect to disconnect, labelled with its version),
//! a bar per WebSocket connection, and delivery markers by channel.
//!
//! The x axis is event time, from the first step to the end of the window asked about (or a margin
//! past the last step), so that what followed the last event, an offline period say, shows; its
//! ticks fall on round times. Bars and intervals are drawn from the steps in arrival order, as the
//! fold saw them. Labels keep the part of an id that tells it from the others on the chart.
//! Hovering a bar or a marker shows its details (SVG `<title>`, no script).

use crate::html::esc;
use crate::{Mark, Step};
use schemas::time::Rfc3339;
use std::fmt::Write;

const WIDTH: f64 = 1100.0;
const LABEL: f64 = 210.0;
/// Room right of the plot for the last tick's label.
const RIGHT: f64 = 50.0;
/// The most characters of an id a row's label shows (the whole id is in its tooltip).
const ID_CHARS: usize = 24;
/// WebSocket connections' bars.
pub const CONNECTION_COLOUR: &str = "#8c6d31";
const ROW: f64 = 28.0;
const TOP: f64 = 34.0;
/// IoT sessions' bars, a colour each in turn.
pub const PALETTE: [&str; 6] = [
    "#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2",
];

/// A bar on a row: label, start, end (None: still open at the end), tooltip, colour.
struct Bar {
    key: String,
    label: String,
    version: Option<u64>,
    start: u64,
    end: Option<u64>,
    title: String,
    colour: &'static str,
}

fn bars(steps: &[Step]) -> (Vec<Bar>, Vec<Bar>) {
    let mut sessions: Vec<Bar> = Vec::new();
    let mut conns: Vec<Bar> = Vec::new();
    let find = |bars: &mut Vec<Bar>, key: &str, at: u64, colour: &'static str| -> usize {
        match bars.iter().position(|b| b.key == key) {
            Some(i) => i,
            None => {
                bars.push(Bar {
                    key: key.to_owned(),
                    label: key.to_owned(),
                    version: None,
                    start: at,
                    end: None,
                    title: String::new(),
                    colour,
                });
                bars.len() - 1
            }
        }
    };
    for s in steps {
        let t = s.event_time;
        match &s.mark {
            Some(Mark::SessionStart { session, version }) => {
                let colour = PALETTE[sessions.len() % PALETTE.len()];
                let i = find(&mut sessions, session, t, colour);
                let b = &mut sessions[i];
                b.start = b.start.min(t);
                b.version = b.version.or(*version);
                let _ = writeln!(b.title, "connected {} (version {:?})", Rfc3339(t), version);
            }
            Some(Mark::SessionEnd {
                session,
                version,
                reason,
            }) => {
                let colour = PALETTE[sessions.len() % PALETTE.len()];
                let i = find(&mut sessions, session, t, colour);
                let b = &mut sessions[i];
                b.end = Some(b.end.map_or(t, |e| e.max(t)));
                b.version = b.version.or(*version);
                let _ = writeln!(
                    b.title,
                    "disconnected {} ({})",
                    Rfc3339(t),
                    reason.as_deref().unwrap_or("no reason")
                );
            }
            Some(Mark::ConnectionStart { connection }) => {
                let i = find(&mut conns, connection, t, CONNECTION_COLOUR);
                conns[i].start = conns[i].start.min(t);
                let _ = writeln!(conns[i].title, "connected {}", Rfc3339(t));
            }
            Some(Mark::ConnectionEnd { connection }) => {
                let i = find(&mut conns, connection, t, CONNECTION_COLOUR);
                conns[i].end = Some(conns[i].end.map_or(t, |e| e.max(t)));
                let _ = writeln!(conns[i].title, "closed {}", Rfc3339(t));
            }
            None => {}
        }
    }
    let keys: Vec<&str> = sessions.iter().map(|b| b.key.as_str()).collect();
    let shown = distinct(&keys);
    for (b, id) in sessions.iter_mut().zip(shown) {
        b.label = format!(
            "v{} · {id}",
            b.version.map_or("?".into(), |v| v.to_string())
        );
    }
    let keys: Vec<&str> = conns.iter().map(|b| b.key.as_str()).collect();
    let shown = distinct(&keys);
    for (c, id) in conns.iter_mut().zip(shown) {
        c.label = format!("ws · {id}");
    }
    (sessions, conns)
}

/// Intervals during which the state after each step said `online`.
fn online_intervals(steps: &[Step]) -> Vec<(u64, Option<u64>)> {
    let mut out = Vec::new();
    let mut since: Option<u64> = None;
    for s in steps {
        let online = s.state.as_ref().is_some_and(|c| c.online);
        match (online, since) {
            (true, None) => since = Some(s.event_time),
            (false, Some(start)) => {
                out.push((start, Some(s.event_time.max(start))));
                since = None;
            }
            _ => {}
        }
    }
    if let Some(start) = since {
        out.push((start, None));
    }
    out
}

/// Each id as a row label shows it: whole when short, otherwise its first characters, or, when
/// ids share a long beginning, where it parts from the others (`2c5a…-0002-a1f3…`).
fn distinct(ids: &[&str]) -> Vec<String> {
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
const MAX_TICKS: u64 = 8;
const DAY: u64 = 86_400_000;

/// The axis's ticks between `t0` and `t1`, on multiples of a round spacing; and the spacing.
fn ticks(t0: u64, t1: u64) -> (Vec<u64>, u64) {
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
fn tick_label(t: u64, spacing: u64, days: bool) -> String {
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
fn range(steps: &[Step], until: Option<u64>) -> (u64, u64) {
    let t0 = steps.iter().map(|s| s.event_time).min().unwrap_or(0);
    let last = steps.iter().map(|s| s.event_time).max().unwrap_or(0);
    let margin = ((last - t0) / 10).max(1_000);
    let t1 = until.filter(|u| *u > last).unwrap_or(last + margin);
    (t0, t1)
}

/// Appends the chart to `html`, its axis running to `until` if that is later than the last
/// step.
pub fn chart(html: &mut String, steps: &[Step], until: Option<u64>) {
    let (sessions, conns) = bars(steps);
    let (t0, t1) = range(steps, until);
    let span = (t1 - t0) as f64;
    let plot = WIDTH - LABEL - RIGHT;
    let x = |t: u64| LABEL + (t.saturating_sub(t0) as f64 / span) * plot;
    let rows = 2 + sessions.len() + conns.len();
    let height = TOP + rows as f64 * ROW + 30.0;
    let _ = write!(
        html,
        "<h2>Timeline</h2>\n<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"timeline of sessions, online intervals and deliveries\">\n"
    );
    let (ticks, spacing) = ticks(t0, t1);
    let days = t0 / DAY != t1 / DAY;
    for t in ticks {
        let xt = x(t);
        let _ = writeln!(
            html,
            "<line class=\"grid\" x1=\"{xt:.1}\" y1=\"{}\" x2=\"{xt:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP - 6.0,
            height - 24.0,
            height - 8.0,
            esc(&tick_label(t, spacing, days))
        );
    }
    let mut row = 0usize;
    // A row's band and label; hovering the label shows `tip` (a bar's whole id).
    let label_row = |html: &mut String, text: &str, tip: &str, row: usize| {
        let y = TOP + row as f64 * ROW;
        let _ = writeln!(
            html,
            "<rect class=\"band{}\" x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{ROW}\"/>\
             <text class=\"label\" x=\"8\" y=\"{:.1}\">{}<title>{}</title></text>",
            row % 2,
            y + ROW * 0.65,
            esc(text),
            esc(tip)
        );
        y
    };
    // Online intervals.
    let y = label_row(html, "online", "online", row);
    for (start, end) in online_intervals(steps) {
        let (a, b) = (x(start), x(end.unwrap_or(t1)));
        let _ = writeln!(
            html,
            "<rect class=\"online\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\">\
             <title>online from {}{}</title></rect>",
            y + 6.0,
            (b - a).max(2.0),
            ROW - 12.0,
            Rfc3339(start),
            end.map(|e| format!(" to {}", Rfc3339(e))).unwrap_or_else(|| " (still online)".into())
        );
    }
    row += 1;
    for bar in sessions.iter().chain(&conns) {
        let y = label_row(html, &bar.label, &bar.key, row);
        let (a, b) = (x(bar.start), x(bar.end.unwrap_or(t1)));
        let open = if bar.end.is_none() { " open" } else { "" };
        let _ = writeln!(
            html,
            "<rect class=\"bar{open}\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"4\" \
             fill=\"{}\"><title>{}{}</title></rect>",
            y + 5.0,
            (b - a).max(3.0),
            ROW - 10.0,
            bar.colour,
            esc(&bar.key),
            esc(&format!("\n{}", bar.title.trim_end()))
        );
        row += 1;
    }
    // Deliveries.
    let y = label_row(html, "deliveries", "deliveries", row) + ROW / 2.0;
    for s in steps {
        for d in &s.deliveries {
            let xd = x(s.event_time);
            let tip = esc(&format!(
                "#{} {} {} to {}: {}",
                s.seq, s.event_time_iso, d.channel, d.target, d.reason
            ));
            let _ = match d.channel {
                "push" => writeln!(html, "<path class=\"push\" d=\"M{:.1} {:.1} l6 10 h-12 z\"><title>{tip}</title></path>", xd, y - 6.0),
                "mqtt" => writeln!(html, "<rect class=\"mqtt\" x=\"{:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\" transform=\"rotate(45 {xd:.1} {y:.1})\"><title>{tip}</title></rect>", xd - 4.5, y - 4.5),
                _ => writeln!(html, "<circle class=\"ws\" cx=\"{xd:.1}\" cy=\"{y:.1}\" r=\"5\"><title>{tip}</title></circle>"),
            };
        }
    }
    html.push_str("</svg>\n<p class=\"legend\"><span class=\"k online\"></span> online \
        <span class=\"k session\"></span> IoT session, a colour each \
        <span class=\"k conn\"></span> WebSocket connection (a faded bar: still open at the end) \
        <span class=\"k ws\"></span> WebSocket delivery <span class=\"k mqtt\"></span> MQTT publish \
        <span class=\"k push\"></span> push</p>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(t: u64, online: bool, mark: Option<Mark>) -> Step {
        let state = projections::ClientProjection {
            client_id: "c".into(),
            connected: online,
            online,
            session_id: None,
            topics: vec![],
            version_number: None,
            since: None,
            last_disconnect_reason: None,
            connections: vec![],
            rooms: vec![],
            watching: vec![],
            updated_at: t,
            last_seen: Some(t),
        };
        Step {
            seq: t,
            source: String::new(),
            event_time: t,
            event_time_iso: Rfc3339(t).to_string(),
            kind: "connected".into(),
            summary: String::new(),
            relation: "own event",
            state: Some(state),
            presence: None,
            presence_event: None,
            room_event: None,
            deliveries: vec![],
            mark,
        }
    }

    #[test]
    fn online_intervals_and_session_bars_follow_the_steps() {
        let start = |s: &str, v| {
            Some(Mark::SessionStart {
                session: s.into(),
                version: Some(v),
            })
        };
        let end = |s: &str| {
            Some(Mark::SessionEnd {
                session: s.into(),
                version: Some(5),
                reason: None,
            })
        };
        let steps = [
            step(10, true, start("a", 5)),
            step(20, true, start("b", 6)),
            step(21, true, end("a")),
            step(30, false, end("b")),
            step(40, true, None),
        ];
        assert_eq!(online_intervals(&steps), vec![(10, Some(30)), (40, None)]);
        let (sessions, conns) = bars(&steps);
        assert!(conns.is_empty());
        let shown: Vec<(&str, u64, Option<u64>)> = sessions
            .iter()
            .map(|b| (b.label.as_str(), b.start, b.end))
            .collect();
        assert_eq!(shown, [("v5 · a", 10, Some(21)), ("v6 · b", 20, Some(30))]);
    }

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
    fn the_axis_runs_to_until_or_a_margin_past_the_last_step() {
        let steps = [step(10_000, true, None), step(30_000, false, None)];
        assert_eq!(range(&steps, Some(90_000)), (10_000, 90_000));
        // A tenth of the span, at least a second.
        assert_eq!(range(&steps, None), (10_000, 32_000));
        assert_eq!(range(&steps, Some(20_000)), (10_000, 32_000));
        let mut html = String::new();
        chart(&mut html, &steps, Some(90_000));
        // The offline period after the last step is drawn: the last tick is past it.
        assert!(html.contains(">00:01:30<"), "{html}");
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
