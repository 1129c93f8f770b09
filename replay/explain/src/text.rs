//! `explain` for people (`--format text`) and for programs (`--format json`).

use crate::{Presence, Step};
use schemas::time::Rfc3339;
use std::io::{self, Write};

/// A message to thousands of connections is summarised after this many deliveries.
const MAX_DELIVERIES: usize = 20;

/// One block per step: the event, the state after it, the rule (when it is about sessions) and
/// the deliveries.
///
/// # Errors
/// Write failures.
pub fn write_text(out: &mut impl Write, client: &str, steps: &[Step]) -> io::Result<()> {
    if steps.is_empty() {
        writeln!(
            out,
            "no events about client {client} in this archive and window"
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "client {client}: {} events, in arrival order\n",
        steps.len()
    )?;
    let mut last_presence: Option<&Presence> = None;
    for s in steps {
        writeln!(
            out,
            "#{} {}  {}  [{}]",
            s.seq, s.event_time_iso, s.kind, s.relation
        )?;
        writeln!(out, "    {}", s.summary)?;
        writeln!(out, "    from {}", s.source)?;
        if let Some(state) = &s.state {
            let session = match (&state.session_id, state.version_number) {
                (Some(id), Some(v)) => format!("session {id} (v{v})"),
                (Some(id), None) => format!("session {id}"),
                _ => "no session".to_owned(),
            };
            writeln!(
                out,
                "    after: {}, {}, {session}, topics [{}], connections [{}], rooms [{}]",
                if state.connected {
                    "connected"
                } else {
                    "not connected"
                },
                match (state.online, state.last_seen) {
                    (true, _) => "online".to_owned(),
                    (false, Some(t)) => format!("offline (last seen {})", Rfc3339(t)),
                    (false, None) => "offline".to_owned(),
                },
                state.topics.join(", "),
                state.connections.join(", "),
                state.rooms.join(", "),
            )?;
        }
        if let Some(event) = &s.presence_event {
            writeln!(out, "    presence event: {event}")?;
        }
        if let Some(event) = &s.room_event {
            writeln!(out, "    room presence: {event}")?;
        }
        if let Some(p) = &s.presence {
            // The rule only changes with the client's own lifecycle events; say it when it does.
            if last_presence != Some(p) {
                write_presence(out, p)?;
            }
            last_presence = Some(p);
        }
        for d in s.deliveries.iter().take(MAX_DELIVERIES) {
            writeln!(
                out,
                "    delivery: {} to {}{}: {}",
                d.channel,
                d.target,
                d.recipient
                    .as_deref()
                    .map(|r| format!(" (client {r})"))
                    .unwrap_or_default(),
                d.reason
            )?;
        }
        if s.deliveries.len() > MAX_DELIVERIES {
            writeln!(
                out,
                "    ... and {} more deliveries (see --format json)",
                s.deliveries.len() - MAX_DELIVERIES
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn write_presence(out: &mut impl Write, p: &Presence) -> io::Result<()> {
    writeln!(
        out,
        "    rule: T = {} (newest session event), horizon from {}{}",
        Rfc3339(p.newest),
        Rfc3339(p.horizon_start),
        if p.past_horizon > 0 {
            format!(" ({} older sessions past it)", p.past_horizon)
        } else {
            String::new()
        }
    )?;
    for c in &p.candidates {
        let mark = if p.current.as_deref() == Some(c.session.as_str()) {
            "*"
        } else {
            " "
        };
        writeln!(
            out,
            "      {mark} candidate {}: version {}, last event {}",
            c.session,
            c.version
                .map_or_else(|| "none".to_owned(), |v| v.to_string()),
            Rfc3339(c.last_ts)
        )?;
    }
    match &p.current {
        Some(current) => writeln!(out, "    winner: {current}: {}", p.why),
        None => writeln!(out, "    winner: none: {}", p.why),
    }
}

/// One JSON object per step, one per line.
///
/// # Errors
/// Write failures.
pub fn write_json(out: &mut impl Write, steps: &[Step]) -> io::Result<()> {
    for s in steps {
        serde_json::to_writer(&mut *out, s)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
