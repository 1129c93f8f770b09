//! Authorization of WebSocket actions, and the error reply of a refused one ([`Refusal`]; the
//! limits of `crate::limits` refuse with it too). Authorization is decided from the claims the
//! record carries (`schemas::Claims`: what the `$connect` authorizer granted the connection's
//! token, which API Gateway hands every route of the connection). A refused record changes nothing
//! and delivers nothing but an error to its sender:
//! `{"type":"error","reason":"forbidden","action",...}`.
//!
//! Deciding from the record alone keeps the fold's laws: a record is refused or not whatever
//! was folded before it, in any order, in a replay as in the Lambda.

use crate::world::World;
use crate::{Channel, Delivery};
use schemas::{Action, Claims, EventId, PresenceOf, WebSocketRecord};
use serde_json::json;

/// Why an action is refused, as the error reply's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `forbidden`: the token's claims do not grant it.
    Forbidden,
    /// `rate_limited`: over the connection's rate; `retryAfterMs` says when it would conform.
    RateLimited {
        /// How long until the same action would be let through.
        retry_after_ms: u64,
    },
    /// `too_large`: over a bound (`limit`): a message's size, a watch list's length, the rooms a
    /// client may be in.
    TooLarge {
        /// The bound.
        limit: usize,
    },
}

/// Why a record's action is not carried out, told to its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The action refused, as the client named it (`join`, `sendmessage`, ...).
    pub action: &'static str,
    /// The room it named, if any.
    pub chat_id: Option<String>,
    /// The devices it named that the token does not grant.
    pub devices: Vec<String>,
    /// Why, as the reply's `reason`.
    pub reason: Reason,
    /// Why, in a sentence.
    pub message: String,
}

/// The refusal of `ws`'s action, if its claims do not allow it; `None` for a record without
/// claims (no authorizer, or one that leaves authorization to itself) and for what needs no
/// grant (`$connect`, `$disconnect`, `leave`, a usage reply).
pub fn refusal(ws: &WebSocketRecord) -> Option<Refusal> {
    let claims = Claims::of(&ws.authorizer)?;
    let action = ws.action();
    let name = action.name();
    let forbidden = |message: String| Refusal::new(name, Reason::Forbidden, message);
    match action {
        Action::Join { chat_id }
        | Action::SendMessage {
            chat_id: Some(chat_id),
            ..
        }
        | Action::History { chat_id, .. }
        | Action::Presence(PresenceOf::Room(chat_id)) => {
            (!claims.allows_room(&chat_id)).then(|| {
                forbidden(format!("your token does not grant room {chat_id:?}")).in_room(chat_id)
            })
        }
        Action::SendMessage { chat_id: None, .. } => (!claims.broadcast).then(|| {
            forbidden("your token does not grant sending to everyone: name a room (chatId)".into())
        }),
        Action::SetNotifyList { devices } => {
            let denied: Vec<String> = devices
                .into_iter()
                .filter(|d| !claims.allows_device(d))
                .collect();
            (!denied.is_empty()).then(|| {
                let message = format!("your token does not grant watching {denied:?}");
                Refusal {
                    devices: denied,
                    ..forbidden(message)
                }
            })
        }
        // Presence of devices answers only for devices the connection watches: the watch list
        // was bounded when it was set.
        Action::Presence(PresenceOf::Devices(_))
        | Action::Connect
        | Action::Disconnect
        | Action::Leave { .. }
        | Action::Default { .. } => None,
    }
}

impl Refusal {
    /// A refusal of `action` that names no room and no device.
    pub fn new(action: &'static str, reason: Reason, message: String) -> Self {
        Refusal {
            action,
            chat_id: None,
            devices: Vec::new(),
            reason,
            message,
        }
    }

    /// This refusal, naming the room the action named.
    pub fn in_room(mut self, room: String) -> Self {
        self.chat_id = Some(room);
        self
    }

    /// The error reply to the record's sender.
    pub(crate) fn reply(
        &self,
        world: &World,
        ws: &WebSocketRecord,
        event_id: EventId,
    ) -> Vec<Delivery> {
        let client = world
            .connection_state(&ws.connection_id)
            .and_then(|c| c.summary.client_id.clone())
            .or_else(|| ws.resolved_client_id().map(str::to_owned));
        let mut payload = json!({
            "type": "error",
            "action": self.action,
            "message": self.message,
        });
        match self.reason {
            Reason::Forbidden => payload["reason"] = json!("forbidden"),
            Reason::RateLimited { retry_after_ms } => {
                payload["reason"] = json!("rate_limited");
                payload["retryAfterMs"] = json!(retry_after_ms);
            }
            Reason::TooLarge { limit } => {
                payload["reason"] = json!("too_large");
                payload["limit"] = json!(limit);
            }
        }
        if let Some(room) = &self.chat_id {
            payload["chatId"] = json!(room);
        }
        if !self.devices.is_empty() {
            payload["devices"] = json!(self.devices);
        }
        let channel = Channel::WebSocket {
            connection_id: ws.connection_id.clone(),
        };
        vec![Delivery::new(event_id, channel, client, payload)]
    }
}
