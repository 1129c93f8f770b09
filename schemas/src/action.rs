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
    /// `$default`: no route matched, or the body did not fit its route. The sender gets a usage
    /// reply saying why.
    Default {
        /// The `action` the body named, if any.
        action: Option<String>,
        /// Why the message fell through to `$default`.
        reason: String,
    },
}

#[derive(Deserialize)]
struct Body {
    action: Option<String>,
    message: Option<serde_json::Value>,
    #[serde(rename = "chatId")]
    chat_id: Option<serde_json::Value>,
    devices: Option<serde_json::Value>,
}

impl Action {
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
                Some(serde_json::Value::Array(items)) => {
                    let devices: Option<Vec<String>> = items
                        .into_iter()
                        .map(|d| match d {
                            serde_json::Value::String(s) if !s.is_empty() => Some(s),
                            _ => None,
                        })
                        .collect();
                    match devices {
                        Some(mut devices) => {
                            devices.sort();
                            devices.dedup();
                            Action::SetNotifyList { devices }
                        }
                        None => {
                            default(action, "\"devices\" must be an array of non-empty strings")
                        }
                    }
                }
                _ => default(
                    action,
                    "set_notify_list needs \"devices\": an array of device ids",
                ),
            },
            Some(verb @ ("join" | "leave")) => match chat_id(parsed.chat_id) {
                Ok(Some(chat_id)) if verb == "join" => Action::Join { chat_id },
                Ok(Some(chat_id)) => Action::Leave { chat_id },
                Ok(None) => default(action, "join and leave need a \"chatId\""),
                Err(why) => default(action, why),
            },
            Some(_) => default(action, "unknown action"),
            None => default(None, "the body has no \"action\""),
        }
    }
}

fn default(action: Option<String>, reason: &str) -> Action {
    Action::Default {
        action,
        reason: reason.to_owned(),
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
