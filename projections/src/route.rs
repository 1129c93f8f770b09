//! Delivery routing: pure functions from the projections at a point of the stream to the
//! deliveries a message causes.

use crate::delivery::{Channel, Delivery};
use crate::history::Message;
use crate::world::World;
use crate::ClientState;
use schemas::{EventId, Telemetry, WebSocketRecord};
use serde_json::json;
use std::collections::BTreeSet;

/// A chat message to a room: each member of the room when it was sent, in event time
/// ([`ClientState::member_at`](crate::ClientState::member_at)), but the sender, gets it as
/// [`reach`] decides.
pub(crate) fn chat(world: &World, room: &str, sent: &Message) -> Vec<Delivery> {
    let sender = world.sender_of(sent);
    let payload = chat_payload(sent, sender, room);
    let mut out = Vec::new();
    let mut topics = BTreeSet::new();
    let members = world
        .room_state(room)
        .into_iter()
        .flat_map(|r| r.members_around(sent.sent_at))
        .filter(|(m, _)| Some(*m) != sender)
        .map(|(m, register)| (m, register, world.client_state(m)))
        .filter(|(_, register, state)| match state {
            Some(c) => c.member_at(room, sent.sent_at, Some(register)),
            None => register.value.is_joined() && register.ts <= sent.sent_at,
        });
    for (member, _, state) in members {
        reach(
            world,
            member,
            state,
            room,
            sent,
            &payload,
            &mut out,
            &mut topics,
        );
    }
    out.extend(publish(topics, sent, payload));
    out
}

/// A message of `room`'s history to one client catching up on it: as [`chat`] would have
/// delivered it to that client, reached as it is now.
pub(crate) fn to_member(
    world: &World,
    member: &str,
    room: &str,
    sent: &Message,
    out: &mut Vec<Delivery>,
) {
    let payload = chat_payload(sent, world.sender_of(sent), room);
    let mut topics = BTreeSet::new();
    let state = world.client_state(member);
    reach(world, member, state, room, sent, &payload, out, &mut topics);
    // One publish reaches every subscriber of a topic: it has the id of the live publish, so a
    // subscriber the live one reached is not sent it twice.
    out.extend(publish(topics, sent, payload));
}

/// A message of `room`'s history from `sender` to one client catching up on it, reached as it
/// was when its membership was folded: by the sockets and chat topics [`reach_of`] found then.
pub(crate) fn to_member_reached(
    member: &str,
    room: &str,
    sent: &Message,
    sender: Option<&str>,
    (sockets, mqtt): (&[String], &[String]),
    out: &mut Vec<Delivery>,
) {
    let payload = chat_payload(sent, sender, room);
    let mut topics = BTreeSet::new();
    let sockets = sockets.iter().map(String::as_str);
    let mqtt = mqtt.iter().map(String::as_str).collect();
    deliver(member, sockets, mqtt, sent, &payload, out, &mut topics);
    out.extend(publish(topics, sent, payload));
}

/// What reaches `member` now about `room`: its live WebSocket connections, and the room's chat
/// topics its open IoT session subscribes to.
pub(crate) fn reach_of(world: &World, member: &str, room: &str) -> (Vec<String>, Vec<String>) {
    let (sockets, mqtt) = targets(world, world.client_state(member), room);
    let owned = |v: Vec<&str>| v.into_iter().map(str::to_owned).collect();
    (owned(sockets), owned(mqtt))
}

/// See [`reach_of`].
fn targets<'w>(
    world: &'w World,
    state: Option<&'w ClientState>,
    room: &str,
) -> (Vec<&'w str>, Vec<&'w str>) {
    let config = world.config();
    let now = world.watermark();
    let sockets: Vec<&str> = state
        .into_iter()
        .flat_map(|c| c.live_connections(now, config.connection_max_age_ms))
        .collect();
    let session =
        state.and_then(|c| crate::presence::current_session(&c.sessions, config.reset_horizon_ms));
    let mqtt: Vec<&str> = session
        .filter(|(_, s)| s.is_open())
        .into_iter()
        .flat_map(|(_, s)| s.active_topics())
        .filter(|t| config.chat_topic.room_of(t) == Some(room))
        .collect();
    (sockets, mqtt)
}

/// How a chat message reaches one member: by socket when a socket reaches them (a live
/// WebSocket connection, or an IoT session subscribed to the room's topic, added to `topics`:
/// one MQTT publish per topic reaches every subscriber), and by push otherwise.
#[allow(clippy::too_many_arguments)]
fn reach<'w>(
    world: &'w World,
    member: &str,
    state: Option<&'w ClientState>,
    room: &str,
    sent: &Message,
    payload: &serde_json::Value,
    out: &mut Vec<Delivery>,
    topics: &mut BTreeSet<&'w str>,
) {
    let (sockets, mqtt) = targets(world, state, room);
    deliver(
        member,
        sockets.into_iter(),
        mqtt,
        sent,
        payload,
        out,
        topics,
    );
}

/// The deliveries of a chat message to one member reached by `sockets` (the message's own
/// connection left out) and `mqtt` (added to `topics`), or by push when neither reaches it.
fn deliver<'a>(
    member: &str,
    sockets: impl Iterator<Item = &'a str>,
    mqtt: Vec<&'a str>,
    sent: &Message,
    payload: &serde_json::Value,
    out: &mut Vec<Delivery>,
    topics: &mut BTreeSet<&'a str>,
) {
    let sockets: Vec<&str> = sockets.filter(|c| *c != sent.connection_id).collect();
    if sockets.is_empty() && mqtt.is_empty() {
        // The channel names the client already; a second `clientId` would repeat the key.
        let channel = Channel::Push {
            client_id: member.to_owned(),
        };
        out.push(Delivery::new(sent.event_id, channel, None, payload.clone()));
        return;
    }
    for connection_id in sockets {
        let channel = Channel::WebSocket {
            connection_id: connection_id.to_owned(),
        };
        out.push(Delivery::new(
            sent.event_id,
            channel,
            Some(member.to_owned()),
            payload.clone(),
        ));
    }
    topics.extend(mqtt);
}

/// One MQTT publish of a chat message per topic.
fn publish<'a>(
    topics: BTreeSet<&'a str>,
    sent: &'a Message,
    payload: serde_json::Value,
) -> impl Iterator<Item = Delivery> + 'a {
    topics.into_iter().map(move |topic| {
        let channel = Channel::Mqtt {
            topic: topic.to_owned(),
        };
        Delivery::new(sent.event_id, channel, None, payload.clone())
    })
}

/// What a chat message's recipients receive (see [`message_payload`]).
pub(crate) fn chat_payload(sent: &Message, from: Option<&str>, room: &str) -> serde_json::Value {
    message_payload(sent.event_id, sent.sent_at, from, Some(room), &sent.message)
}

/// What a chat or broadcast recipient receives: `{"type":"message",...}`, the same for every
/// recipient of one message (its `id` is the event's, so clients can drop duplicates too).
fn message_payload(
    event_id: EventId,
    sent_at: u64,
    from: Option<&str>,
    room: Option<&str>,
    message: &serde_json::Value,
) -> serde_json::Value {
    let mut payload = json!({
        "type": "message",
        "id": event_id.to_string(),
        "from": from,
        "message": message,
        "sentAt": sent_at,
    });
    if let (Some(room), Some(map)) = (room, payload.as_object_mut()) {
        map.insert("chatId".to_owned(), room.into());
    }
    payload
}

/// `sendmessage` without a room: every live connection but the sender's (seed 001).
pub(crate) fn broadcast(
    world: &World,
    sender: &WebSocketRecord,
    sender_client: Option<&str>,
    message: &serde_json::Value,
    event_id: EventId,
) -> Vec<Delivery> {
    let payload = message_payload(
        event_id,
        sender.request_time_epoch,
        sender_client,
        None,
        message,
    );
    let now = world.watermark();
    let max_age = world.config().connection_max_age_ms;
    let Some(lobby) = world.lobby.as_ref() else {
        return Vec::new();
    };
    lobby
        .connections
        .iter()
        .filter(|(id, c)| **id != sender.connection_id && c.is_live(now, max_age))
        .map(|(id, c)| {
            let channel = Channel::WebSocket {
                connection_id: id.clone(),
            };
            Delivery::new(event_id, channel, c.client_id.clone(), payload.clone())
        })
        .collect()
}

/// Telemetry: every live connection that watches the device (seed 002).
pub(crate) fn telemetry(world: &mut World, t: &Telemetry, event_id: EventId) -> Vec<Delivery> {
    let payload = json!({
        "type": "telemetry",
        "deviceId": t.device_id,
        "params": t.parameters,
        "timestamp": t.timestamp,
    });
    world.to_watchers(&t.device_id, event_id, &payload)
}

/// `history`: the room's recent messages after `since` to the sender's connection, if its
/// client is a member of the room (at the request's time), with the payloads live messages
/// have; otherwise a usage reply saying why. `more` tells that the page is not the last: the
/// client asks again after the last message's `sentAt`.
pub(crate) fn history(
    world: &World,
    sender: &WebSocketRecord,
    client: Option<&str>,
    room: &str,
    (since, limit): (u64, usize),
    event_id: EventId,
) -> Vec<Delivery> {
    let now = sender.request_time_epoch;
    let refuse = |reason: &str| usage(world, sender, event_id, Some("history".to_owned()), reason);
    let Some(client) = client else {
        return refuse("history needs a client id: connect with ?clientId=... or an authorizer");
    };
    if since > now {
        return refuse("\"since\" is later than the request: a time in ms, at most now");
    }
    let member = world
        .client_state(client)
        .is_some_and(|c| c.member_at(room, now, None));
    if !member {
        return refuse("history is for the room's members: join it first");
    }
    let (page, more) = world
        .history(room)
        .map_or((&[][..], false), |h| h.page(world.config(), since, limit));
    let messages: Vec<serde_json::Value> = page
        .iter()
        .map(|m| chat_payload(m, world.sender_of(m), room))
        .collect();
    let payload = json!({
        "type": "history",
        "chatId": room,
        "since": since,
        "messages": messages,
        "more": more,
    });
    let channel = Channel::WebSocket {
        connection_id: sender.connection_id.clone(),
    };
    vec![Delivery::new(
        event_id,
        channel,
        Some(client.to_owned()),
        payload,
    )]
}

/// `$default`, an unknown action or a body that does not fit its route: tell the sender how to
/// use the API, with its connection info (seed 001).
pub(crate) fn usage(
    world: &World,
    sender: &WebSocketRecord,
    event_id: EventId,
    action: Option<String>,
    reason: &str,
) -> Vec<Delivery> {
    let conn = world.connection_state(&sender.connection_id);
    let client = conn.and_then(|c| c.summary.client_id.clone());
    let payload = json!({
        "type": "usage",
        "message": USAGE,
        "action": action,
        "reason": reason,
        "connection": {
            "connectionId": sender.connection_id,
            "connectedAt": sender.connected_at,
            "sourceIp": sender.source_ip,
            "clientId": client,
        },
    });
    let channel = Channel::WebSocket {
        connection_id: sender.connection_id.clone(),
    };
    vec![Delivery::new(event_id, channel, client, payload)]
}

/// The usage text of the `$default` reply.
pub const USAGE: &str = "Use the sendmessage route to send a message: \
{\"action\":\"sendmessage\",\"message\":\"hello\"} to everyone connected, or with \"chatId\" to a room. \
Other actions: {\"action\":\"join\",\"chatId\":\"r1\"}, {\"action\":\"leave\",\"chatId\":\"r1\"}, \
{\"action\":\"set_notify_list\",\"devices\":[\"d1\"]}, \
{\"action\":\"history\",\"chatId\":\"r1\",\"since\":1700000000000,\"limit\":100} for a room's \
messages after a time (ms), oldest first, to its members; {\"action\":\"presence\",\"chatId\":\"r1\"} \
or {\"action\":\"presence\",\"devices\":[\"d1\"]} for who is online in a room or which watched \
devices are connected.";
