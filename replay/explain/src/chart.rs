//! The timeline chart of `explain --html`, as inline SVG: the client's online intervals, a bar
//! per IoT session (`sessionIdentifier`, from connect to disconnect, labelled with its version),
//! a bar per WebSocket connection, and delivery markers by channel.
//!
//! The x axis is event time, from the first step to the end of the window asked about (or a margin
//! past the last step), so that what followed the last event, an offline period say, shows; its
//! ticks fall on round times. Bars and intervals are drawn from the steps in arrival order, as the
//! fold saw them. Labels keep the part of an id that tells it from the others on the chart.
//! Hovering a bar or a marker shows its details (SVG `<title>`, no script). The axis and the
//! labels' cuts are [`crate::axis`]'s.

use crate::axis::{distinct, range, tick_label, ticks, DAY};
use crate::html::esc;
use crate::{Mark, Step};
use schemas::time::Rfc3339;
use std::fmt::Write;

const WIDTH: f64 = 1100.0;
const LABEL: f64 = 210.0;
/// Room right of the plot for the last tick's label.
const RIGHT: f64 = 50.0;
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
}
