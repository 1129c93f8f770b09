//! WebSocket message bodies: the route is the body's `action` (API Gateway's
//! `$request.body.action`); anything else, or a body that is not JSON, is `$default`.

use serde::{Deserialize, Serialize};

/// What a WebSocket record asks for, parsed from its event type and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// `$connect`.
    Connect,
    /// `$disconnect`.
    Disconnect,
    /// `sendmessage`: to a room's members, or without `chatId` to every live connection but the
    /// sender's.
    SendMessage {
        /// The message, any JSON value (usually a string).
        message: serde_json::Value,
        /// The room, if any.
        chat_id: Option<String>,
    },
    /// `set_notify_list`: replaces the connection's watched devices.
    SetNotifyList {
        /// The devices to watch.
        devices: Vec<String>,
    },
    /// `join`: durable room membership of the connection's client.
    Join {
        /// The room.
        chat_id: String,
    },
    /// `leave`: ends the client's membership of a room.
    Leave {
        /// The room.
        chat_id: String,
    },
    /// `history`: the room's messages sent after `since` that its history still holds, to the
    /// sender, if a member: how a client recovers what it missed while disconnected.
    History {
        /// The room.
        chat_id: String,
        /// Only messages sent after this (ms); 0 for all the history holds.
        since: u64,
        /// At most this many messages, the oldest (at most [`HISTORY_LIMIT_MAX`]).
        limit: usize,
    },
    /// `presence`: the presence of a room's members (to a member) or of devices the connection
    /// watches, to the sender, as a `presence_state` reply.
    Presence(PresenceOf),
    /// `$default`: no route matched, or the body did not fit its route. The sender gets a usage
    /// reply saying why.
    Default {
        /// The `action` the body named, if any.
        action: Option<String>,
        /// Why the message fell through to `$default`.
        reason: String,
    },
}

/// Whose presence a `presence` body asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PresenceOf {
    /// The members of a room.
    Room(String),
    /// Devices, sorted, without repeats (1 to [`PRESENCE_DEVICES_MAX`]).
    Devices(Vec<String>),
}

/// The most devices one `presence` body may name: one `BatchGetItem` reads them all.
pub const PRESENCE_DEVICES_MAX: usize = 100;

/// The messages a `history` reply holds unless the body asks for fewer or more.
pub const HISTORY_LIMIT_DEFAULT: usize = 100;
/// The most messages a `history` body may ask for.
pub const HISTORY_LIMIT_MAX: usize = 1000;

#[derive(Deserialize)]
struct Body {
    action: Option<String>,
    message: Option<serde_json::Value>,
    #[serde(rename = "chatId")]
    chat_id: Option<serde_json::Value>,
    devices: Option<serde_json::Value>,
    since: Option<serde_json::Value>,
    limit: Option<serde_json::Value>,
}

impl Action {
    /// The action's name as a client sends it (the route), `$connect`, `$disconnect` or
    /// `$default` for the others.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Connect => "$connect",
            Action::Disconnect => "$disconnect",
            Action::SendMessage { .. } => "sendmessage",
            Action::SetNotifyList { .. } => "set_notify_list",
            Action::Join { .. } => "join",
            Action::Leave { .. } => "leave",
            Action::History { .. } => "history",
            Action::Presence(_) => "presence",
            Action::Default { .. } => "$default",
        }
    }

    /// Parses a message body. Never fails: a body that does not fit becomes [`Action::Default`]
    /// with the reason, because a client's malformed message is the client's error, answered with
    /// a usage reply, not a poison record.
    pub fn parse_body(body: Option<&str>) -> Action {
        let Some(body) = body else {
            return default(None, "the message has no body");
        };
        let parsed: Body = match serde_json::from_str(body) {
            Ok(b) => b,
            Err(_) => return default(None, "the body is not a JSON object"),
        };
        let action = parsed.action.clone();
        match parsed.action.as_deref() {
            Some("sendmessage") => match parsed.message {
                None => default(action, "sendmessage needs a \"message\""),
                Some(message) => match chat_id(parsed.chat_id) {
                    Ok(chat_id) => Action::SendMessage { message, chat_id },
                    Err(why) => default(action, why),
                },
            },
            Some("set_notify_list") => match parsed.devices {
                Some(list @ serde_json::Value::Array(_)) => match devices(list) {
                    Ok(devices) => Action::SetNotifyList { devices },
                    Err(why) => default(action, why),
                },
                _ => default(
                    action,
                    "set_notify_list needs \"devices\": an array of device ids",
                ),
            },
            Some("presence") => match (chat_id(parsed.chat_id), parsed.devices) {
                (Err(why), _) => default(action, why),
                (Ok(Some(room)), None) => Action::Presence(PresenceOf::Room(room)),
                (Ok(None), Some(list)) => match devices(list) {
                    Ok(d) if d.is_empty() => default(action, "\"devices\" names no device"),
                    Ok(d) if d.len() > PRESENCE_DEVICES_MAX => default(
                        action,
                        "\"devices\" names more than 100 devices: ask for them in parts",
                    ),
                    Ok(d) => Action::Presence(PresenceOf::Devices(d)),
                    Err(why) => default(action, why),
                },
                _ => default(
                    action,
                    "presence needs a \"chatId\" or \"devices\" (an array of device ids), not both",
                ),
            },
            Some(verb @ ("join" | "leave")) => match chat_id(parsed.chat_id) {
                Ok(Some(chat_id)) if verb == "join" => Action::Join { chat_id },
                Ok(Some(chat_id)) => Action::Leave { chat_id },
                Ok(None) => default(action, "join and leave need a \"chatId\""),
                Err(why) => default(action, why),
            },
            Some("history") => match chat_id(parsed.chat_id) {
                Ok(Some(chat_id)) => match (since(parsed.since), limit(parsed.limit)) {
                    (Ok(since), Ok(limit)) => Action::History {
                        chat_id,
                        since,
                        limit,
                    },
                    (Err(why), _) | (_, Err(why)) => default(action, why),
                },
                Ok(None) => default(action, "history needs a \"chatId\""),
                Err(why) => default(action, why),
            },
            Some(_) => default(action, "unknown action"),
            None => default(None, "the body has no \"action\""),
        }
    }
}

/// A list of device ids: non-empty strings, sorted, without repeats.
fn devices(v: serde_json::Value) -> Result<Vec<String>, &'static str> {
    const WHY: &str = "\"devices\" must be an array of non-empty strings";
    let serde_json::Value::Array(items) = v else {
        return Err(WHY);
    };
    let mut devices = items
        .into_iter()
        .map(|d| match d {
            serde_json::Value::String(s) if !s.is_empty() => Ok(s),
            _ => Err(WHY),
        })
        .collect::<Result<Vec<String>, _>>()?;
    devices.sort();
    devices.dedup();
    Ok(devices)
}

fn default(action: Option<String>, reason: &str) -> Action {
    Action::Default {
        action,
        reason: reason.to_owned(),
    }
}

/// `since`: a time in ms, 0 when absent.
fn since(v: Option<serde_json::Value>) -> Result<u64, &'static str> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .ok_or("\"since\" must be a time in ms: a whole number, 0 or more"),
        Some(_) => Err("\"since\" must be a time in ms: a whole number, 0 or more"),
    }
}

/// `limit`: from 1 to [`HISTORY_LIMIT_MAX`], [`HISTORY_LIMIT_DEFAULT`] when absent.
fn limit(v: Option<serde_json::Value>) -> Result<usize, &'static str> {
    const WHY: &str = "\"limit\" must be a whole number from 1 to 1000";
    match v {
        None | Some(serde_json::Value::Null) => Ok(HISTORY_LIMIT_DEFAULT),
        Some(serde_json::Value::Number(n)) => match n.as_u64() {
            Some(n @ 1..) if n as usize <= HISTORY_LIMIT_MAX => Ok(n as usize),
            _ => Err(WHY),
        },
        Some(_) => Err(WHY),
    }
}

/// Room ids arrive as strings or, in seed 000's style, as numbers; both name the same room.
fn chat_id(v: Option<serde_json::Value>) -> Result<Option<String>, &'static str> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(Some(s)),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err("\"chatId\" must be a non-empty string or a number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(body: &str) -> String {
        match Action::parse_body(Some(body)) {
            Action::Default { reason, .. } => reason,
            other => panic!("{body} parsed as {other:?}"),
        }
    }

    #[test]
    fn presence_asks_for_a_room_or_for_devices() {
        let parse = |body| Action::parse_body(Some(body));
        assert_eq!(
            parse(r#"{"action":"presence","chatId":42}"#),
            Action::Presence(PresenceOf::Room("42".into()))
        );
        assert_eq!(
            parse(r#"{"action":"presence","devices":["d2","d1","d2"]}"#),
            Action::Presence(PresenceOf::Devices(vec!["d1".into(), "d2".into()]))
        );
        assert!(reason(r#"{"action":"presence"}"#).contains("\"chatId\" or \"devices\""));
        assert!(
            reason(r#"{"action":"presence","chatId":"1","devices":["d"]}"#).contains("not both")
        );
        assert!(reason(r#"{"action":"presence","devices":[]}"#).contains("no device"));
        assert!(reason(r#"{"action":"presence","devices":[1]}"#).contains("non-empty strings"));
        let many: Vec<String> = (0..=PRESENCE_DEVICES_MAX)
            .map(|n| format!("d{n}"))
            .collect();
        let body = serde_json::json!({"action": "presence", "devices": many}).to_string();
        assert!(reason(&body).contains("more than 100"));
    }

    #[test]
    fn history_takes_a_room_a_time_and_a_limit() {
        let history = |body| Action::parse_body(Some(body));
        assert_eq!(
            history(r#"{"action":"history","chatId":42,"since":1700000000000,"limit":5}"#),
            Action::History {
                chat_id: "42".into(),
                since: 1_700_000_000_000,
                limit: 5
            }
        );
        assert_eq!(
            history(r#"{"action":"history","chatId":"r"}"#),
            Action::History {
                chat_id: "r".into(),
                since: 0,
                limit: HISTORY_LIMIT_DEFAULT
            }
        );
    }

    #[test]
    fn a_history_body_that_does_not_fit_says_which_field_and_why() {
        assert!(reason(r#"{"action":"history"}"#).contains("chatId"));
        for since in [r#""yesterday""#, "-5", "1.5", "[]"] {
            let body = format!(r#"{{"action":"history","chatId":"r","since":{since}}}"#);
            assert!(reason(&body).contains("\"since\""), "{body}");
        }
        for limit in ["0", "1001", "\"ten\"", "-1"] {
            let body = format!(r#"{{"action":"history","chatId":"r","limit":{limit}}}"#);
            assert!(reason(&body).contains("\"limit\""), "{body}");
        }
    }
}
