//! `presence`: what an app asks to draw its presence list, answered to the asking connection as a
//! `presence_state` reply: the members of a room (to a member of it), or the devices the
//! connection watches. Each entry is the subject's projection at the request's point of the
//! stream: `online` (or, for a device, IoT-`connected`) and `lastSeen`.

use crate::delivery::{Channel, Delivery};
use crate::route::usage;
use crate::world::World;
use schemas::{EventId, PresenceOf, WebSocketRecord};
use serde_json::json;

/// The `presence_state` reply to `asked`, or a usage reply saying why not.
pub(crate) fn presence_state(
    world: &World,
    sender: &WebSocketRecord,
    client: Option<&str>,
    asked: &PresenceOf,
    event_id: EventId,
) -> Vec<Delivery> {
    let refuse = |reason: &str| usage(world, sender, event_id, Some("presence".into()), reason);
    let payload = match asked {
        PresenceOf::Room(room) => {
            let Some(client) = client else {
                return refuse(
                    "presence of a room needs a client id: connect with ?clientId=... or an \
                     authorizer",
                );
            };
            let now = sender.request_time_epoch;
            let member = |c: &str| {
                world
                    .client_state(c)
                    .is_some_and(|state| state.member_at(room, now, None))
            };
            if !member(client) {
                return refuse("presence of a room is for its members: join it first");
            }
            let mut members: Vec<String> = world
                .room_state(room)
                .into_iter()
                .flat_map(|r| r.members_around(now))
                .map(|(m, _)| m)
                .filter(|m| member(m))
                .map(str::to_owned)
                .collect();
            members.sort_unstable();
            crate::room_presence::state_payload(world, room, &members)
        }
        PresenceOf::Devices(devices) => {
            let conn = world.connection_state(&sender.connection_id);
            let unwatched = devices.iter().find(|d| !conn.is_some_and(|c| c.watches(d)));
            if let Some(d) = unwatched {
                return refuse(&format!(
                    "presence of a device is for the connections watching it: {d:?} is not in \
                     this connection's set_notify_list"
                ));
            }
            let devices: Vec<serde_json::Value> = devices
                .iter()
                .map(|d| {
                    let view = world.client(d);
                    json!({
                        "deviceId": d,
                        "connected": view.as_ref().is_some_and(|v| v.connected),
                        "lastSeen": view.and_then(|v| v.last_seen),
                    })
                })
                .collect();
            json!({"type": "presence_state", "devices": devices})
        }
    };
    let channel = Channel::WebSocket {
        connection_id: sender.connection_id.clone(),
    };
    vec![Delivery::new(
        event_id,
        channel,
        client.map(str::to_owned),
        payload,
    )]
}
