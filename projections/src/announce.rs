//! Room presence, `online` and `offline`: the other members of a client's presence rooms hear
//! its presence turn, `{"type":"presence","chatId","clientId","event":"online"|"offline",
//! "online","lastSeen","via"}`, by socket only.
//!
//! Presence is derived at the fold's now (a connection past its longest life is gone with no
//! record saying so), so no comparison of one record's before and after can find every turn: a
//! connection whose `$disconnect` was lost ends at its two hours, and the record that closes it
//! (the sweeper's `connection_gone`) comes when presence already says offline. Each client entry
//! keeps instead what its rooms last heard ([`ClientState::announced`]), and after every record
//! about the client the fold compares its presence now with it: a turn is told once, whichever
//! record finds it, and never twice, whatever the order and duplication of the records.
//!
//! What the rooms heard is decided at the batch's now and kept with it; a batch that loads it
//! moves its own now there (`World::load`), so that a batch behind on the stream cannot take a
//! turn back. A turn found where the rooms' members are not all loaded (a record that rarely
//! turns presence, such as a message whose time ends another connection) is left for a later
//! record about the client: the sweeper's `connection_gone` for that connection, at the latest.

use crate::client::ClientState;
use crate::delivery::Delivery;
use crate::key::Key;
use crate::lattice::Lww;
use crate::room_presence::{member_event, members, subject_event_id, to_others};
use crate::world::World;
use schemas::Record;
use smallvec::SmallVec;

impl World {
    /// Whether `client` is online now: IoT-connected, or with a live WebSocket connection.
    pub(crate) fn online_now(&self, client: &ClientState) -> bool {
        let (now, max_age) = (self.watermark(), self.config.connection_max_age_ms);
        client.live_connections(now, max_age).next().is_some()
            || crate::presence_events::iot_connected(client, self.config.reset_horizon_ms)
    }

    /// The presence rooms `client` is a member of.
    pub(crate) fn presence_rooms_of<'a>(
        &'a self,
        client: &'a ClientState,
    ) -> impl Iterator<Item = &'a str> + 'a {
        client
            .joined_rooms()
            .filter(|r| self.config.is_presence_room(r))
    }

    /// `client` has just joined a presence room: its members heard how it is present (its
    /// `join` said), unless its other presence rooms heard something else, which stays theirs
    /// to be told the turn of.
    pub(crate) fn heard_joined(&mut self, client: &str) {
        let Some(state) = self.clients.get(client) else {
            return;
        };
        if state.announced.is_some() {
            return;
        }
        let heard = Lww::new(self.watermark(), self.online_now(state));
        self.client_listed(client).announced = Some(heard);
        self.announcing = true;
    }

    /// What telling `client`'s presence rooms that it turned `online` (or offline) reads: each
    /// room and its members' entries, for a client whose rooms last heard the other way (a
    /// record that cannot turn it reads nothing more).
    pub(crate) fn presence_audience(&self, client: &str, online: bool) -> Vec<Key> {
        let Some(state) = self.clients.get(client) else {
            return Vec::new();
        };
        if state.announced.as_ref().map(|a| a.value) != Some(!online) {
            return Vec::new();
        }
        let mut want = Vec::new();
        if !online && self.config.presence_grace_ms > 0 {
            want.extend(self.pending_key());
        }
        for room in self.presence_rooms_of(state) {
            want.push(Key::Room(room.to_owned()));
            want.extend(self.presence_room_members(room));
        }
        want.retain(|k| !self.has(k));
        want
    }
}

/// After a record about `client` is folded: when its presence differs from what the other
/// members of its presence rooms last heard, the deliveries telling them, and the client's
/// entry remembers what they heard. A client that has just become a member is told to no one:
/// its `join` said how it is present.
pub(crate) fn announce(world: &mut World, client: &str, record: &Record) -> Vec<Delivery> {
    let Some(state) = world.clients.get(client) else {
        return Vec::new();
    };
    let (heard, last_seen) = (state.announced.as_ref().map(|a| a.value), state.last_seen);
    if world.presence_rooms_of(state).next().is_none() {
        if heard.is_some() {
            world.client_listed(client).announced = None;
        }
        return Vec::new();
    }
    let online = world.online_now(state);
    if heard == Some(online) {
        return Vec::new();
    }
    let rooms: SmallVec<[String; 2]> = world.presence_rooms_of(state).map(str::to_owned).collect();
    if heard.is_some() && !rooms.iter().all(|r| world.reaches_presence_room(r)) {
        return Vec::new();
    }
    if !online && heard == Some(true) && world.put_off(client, last_seen) {
        return Vec::new();
    }
    let now = world.watermark();
    world.client_listed(client).announced = Some(Lww::new(now, online));
    if heard.is_none() {
        return Vec::new();
    }
    let event = if online { "online" } else { "offline" };
    // A record's id is a hash of its encoding: computed only for a turn.
    let event_id = record.event_id();
    let mut out = Vec::new();
    for room in &rooms {
        let Some(members) = members(world, room) else {
            continue;
        };
        let payload = member_event(world, room, client, event);
        let id = subject_event_id(event, room, client, now);
        out.extend(to_others(world, room, &members, client, id, &payload));
        world.defer_presence_check(room, client, event, &members, event_id);
    }
    out
}
