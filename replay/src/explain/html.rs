//! `explain --html`: one self-contained page (inline CSS and SVG; no scripts, fonts, images or
//! links to fetch): a timeline chart of the client's online intervals, IoT sessions (a bar per
//! `sessionIdentifier` from connect to disconnect, labelled with its version), WebSocket
//! connections and deliveries, then the table of events.
//!
//! The chart's x axis is event time; bars and intervals are drawn from the steps in arrival
//! order, as the fold saw them. Hovering a bar or a marker shows its details (SVG `<title>`).

use super::{Mark, Step};
use crate::time::Rfc3339;
use std::fmt::Write;

const WIDTH: f64 = 1100.0;
const LABEL: f64 = 210.0;
const ROW: f64 = 28.0;
const TOP: f64 = 34.0;
const PALETTE: [&str; 6] = [
    "#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2",
];

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A bar on a row: label, start, end (None: still open at the end), tooltip, colour.
struct Bar {
    key: String,
    label: String,
    start: u64,
    end: Option<u64>,
    title: String,
    colour: &'static str,
}

/// The whole page.
pub fn page(client: &str, steps: &[Step]) -> String {
    let mut html = String::with_capacity(64 * 1024 + steps.len() * 512);
    let title = format!("replay explain: {client}");
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    if steps.is_empty() {
        html.push_str("<p class=\"note\">No events about this client in the archive and window.</p></body></html>\n");
        return html;
    }
    let last = steps.last().and_then(|s| s.state.as_ref());
    let _ = writeln!(
        html,
        "<p class=\"note\">{} events from {} to {} (UTC). Now: <b>{}</b>, <b>{}</b>{}.</p>",
        steps.len(),
        esc(&steps
            .iter()
            .map(|s| s.event_time)
            .min()
            .map(|t| Rfc3339(t).to_string())
            .unwrap_or_default()),
        esc(&steps
            .iter()
            .map(|s| s.event_time)
            .max()
            .map(|t| Rfc3339(t).to_string())
            .unwrap_or_default()),
        if last.is_some_and(|s| s.connected) {
            "connected"
        } else {
            "not connected"
        },
        if last.is_some_and(|s| s.online) {
            "online"
        } else {
            "offline"
        },
        last.and_then(|s| s.session_id.as_deref())
            .map(|s| format!(" on session {}", esc(s)))
            .unwrap_or_default(),
    );
    chart(&mut html, steps);
    table(&mut html, steps);
    html.push_str("</body></html>\n");
    html
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
                b.label = format!(
                    "v{} · {}",
                    version.map_or("?".into(), |v| v.to_string()),
                    session
                );
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
                if b.label == b.key {
                    b.label = format!(
                        "v{} · {}",
                        version.map_or("?".into(), |v| v.to_string()),
                        session
                    );
                }
                let _ = writeln!(
                    b.title,
                    "disconnected {} ({})",
                    Rfc3339(t),
                    reason.as_deref().unwrap_or("no reason")
                );
            }
            Some(Mark::ConnectionStart { connection }) => {
                let i = find(&mut conns, connection, t, "#8c6d31");
                conns[i].start = conns[i].start.min(t);
                let _ = writeln!(conns[i].title, "connected {}", Rfc3339(t));
            }
            Some(Mark::ConnectionEnd { connection }) => {
                let i = find(&mut conns, connection, t, "#8c6d31");
                conns[i].end = Some(conns[i].end.map_or(t, |e| e.max(t)));
                let _ = writeln!(conns[i].title, "closed {}", Rfc3339(t));
            }
            None => {}
        }
    }
    for c in &mut conns {
        c.label = format!("ws · {}", c.label);
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

fn chart(html: &mut String, steps: &[Step]) {
    let (sessions, conns) = bars(steps);
    let t0 = steps.iter().map(|s| s.event_time).min().unwrap_or(0);
    let t1 = steps
        .iter()
        .map(|s| s.event_time)
        .max()
        .unwrap_or(0)
        .max(t0 + 1_000);
    let span = (t1 - t0) as f64;
    let plot = WIDTH - LABEL - 20.0;
    let x = |t: u64| LABEL + (t.saturating_sub(t0) as f64 / span) * plot;
    let rows = 2 + sessions.len() + conns.len();
    let height = TOP + rows as f64 * ROW + 30.0;
    let _ = write!(
        html,
        "<h2>Timeline</h2>\n<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"timeline of sessions, online intervals and deliveries\">\n"
    );
    // Axis with six ticks.
    for i in 0..=5 {
        let t = t0 + (span * f64::from(i) / 5.0) as u64;
        let xt = x(t);
        let label = Rfc3339(t).to_string();
        let _ = writeln!(
            html,
            "<line class=\"grid\" x1=\"{xt:.1}\" y1=\"{}\" x2=\"{xt:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick\" x=\"{xt:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            TOP - 6.0,
            height - 24.0,
            height - 8.0,
            esc(label.get(11..23).unwrap_or(&label))
        );
    }
    let mut row = 0usize;
    let label_row = |html: &mut String, text: &str, row: usize| {
        let y = TOP + row as f64 * ROW;
        let shown: String = text.chars().take(30).collect();
        let _ = writeln!(
            html,
            "<rect class=\"band{}\" x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{ROW}\"/>\
             <text class=\"label\" x=\"8\" y=\"{:.1}\">{}<title>{}</title></text>",
            row % 2,
            y + ROW * 0.65,
            esc(&shown),
            esc(text)
        );
        y
    };
    // Online intervals.
    let y = label_row(html, "online", row);
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
        let y = label_row(html, &bar.label, row);
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
            esc(&bar.label),
            esc(&format!("\n{}", bar.title.trim_end()))
        );
        row += 1;
    }
    // Deliveries.
    let y = label_row(html, "deliveries", row) + ROW / 2.0;
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
        <span class=\"k bar\"></span> IoT session / WebSocket connection (faded end: still open) \
        <span class=\"k ws\"></span> WebSocket delivery <span class=\"k mqtt\"></span> MQTT publish \
        <span class=\"k push\"></span> push</p>\n");
}

fn table(html: &mut String, steps: &[Step]) {
    html.push_str(
        "<h2>Events, in arrival order</h2>\n<table><thead><tr><th>#</th><th>event time (UTC)</th>\
         <th>event</th><th>state after</th><th>presence rule</th><th>deliveries</th></tr></thead><tbody>\n",
    );
    for s in steps {
        let state = match &s.state {
            Some(c) => format!(
                "<span class=\"pill {}\">{}</span> <span class=\"pill {}\">{}</span><br>{}{}",
                if c.connected { "yes" } else { "no" },
                if c.connected {
                    "connected"
                } else {
                    "not connected"
                },
                if c.online { "yes" } else { "no" },
                if c.online { "online" } else { "offline" },
                c.session_id
                    .as_deref()
                    .map(|id| format!("session {}<br>", esc(id)))
                    .unwrap_or_default(),
                if c.topics.is_empty() {
                    String::new()
                } else {
                    format!("topics: {}", esc(&c.topics.join(", ")))
                },
            ),
            None => String::new(),
        };
        let rule = s
            .presence
            .as_ref()
            .map(|p| {
                let cands: Vec<String> = p
                    .candidates
                    .iter()
                    .map(|c| {
                        let win = p.current.as_deref() == Some(c.session.as_str());
                        format!(
                            "{}{} (v{}, {})",
                            if win { "&#9733; " } else { "" },
                            esc(&c.session),
                            c.version.map_or("?".into(), |v| v.to_string()),
                            esc(&Rfc3339(c.last_ts).to_string())
                        )
                    })
                    .collect();
                format!(
                    "{}<br><span class=\"why\">{}</span>",
                    cands.join("<br>"),
                    esc(&p.why)
                )
            })
            .unwrap_or_default();
        let deliveries: Vec<String> = s
            .deliveries
            .iter()
            .take(20)
            .map(|d| {
                format!(
                    "<span class=\"ch {}\">{}</span> {}<br><span class=\"why\">{}</span>",
                    d.channel,
                    d.channel,
                    esc(&d.target),
                    esc(&d.reason)
                )
            })
            .collect();
        let more = s.deliveries.len().saturating_sub(20);
        let _ = writeln!(
            html,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td><b>{}</b> <span class=\"rel\">{}</span><br>{}<br>\
             <span class=\"src\">{}</span></td><td>{state}</td><td>{rule}</td><td>{}{}</td></tr>",
            s.relation.replace(' ', "-"),
            s.seq,
            esc(&s.event_time_iso),
            esc(&s.kind),
            esc(s.relation),
            esc(&s.summary),
            esc(&s.source),
            deliveries.join("<br>"),
            if more > 0 { format!("<br>... and {more} more") } else { String::new() },
        );
    }
    html.push_str("</tbody></table>\n");
}

const CSS: &str = "\
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#fff;--band:#f7f8fa}\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);\
background:var(--bg);margin:24px auto;max-width:1160px;padding:0 16px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}\
.note,.legend{color:var(--muted)}\
.chart{width:100%;height:auto;border:1px solid var(--line);border-radius:8px;background:#fff}\
.band0{fill:#fff}.band1{fill:var(--band)}.label{font-size:12px;fill:var(--fg)}\
.tick{font-size:11px;fill:var(--muted)}.grid{stroke:var(--line)}\
.online{fill:#54a24b;opacity:.85}.bar{opacity:.9}.bar.open{opacity:.55}\
.ws{fill:#4c78a8}.mqtt{fill:#b279a2}.push{fill:#e45756}\
.legend .k{display:inline-block;width:12px;height:12px;border-radius:3px;margin:0 4px 0 12px;vertical-align:-2px}\
.legend .k.online{background:#54a24b}.legend .k.bar{background:#4c78a8}.legend .k.ws{background:#4c78a8;border-radius:50%}\
.legend .k.mqtt{background:#b279a2;transform:rotate(45deg)}.legend .k.push{background:#e45756}\
table{border-collapse:collapse;width:100%;font-size:13px}\
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}\
th{position:sticky;top:0;background:#f2f4f7}\
tr.delivery-to-it td{background:#fbfaf5}\
.pill{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px}\
.pill.yes{background:#dcfae6;color:#085d3a}.pill.no{background:#fee4e2;color:#912018}\
.why,.src,.rel{color:var(--muted);font-size:12px}\
.ch{display:inline-block;padding:0 5px;border-radius:4px;color:#fff;font-size:12px}\
.ch.websocket{background:#4c78a8}.ch.mqtt{background:#b279a2}.ch.push{background:#e45756}";
