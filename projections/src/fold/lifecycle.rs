//! IoT lifecycle events: a client's session records, and room memberships for subscriptions to
//! chat topics.

use crate::client::ClientState;
use crate::id::Lookup;
use crate::lattice::{Lww, Membership};
use crate::parts::Via;
use crate::room_presence::{member_now, membership_turned};
use crate::session::DisconnectInfo;
use crate::world::World;
use crate::{Channel, Delivery};
use schemas::{Lifecycle, Record};
use smallvec::SmallVec;

/// An IoT lifecycle event: the client's session record, and room memberships for subscriptions
/// to chat topics. Its deliveries: what a subscription folded late catches up on, and, when the
/// event changes whether the client is IoT-connected, the connections watching it as a device
/// hear it (`presence_events`).
pub(crate) fn lifecycle(world: &mut World, event: &Lifecycle, record: &Record) -> Vec<Delivery> {
    let id = event.client_id();
    let (mut out, before) = sessions_and_rooms(world, event, record);
    if before.is_some_and(|before| before != world.iot_connected(id)) {
        out.extend(crate::presence_events::device(world, id, record.event_id()));
    }
    out
}

/// Whether a watched `client` is IoT-connected before the event at `ts` changes it: `None` for a
/// client no connection watches at `ts` (most), which spares the comparison.
fn connected_if_watched(client: &ClientState, ts: u64, horizon_ms: u64) -> Option<bool> {
    (client.watched_until >= ts).then(|| crate::presence_events::iot_connected(client, horizon_ms))
}

/// The event's own part of [`lifecycle`]: the session record and the chat-topic memberships, and
/// whether the client was IoT-connected before, if watched.
fn sessions_and_rooms(
    world: &mut World,
    event: &Lifecycle,
    record: &Record,
) -> (Vec<Delivery>, Option<bool>) {
    let ts = event.timestamp();
    let client_id = event.client_id();
    let horizon = world.config.reset_horizon_ms;
    let before;
    match event {
        Lifecycle::Connected(c) => {
            let client = world.client_seen(client_id, ts);
            before = connected_if_watched(client, ts, horizon);
            let s = client.sessions.get_or_insert(&c.session_identifier);
            s.version = s.version.max(c.version_number);
            s.connected_at.add(ts);
            s.last_ts = s.last_ts.max(ts);
        }
        Lifecycle::Disconnected(d) => {
            let client = world.client_seen(client_id, ts);
            before = connected_if_watched(client, ts, horizon);
            let s = client.sessions.get_or_insert(&d.session_identifier);
            s.version = s.version.max(d.version_number);
            let info = DisconnectInfo {
                reason: d.disconnect_reason.clone(),
                client_initiated: d.client_initiated_disconnect,
            };
            crate::lattice::Merge::join(&mut s.disconnect, &Some(Lww::new(ts, info)));
            s.last_ts = s.last_ts.max(ts);
        }
        Lifecycle::Subscribed(sub) | Lifecycle::Unsubscribed(sub) => {
            let state = if matches!(event, Lifecycle::Subscribed(_)) {
                Membership::Joined
            } else {
                Membership::Left
            };
            let write = Lww::new(ts, state);
            // Room names borrow from the record, so the world stays free to mutate. On the stack:
            // a subscription names a few topics, and this runs for two events in five.
            let mut rooms: SmallVec<[&str; 4]> = SmallVec::new();
            // Presence rooms among them, with their topic and whether the client was a member.
            let mut presence: SmallVec<[(&str, &str, bool); 2]> = SmallVec::new();
            for topic in &sub.topics {
                if let Some(room) = world.config.chat_topic.room_of(topic) {
                    rooms.push(room);
                    if world.config.is_presence_room(room) {
                        presence.push((room, topic, member_now(world, room, client_id)));
                    }
                }
            }
            // Most of a stream is lifecycle events, and many worlds hold no message to catch
            // up on: skip the comparison there.
            let catching_up =
                (!world.histories.is_empty() || world.rechecks_memberships()) && !rooms.is_empty();
            let turns: SmallVec<[_; 4]> = match catching_up {
                true => rooms
                    .iter()
                    .map(|room| {
                        (
                            world.membership_turn(room, client_id, ts),
                            world.writes_before(room, client_id),
                        )
                    })
                    .collect(),
                false => SmallVec::new(),
            };
            let client = world.client_seen(client_id, ts);
            before = connected_if_watched(client, ts, horizon);
            let s = client.sessions.get_or_insert(&sub.session_identifier);
            s.last_ts = s.last_ts.max(ts);
            s.subscribed |= state.is_joined();
            for topic in &sub.topics {
                s.topics.join_at(topic, &write);
            }
            let mut changed: SmallVec<[bool; 4]> = SmallVec::new();
            for room in &rooms {
                changed.push(client.record_membership(room, &write));
            }
            for (room, client_changed) in rooms.iter().zip(changed) {
                subscription(world, room, client_id, &write, client_changed);
            }
            let mut owed = Vec::new();
            for (room, topic, was) in presence {
                let is = member_now(world, room, client_id);
                if was != is {
                    let joiner = Channel::Mqtt {
                        topic: topic.to_owned(),
                    };
                    let event_id = record.event_id();
                    owed.extend(membership_turned(
                        world,
                        room,
                        client_id,
                        is,
                        event_id,
                        Some(joiner),
                    ));
                }
            }
            if !catching_up {
                return (owed, before);
            }
            for (room, (turn, writes)) in rooms.iter().zip(turns) {
                owed.extend(world.catch_up(room, client_id, ts, &turn));
                world.defer_catch_up(room, client_id, ts, writes, record);
            }
            return (owed, before);
        }
        Lifecycle::ConnectFailed(f) => {
            let reason = f
                .connect_failure_reason
                .clone()
                .unwrap_or_else(|| "UNKNOWN".to_owned());
            let client = world.client_stamped(client_id, ts);
            crate::lattice::Merge::join(
                &mut client.last_connect_failure,
                &Some(Lww::new(ts, reason)),
            );
            // A refused connection changes no session.
            before = None;
        }
    }
    (Vec::new(), before)
}

/// The room's side of a subscription's membership write. The `subscriber#` part written is the
/// client's register for the room, which holds every subscription write of the client: only the
/// shard of the client's lifecycle events writes that part, and it may write it whole. A world
/// whose store writes members apart does not load the room for it; a loaded room takes the write
/// too, and one loaded later takes it when it is loaded.
fn subscription(
    world: &mut World,
    room: &str,
    client_id: &str,
    write: &Lww<Membership>,
    client_changed: bool,
) {
    if world.complete {
        world
            .rooms
            .entry_ref(&Lookup(room))
            .or_default()
            .add(client_id, write);
        return;
    }
    let room_changed = if !world.parts_apart || world.rooms.contains_key(room) {
        world
            .rooms
            .entry_ref(&Lookup(room))
            .or_default()
            .add(client_id, write)
    } else {
        false
    };
    if !(client_changed || room_changed) {
        return;
    }
    let register = world
        .clients
        .get(&Lookup(client_id))
        .and_then(|c| c.rooms.get(room))
        .cloned();
    if let Some(register) = register {
        world.mark_member(room, client_id, Via::Subscription, &register);
    }
}
