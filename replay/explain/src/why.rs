//! The words of `explain`: what a record says, why each delivery goes where it goes, and why
//! the current session won.

use crate::{Candidate, Mark, Presence};
use projections::{Channel, Delivery, PresenceDecision, World};
use schemas::{Action, Lifecycle, PresenceOf, Record, WsEventType};
use serde::Serialize;

/// One delivery and why it was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryNote {
    /// `websocket`, `mqtt` or `push`.
    pub channel: &'static str,
    /// Connection id, topic or client id.
    pub target: String,
    /// The recipient client, when known.
    pub recipient: Option<String>,
    /// Whether it reaches the explained client.
    pub to_client: bool,
    /// Why this channel.
    pub reason: String,
}

/// The deliveries of `record` that concern client `id`: all of them when the record is the
/// client's own, else only those that reach it.
pub fn notes(
    world: &World,
    id: &str,
    record: &Record,
    deliveries: &[Delivery],
    own: bool,
) -> Vec<DeliveryNote> {
    if deliveries.is_empty() {
        return Vec::new();
    }
    let topics = world.client(id).map(|c| c.topics).unwrap_or_default();
    deliveries
        .iter()
        .filter_map(|d| {
            let to_client = match &d.channel {
                Channel::Mqtt { topic } => topics.contains(topic),
                _ => d.recipient() == Some(id),
            };
            (own || to_client).then(|| DeliveryNote {
                channel: d.channel.name(),
                target: d.channel.target().to_owned(),
                recipient: d.recipient().map(str::to_owned),
                to_client,
                reason: reason(record, d),
            })
        })
        .collect()
}

fn reason(record: &Record, d: &Delivery) -> String {
    let how = channel_reason(record, d);
    // A chat message delivered by a record other than its own: a membership catching up.
    if d.payload["type"] == "message" && d.event_id != record.event_id() {
        let sent_at = d.payload["sentAt"].as_u64().unwrap_or_default();
        let room = d.payload["chatId"].as_str().unwrap_or("?");
        return format!(
            "catch-up from room {room}'s history: joined at {}, processed after the message \
             sent at {sent_at} (later), which it was a member at; {how}",
            record.event_time()
        );
    }
    how
}

fn channel_reason(record: &Record, d: &Delivery) -> String {
    let p = &d.payload;
    let text = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
    match (&d.channel, p.get("type").and_then(|t| t.as_str())) {
        (Channel::Push { .. }, _) => format!(
            "member of room {}: no live WebSocket connection and no IoT session subscribed to \
             the room's topic -> push",
            text("chatId")
        ),
        (Channel::Mqtt { topic }, _) => format!(
            "an IoT session is subscribed to {topic}, room {}'s chat topic: one MQTT publish \
             reaches every subscriber -> socket",
            text("chatId")
        ),
        (Channel::WebSocket { connection_id }, Some("message")) if p.get("chatId").is_some() => {
            format!(
                "member of room {} with live WebSocket connection {connection_id} -> socket",
                text("chatId")
            )
        }
        (Channel::WebSocket { connection_id }, Some("message")) => format!(
            "sendmessage without a room goes to every live connection but the sender's; \
             {connection_id} is live -> socket"
        ),
        (Channel::WebSocket { connection_id }, Some("telemetry")) => format!(
            "live connection {connection_id} watches device {} (set_notify_list) -> socket",
            text("deviceId")
        ),
        (Channel::WebSocket { .. }, Some("usage")) => {
            format!("usage reply to the sender: {}", text("reason"))
        }
        (Channel::WebSocket { .. }, Some("error")) => format!(
            "{} refused ({}), nothing changed or delivered: {}",
            text("action"),
            text("reason"),
            text("message")
        ),
        (Channel::WebSocket { .. }, Some("history")) => format!(
            "history reply to the sender, a member of room {}: {} messages",
            text("chatId"),
            p["messages"].as_array().map_or(0, Vec::len)
        ),
        (Channel::WebSocket { connection_id }, Some("presence")) if p.get("chatId").is_some() => {
            format!(
                "{} {} presence room {}; member with live WebSocket connection {connection_id} \
                 -> socket",
                text("clientId"),
                match text("event").as_str() {
                    "join" => "joined",
                    "leave" => "left",
                    "online" => "went online in",
                    _ => "went offline in",
                },
                text("chatId"),
            )
        }
        (Channel::WebSocket { connection_id }, Some("presence")) => format!(
            "device {} is {} now and was not before this event; live connection \
             {connection_id} watches it (set_notify_list) -> socket",
            text("deviceId"),
            if p["connected"] == true {
                "connected"
            } else {
                "disconnected"
            },
        ),
        (Channel::WebSocket { .. }, Some("presence_state")) => {
            "presence reply to the sender".to_owned()
        }
        _ => format!("decided by the fold for a {} record", record.kind_name()),
    }
}

/// A record in a few words, and the chart mark it makes.
pub fn describe_record(record: &Record) -> (String, Option<Mark>) {
    match record {
        Record::Lifecycle(Lifecycle::Connected(c)) => (
            format!(
                "session {} connected, version {}",
                c.session_identifier,
                version(c.version_number)
            ),
            Some(Mark::SessionStart {
                session: c.session_identifier.clone(),
                version: c.version_number,
            }),
        ),
        Record::Lifecycle(Lifecycle::Disconnected(d)) => {
            let reason = d.disconnect_reason.as_ref().map(|r| r.as_str().to_owned());
            (
                format!(
                    "session {} disconnected, version {}, {}",
                    d.session_identifier,
                    version(d.version_number),
                    reason.as_deref().unwrap_or("no reason given")
                ),
                Some(Mark::SessionEnd {
                    session: d.session_identifier.clone(),
                    version: d.version_number,
                    reason,
                }),
            )
        }
        Record::Lifecycle(Lifecycle::Subscribed(s)) => (
            format!(
                "session {} subscribed to {}",
                s.session_identifier,
                s.topics.join(", ")
            ),
            None,
        ),
        Record::Lifecycle(Lifecycle::Unsubscribed(s)) => (
            format!(
                "session {} unsubscribed from {}",
                s.session_identifier,
                s.topics.join(", ")
            ),
            None,
        ),
        Record::Lifecycle(Lifecycle::ConnectFailed(f)) => (
            format!(
                "connection refused: {} (changes no presence)",
                f.connect_failure_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
            None,
        ),
        Record::WebSocket(ws) => {
            let conn = ws.connection_id.clone();
            match ws.event_type {
                WsEventType::Connect => (
                    format!("WebSocket {conn} connected"),
                    Some(Mark::ConnectionStart { connection: conn }),
                ),
                WsEventType::Disconnect => (
                    format!("WebSocket {conn} disconnected"),
                    Some(Mark::ConnectionEnd { connection: conn }),
                ),
                WsEventType::Message => (format!("on {conn}: {}", action(&ws.action())), None),
            }
        }
        Record::ConnectionGone(g) => (
            format!(
                "WebSocket {} found gone ({})",
                g.connection_id,
                if g.delivery_id.is_some() {
                    "410 on delivery"
                } else {
                    "by the sweeper: 410 to GetConnection, or past API Gateway's two hours"
                }
            ),
            Some(Mark::ConnectionEnd {
                connection: g.connection_id.clone(),
            }),
        ),
        Record::Telemetry(t) => (format!("telemetry from device {}", t.device_id), None),
        Record::Tick(t) => (format!("tick on {}", t.shard_id), None),
    }
}

fn version(v: Option<u64>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

fn action(a: &Action) -> String {
    match a {
        Action::SendMessage {
            chat_id: Some(room),
            ..
        } => format!("sendmessage to room {room}"),
        Action::SendMessage { chat_id: None, .. } => "sendmessage to everyone".into(),
        Action::SetNotifyList { devices } => format!("set_notify_list [{}]", devices.join(", ")),
        Action::Join { chat_id } => format!("join room {chat_id}"),
        Action::Leave { chat_id } => format!("leave room {chat_id}"),
        Action::History {
            chat_id,
            since,
            limit,
        } => format!("history of room {chat_id} after {since} (at most {limit})"),
        Action::Presence(PresenceOf::Room(room)) => format!("presence of room {room}"),
        Action::Presence(PresenceOf::Devices(devices)) => {
            format!("presence of devices [{}]", devices.join(", "))
        }
        Action::Default { action, reason } => format!(
            "{} ($default: {reason})",
            action.as_deref().unwrap_or("no action")
        ),
        Action::Connect => "$connect".into(),
        Action::Disconnect => "$disconnect".into(),
    }
}

/// Whether the client's own lifecycle event `e` changed its connectivity (from
/// `connected_before`), and so was told to its `told` watchers, or why nothing was sent.
pub fn presence_event(world: &World, e: &Lifecycle, connected_before: bool, told: usize) -> String {
    let state = |c: bool| if c { "connected" } else { "not connected" };
    let connected = world.client(e.client_id()).is_some_and(|c| c.connected);
    if connected != connected_before {
        return format!(
            "{} -> {}: a presence event to {told} watching connection{}",
            state(connected_before),
            state(connected),
            if told == 1 { "" } else { "s" }
        );
    }
    let current = world
        .presence_decision(e.client_id())
        .and_then(|d| d.current.map(str::to_owned));
    let why = match e {
        Lifecycle::Disconnected(d) if current.as_deref() != Some(d.session_identifier.as_str()) => {
            "late disconnect of an older session"
        }
        Lifecycle::Connected(c) if current.as_deref() != Some(c.session_identifier.as_str()) => {
            "connect of a session that is not the current one"
        }
        _ => "the event leaves connectivity as it was",
    };
    format!(
        "{why}: presence unchanged ({}), nothing sent",
        state(connected)
    )
}

/// For a record about `id` while it is a member of presence rooms: whether the record turned
/// its presence from what its rooms last heard, so they heard `online` or `offline`, or that it
/// did not; `None` for a client in no presence room.
pub fn room_event(world: &World, id: &str, deliveries: &[Delivery]) -> Option<String> {
    let view = world.client(id)?;
    let rooms: Vec<&str> = view
        .rooms
        .iter()
        .map(String::as_str)
        .filter(|r| world.config().is_presence_room(r))
        .collect();
    if rooms.is_empty() {
        return None;
    }
    let told: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| d.payload["type"] == "presence" && d.payload["clientId"] == id)
        .filter(|d| matches!(d.payload["event"].as_str(), Some("online" | "offline")))
        .collect();
    let word = |online: bool| if online { "online" } else { "offline" };
    let state = word(view.online);
    let heard = world
        .client_state(id)
        .and_then(|c| c.announced.as_ref())
        .map(|a| a.value);
    Some(match told.len() {
        0 if heard.is_some_and(|h| h != view.online) => format!(
            "{state}, but its presence rooms ({}) last heard {}: put off for the presence grace \
             (a tick tells them once it is over, unless it is back)",
            rooms.join(", "),
            word(!view.online)
        ),
        0 => format!(
            "{state}, as its presence rooms ({}) last heard: nothing sent",
            rooms.join(", ")
        ),
        n => format!(
            "{state}: its presence rooms ({}) heard `{state}` ({n} deliver{})",
            rooms.join(", "),
            if n == 1 { "y" } else { "ies" }
        ),
    })
}

/// The rule's reasoning as data, with the winner's reason in words. `sessions` is how many
/// sessions the client has in all (candidates or not).
pub fn presence(d: &PresenceDecision<'_>, sessions: usize) -> Presence {
    let candidates: Vec<Candidate> = d
        .candidates
        .iter()
        .map(|&(session, version, last_ts)| Candidate {
            session: session.to_owned(),
            version,
            last_ts,
        })
        .collect();
    let rank = |c: &Candidate| (c.version, c.last_ts, c.session.clone());
    let winner = candidates
        .iter()
        .find(|c| Some(c.session.as_str()) == d.current);
    let runner_up = candidates
        .iter()
        .filter(|c| Some(c.session.as_str()) != d.current)
        .max_by_key(|c| rank(c));
    let why = match (winner, runner_up) {
        (None, _) => "no IoT session".to_owned(),
        (Some(_), None) => "the only candidate".to_owned(),
        (Some(w), Some(r)) if w.version != r.version => format!(
            "highest versionNumber ({} over {} of {})",
            version(w.version),
            version(r.version),
            r.session
        ),
        (Some(w), Some(r)) if w.last_ts != r.last_ts => format!(
            "same versionNumber {} as {}, latest event ({} over {})",
            version(w.version),
            r.session,
            w.last_ts,
            r.last_ts
        ),
        (Some(_), Some(r)) => format!(
            "same versionNumber and latest event as {}: the larger sessionIdentifier wins the tie",
            r.session
        ),
    };
    let state = if d.connected {
        "open: the client is IoT-connected"
    } else {
        "not open (ended, or never connected): the client is not IoT-connected"
    };
    Presence {
        newest: d.newest,
        horizon_start: d.horizon_start,
        past_horizon: sessions.saturating_sub(candidates.len()),
        candidates,
        current: d.current.map(str::to_owned),
        connected: d.connected,
        why: format!("{why}; the current session is {state}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::ConnectionGone;

    #[test]
    fn a_connection_gone_says_who_found_it_gone() {
        let gone = |delivery_id: Option<&str>| {
            Record::ConnectionGone(ConnectionGone {
                schema_version: 1,
                connection_id: "c1".into(),
                timestamp: 1,
                delivery_id: delivery_id.map(str::to_owned),
            })
        };
        let (on_delivery, mark) = describe_record(&gone(Some("d1")));
        assert_eq!(on_delivery, "WebSocket c1 found gone (410 on delivery)");
        assert!(mark.is_some());
        let (swept, _) = describe_record(&gone(None));
        assert!(swept.contains("by the sweeper"), "{swept}");
        let (tick, mark) = describe_record(&Record::Tick(schemas::Tick::new("shard-0", 1)));
        assert_eq!(tick, "tick on shard-0");
        assert!(mark.is_none());
    }
}
