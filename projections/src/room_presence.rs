//! Room presence: in a presence room (`Config::presence_rooms`, ids starting with `presence-` by
//! default, as Pusher's presence channels), each other member hears a member `join` and `leave`,
//! and a joiner gets the room's state, by socket only (never by push):
//!
//! - `{"type":"presence","chatId","clientId","event":"join"|"leave","online","lastSeen","via"}` to
//!   each other member's live WebSocket connections and, for members in the room by an IoT
//!   subscription, its chat topic;
//! - `{"type":"presence_state","chatId","members":[{"clientId","online","lastSeen"}]}` to the
//!   joiner: the connection that sent the `join`, or the topic the subscription names.
//!
//! An event is emitted exactly when the client's membership turns, decided on its client entry
//! (whose writes are serialized by revision, so one batch decides each turn): a duplicate, a
//! second join, or a late older write that the newer one overrules emits nothing. A room with
//! more than [`PRESENCE_ROOM_MAX`] members emits none (each event reads every member's entry
//! to find its sockets); `presence` still answers there.

use crate::config::PRESENCE_ROOM_MAX;
use crate::delivery::{Channel, Delivery};
use crate::world::World;
use schemas::EventId;
use serde_json::json;
use std::collections::BTreeSet;

/// Whether `client` is a member of `room` now, by its own entry when loaded, else by the room's.
pub(crate) fn member_now(world: &World, room: &str, client: &str) -> bool {
    match world.client_state(client) {
        Some(state) => state.membership(room).is_some_and(|w| w.value.is_joined()),
        None => world
            .room_state(room)
            .and_then(|r| r.member(client))
            .is_some_and(|w| w.value.is_joined()),
    }
}

/// The room's members now, by id, or `None` past [`PRESENCE_ROOM_MAX`].
pub(crate) fn members(world: &World, room: &str) -> Option<Vec<String>> {
    let mut members: Vec<String> = world
        .room_state(room)
        .into_iter()
        .flat_map(|r| r.members())
        .map(|(m, _)| m)
        .filter(|m| member_now(world, room, m))
        .map(str::to_owned)
        .collect();
    members.sort_unstable();
    (members.len() <= PRESENCE_ROOM_MAX).then_some(members)
}

/// What the room's members hear of `client`: its presence now, and how it is present.
pub(crate) fn member_event(
    world: &World,
    room: &str,
    client: &str,
    event: &str,
) -> serde_json::Value {
    let view = world.client(client);
    let mut via = Vec::new();
    if view.as_ref().is_some_and(|v| !v.connections.is_empty()) {
        via.push("websocket");
    }
    if view.as_ref().is_some_and(|v| v.connected) {
        via.push("mqtt");
    }
    json!({
        "type": "presence",
        "chatId": room,
        "clientId": client,
        "event": event,
        "online": view.as_ref().is_some_and(|v| v.online),
        "lastSeen": view.and_then(|v| v.last_seen),
        "via": via,
    })
}

/// The room's members now with their presence, as the `presence_state` reply holds them.
pub(crate) fn state_payload(world: &World, room: &str, members: &[String]) -> serde_json::Value {
    let members: Vec<serde_json::Value> = members
        .iter()
        .map(|m| {
            let view = world.client(m);
            json!({
                "clientId": m,
                "online": view.as_ref().is_some_and(|v| v.online),
                "lastSeen": view.and_then(|v| v.last_seen),
            })
        })
        .collect();
    json!({"type": "presence_state", "chatId": room, "members": members})
}

/// The deliveries of `client`'s membership of presence room `room` turning to `joined` (or
/// away from it): the event to each other member, and to a joiner at `joiner` the room's state.
pub(crate) fn membership_turned(
    world: &mut World,
    room: &str,
    client: &str,
    joined: bool,
    event_id: EventId,
    joiner: Option<Channel>,
) -> Vec<Delivery> {
    if joined {
        world.heard_joined(client);
    }
    let Some(members) = members(world, room) else {
        return Vec::new();
    };
    let event = if joined { "join" } else { "leave" };
    let register = world.client_state(client).and_then(|c| c.membership(room));
    let id = subject_event_id(event, room, client, register.map_or(0, |w| w.ts));
    let payload = member_event(world, room, client, event);
    let mut out = to_others(world, room, &members, client, id, &payload);
    if let (true, Some(channel)) = (joined, joiner) {
        let state = state_payload(world, room, &members);
        out.push(Delivery::new(id, channel, Some(client.to_owned()), state));
    }
    world.defer_presence_check(room, client, event, &members, event_id);
    out
}

/// The id of the event telling `room` that `client` turned (`event`) by its register written
/// at `ts` (its membership, or what its rooms heard of its presence): the same from the batch
/// that folds the turn and from any batch that finds it later (see `presence_recheck`), so that
/// a member told twice is told once.
pub(crate) fn subject_event_id(event: &str, room: &str, client: &str, ts: u64) -> EventId {
    let mut bytes = Vec::with_capacity(32 + event.len() + room.len() + client.len());
    for part in [event, room, client] {
        bytes.extend_from_slice(part.as_bytes());
        bytes.push(0);
    }
    bytes.extend_from_slice(&ts.to_le_bytes());
    EventId(xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// `payload` about `client` to each other member of `room` (of `members`): to its live sockets,
/// and to the chat topic of each member there by an IoT subscription.
pub(crate) fn to_others(
    world: &World,
    room: &str,
    members: &[String],
    client: &str,
    id: EventId,
    payload: &serde_json::Value,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    let mut topics = BTreeSet::new();
    for member in members.iter().filter(|m| m.as_str() != client) {
        let (sockets, mqtt) = crate::route::reach_of(world, member, room);
        for connection_id in sockets {
            let channel = Channel::WebSocket { connection_id };
            out.push(Delivery::new(
                id,
                channel,
                Some(member.clone()),
                payload.clone(),
            ));
        }
        topics.extend(mqtt);
    }
    for topic in topics {
        out.push(Delivery::new(
            id,
            Channel::Mqtt { topic },
            None,
            payload.clone(),
        ));
    }
    out
}
