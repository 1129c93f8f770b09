//! `explain --html`: one self-contained page (inline CSS and SVG; no scripts, fonts, images or
//! links to fetch): the timeline chart ([`crate::chart`]), then the table of events, each with
//! the state after it, the presence rule's candidates and winner, and the deliveries with their
//! reasons.

use crate::chart::chart;
use crate::Step;
use schemas::time::Rfc3339;
use std::fmt::Write;

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

/// The whole page; the chart's axis runs to `until` (the end of the window asked about, or now)
/// when that is later than the last step.
pub fn page(client: &str, steps: &[Step], until: Option<u64>) -> String {
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
    chart(&mut html, steps, until);
    table(&mut html, steps);
    html.push_str("</body></html>\n");
    html
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
                match (c.online, c.last_seen) {
                    (true, _) => "online".to_owned(),
                    (false, Some(t)) => {
                        format!("offline, last seen <span class=\"t\">{}</span>", Rfc3339(t))
                    }
                    (false, None) => "offline".to_owned(),
                },
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
                            "{}{} (v{}, <span class=\"t\">{}</span>)",
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
            "<tr class=\"{}\"><td>{}</td><td class=\"t\">{}</td><td><b>{}</b> <span class=\"rel\">{}</span><br>{}<br>\
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
.legend .k.online{background:#54a24b}.legend .k.ws{background:#4c78a8;border-radius:50%}\
.legend .k.session{background:linear-gradient(90deg,#4c78a8 0 33%,#f58518 33% 66%,#54a24b 66%)}\
.legend .k.conn{background:#8c6d31}\
.legend .k.mqtt{width:9px;height:9px;border-radius:0;background:#b279a2;transform:rotate(45deg)}\
.legend .k.push{border-radius:0;background:#e45756;clip-path:polygon(50% 0,100% 100%,0 100%)}\
.t{white-space:nowrap}\
table{border-collapse:collapse;width:100%;font-size:13px}\
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}\
th{position:sticky;top:0;background:#f2f4f7}\
tr.delivery-to-it td{background:#fbfaf5}\
.pill{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px}\
.pill.yes{background:#dcfae6;color:#085d3a}.pill.no{background:#fee4e2;color:#912018}\
.why,.src,.rel{color:var(--muted);font-size:12px}\
.ch{display:inline-block;padding:0 5px;border-radius:4px;color:#fff;font-size:12px}\
.ch.websocket{background:#4c78a8}.ch.mqtt{background:#b279a2}.ch.push{background:#e45756}";
