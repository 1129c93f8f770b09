//! Folding records into the world: each record merges in the little state it alone implies.

use crate::client::ConnSummary;
use crate::history::Message;
use crate::id::Lookup;
use crate::lattice::{Lww, Membership, Merge};
use crate::parts::Via;
use crate::session::DisconnectInfo;
use crate::world::World;
use crate::Delivery;
use schemas::{Action, Lifecycle, Record, WebSocketRecord, WsEventType};
use smallvec::SmallVec;

impl World {
    /// Folds one record, in arrival order, and returns the deliveries it causes, decided against
    /// the state at this point. Total: it cannot fail and cannot panic.
    pub fn apply(&mut self, record: &Record) -> Vec<Delivery> {
        // Only records stamped by AWS's clocks move the fold's notion of now: a device's
        // telemetry timestamp or a feedback record must not be able to age out every WebSocket
        // connection at once.
        let ts = match record {
            Record::Lifecycle(_) | Record::WebSocket(_) => record.event_time(),
            Record::Telemetry(_) | Record::ConnectionGone(_) => 0,
        };
        if ts > self.watermark() || self.watermark.is_none() {
            self.watermark = Some(ts.max(self.watermark()));
            self.mark_watermark();
        }
        match record {
            Record::Lifecycle(e) => lifecycle(self, e, record),
            Record::WebSocket(ws) => websocket(self, ws, record),
            Record::Telemetry(t) => crate::route::telemetry(self, t, record.event_id()),
            Record::ConnectionGone(g) => {
                let conn = self.conns.entry_ref(g.connection_id.as_str()).or_default();
                let closed_at = conn.summary.closed_at;
                conn.summary.closed_at.add(g.timestamp);
                let summary_changed = conn.summary.closed_at != closed_at;
                conn.last_ts = conn.last_ts.max(g.timestamp);
                self.mark_conn(&g.connection_id);
                self.sync_connection(&g.connection_id, summary_changed);
                Vec::new()
            }
        }
    }

    /// Copies what a connection knows into its client's entry (summary, rooms, latest time) and
    /// into the lobby, so both can tell whether it is live without loading it. Copying the whole
    /// connection state, not just the latest event, keeps the result independent of the order
    /// in which the connection's records arrived. `summary_changed`: whether the record folded
    /// just now changed the connection's summary, which a lobby not loaded takes as a part.
    pub(crate) fn sync_connection(&mut self, connection_id: &str, summary_changed: bool) {
        let Some(conn) = self.conns.get(connection_id) else {
            return;
        };
        let summary: ConnSummary = conn.summary.clone();
        let (rooms, earlier) = (conn.rooms.clone(), conn.earlier.clone());
        let (last_ts, stamped_at) = (conn.last_ts, conn.stamped_at);
        if let Some(client_id) = &summary.client_id {
            let client_cut = self
                .clients
                .get(client_id.as_str())
                .map_or(0, |c| self.config.forget_before(c.updated_at));
            let client = self.client_mut(client_id, last_ts);
            client.stamped_at = client.stamped_at.max(stamped_at);
            let slot = client
                .connections
                .entry(connection_id.to_owned())
                .or_default();
            slot.join(&summary);
            for (room, write) in rooms.iter() {
                resync_membership(self, room, client_id, write, client_cut, last_ts);
            }
            // The connection's earlier writes only say when the client was a member: its rooms
            // hold the registers.
            for (room, writes) in earlier.iter() {
                for write in writes.iter().filter(|w| w.ts >= client_cut) {
                    self.client_mut(client_id, last_ts)
                        .record_membership(room, write);
                }
            }
        }
        match self.lobby.as_mut() {
            Some(lobby) => {
                let slot = lobby
                    .connections
                    .entry(connection_id.to_owned())
                    .or_default();
                if *slot != summary {
                    slot.join(&summary);
                    let (complete, apart) = (self.complete, self.parts_apart);
                    self.dirty.in_lobby(complete, apart, connection_id, slot);
                }
            }
            // A store that writes the lobby a part at a time takes the summary without it: only
            // this connection's shard writes its part, and the summary holds every earlier one.
            None if self.parts_apart && summary_changed => {
                self.mark_in_lobby(connection_id, &summary);
            }
            None => {}
        }
    }
}

/// An IoT lifecycle event: the client's session record, and room memberships for subscriptions
/// to chat topics. Its only deliveries are those a subscription folded late catches up on.
pub(crate) fn lifecycle(world: &mut World, event: &Lifecycle, record: &Record) -> Vec<Delivery> {
    let ts = event.timestamp();
    let client_id = event.client_id();
    match event {
        Lifecycle::Connected(c) => {
            let client = world.client_stamped(client_id, ts);
            let s = client.sessions.get_or_insert(&c.session_identifier);
            s.version = s.version.max(c.version_number);
            s.connected_at.add(ts);
            s.last_ts = s.last_ts.max(ts);
        }
        Lifecycle::Disconnected(d) => {
            let client = world.client_stamped(client_id, ts);
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
            for topic in &sub.topics {
                if let Some(room) = world.config.chat_topic.room_of(topic) {
                    rooms.push(room);
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
            let client = world.client_stamped(client_id, ts);
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
            if !catching_up {
                return Vec::new();
            }
            let mut owed = Vec::new();
            for (room, (before, writes)) in rooms.iter().zip(turns) {
                owed.extend(world.catch_up(room, client_id, ts, &before));
                world.defer_catch_up(room, client_id, ts, writes, record);
            }
            return owed;
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
        }
    }
    Vec::new()
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

/// Merges a membership write for (room, client) into both the room and the client.
pub(crate) fn membership(
    world: &mut World,
    room: &str,
    client_id: &str,
    write: &Lww<Membership>,
    ts: u64,
) {
    world
        .client_mut(client_id, ts)
        .record_membership(room, write);
    room_member(world, room, client_id, write, Via::Join);
}

/// A connection's membership copied into its client and room again (`World::sync_connection`).
/// Each side skips a write older than it can still forget: that write reached it when it was
/// made, or when the connection's `$connect` named the client (no later than the write), and
/// copying it again could bring back a `Joined` that a `Left` since forgotten had overruled.
/// `client_cut` is the client's, taken before this sync moved its newest event.
pub(crate) fn resync_membership(
    world: &mut World,
    room: &str,
    client_id: &str,
    write: &Lww<Membership>,
    client_cut: u64,
    ts: u64,
) {
    if write.ts >= client_cut {
        world
            .client_mut(client_id, ts)
            .record_membership(room, write);
    }
    let room_cut = world
        .rooms
        .get(room)
        .map_or(0, |r| world.config.forget_before(r.updated_at));
    if write.ts >= room_cut {
        room_member(world, room, client_id, write, Via::Join);
    }
}

/// The room's side of a membership write: the member is written only if this changed it.
fn room_member(world: &mut World, room: &str, client_id: &str, write: &Lww<Membership>, via: Via) {
    let state = world.rooms.entry_ref(&Lookup(room)).or_default();
    if state.add(client_id, write) {
        if let Some(register) = state.member(client_id).cloned() {
            world.mark_member(room, client_id, via, &register);
        }
    }
}

/// A WebSocket route record: the connection's state, then what its action asks for.
pub(crate) fn websocket(world: &mut World, ws: &WebSocketRecord, record: &Record) -> Vec<Delivery> {
    let ts = ws.request_time_epoch;
    let id = ws.connection_id.as_str();
    let action = ws.action();
    // A membership write may change whether its client was a member at messages of the room's
    // history: how it was before, to compare after.
    let turn = match &action {
        Action::Join { chat_id } | Action::Leave { chat_id } => {
            // The client the write goes to: the connection's (its `$connect` names it).
            let client = world
                .conns
                .get(id)
                .and_then(|c| c.summary.client_id.clone());
            client.map(|client| {
                (
                    world.membership_turn(chat_id, &client, ts),
                    world.writes_before(chat_id, &client),
                )
            })
        }
        _ => None,
    };
    let (summary_changed, named_late) = {
        let conn = world.conns.entry_ref(id).or_default();
        // The summary's times, to tell whether this record changed it (a new client id is seen
        // where it is set).
        let times = (conn.summary.connected_at, conn.summary.closed_at);
        let mut named = false;
        // Records of the connection folded before its `$connect` (out of order).
        let earlier = conn.last_ts > 0;
        conn.summary.connected_at.add(ws.connected_at);
        // A connection's client is the one its `$connect` names: it happens once per connection
        // (duplicates are identical), so the answer cannot depend on arrival order. Later records
        // may resolve an id differently (authorizer vs query string, old record versions); they
        // are attributed through the connection instead. (Two `$connect` records naming
        // different clients for one connection cannot come from API Gateway; should an ingest bug
        // write them, the larger id wins, and the other client may keep a copy of the connection.)
        if let Some(client) = ws
            .resolved_client_id()
            .filter(|_| ws.event_type == WsEventType::Connect)
        {
            if conn.summary.client_id.as_deref().is_none_or(|c| client > c) {
                conn.summary.client_id = Some(client.to_owned());
                named = true;
            }
        }
        if ws.source_ip > conn.source_ip {
            conn.source_ip.clone_from(&ws.source_ip);
        }
        if ws.event_type == WsEventType::Disconnect {
            conn.summary.closed_at.add(ts);
        }
        conn.last_ts = conn.last_ts.max(ts);
        conn.stamped_at = conn.stamped_at.max(ts);
        match &action {
            Action::SetNotifyList { devices } => {
                crate::lattice::Merge::join(
                    &mut conn.watching,
                    &Some(Lww::new(ts, devices.clone())),
                );
            }
            Action::Join { chat_id } => {
                conn.record_membership(chat_id, &Lww::new(ts, Membership::Joined));
            }
            Action::Leave { chat_id } => {
                conn.record_membership(chat_id, &Lww::new(ts, Membership::Left));
            }
            _ => {}
        }
        let changed = named || (conn.summary.connected_at, conn.summary.closed_at) != times;
        (changed, named && earlier)
    };
    if named_late {
        world.named_late(id);
    }
    if let (true, Some(client)) = (named_late, ws.resolved_client_id()) {
        if !world.histories.is_empty() {
            world.name_sender(id, client);
        }
    }
    world.mark_conn(id);
    world.sync_connection(id, summary_changed);
    let client = world
        .conns
        .get(id)
        .and_then(|c| c.summary.client_id.clone());
    match action {
        Action::Connect | Action::Disconnect => Vec::new(),
        Action::SetNotifyList { devices } => {
            for device in &devices {
                let state = world.devices.entry_ref(device.as_str()).or_default();
                let seen = state.watchers.entry(id.to_owned()).or_default();
                if ts > *seen {
                    *seen = ts;
                    world.mark_watcher(device, id, ts);
                }
            }
            Vec::new()
        }
        Action::Join { chat_id } | Action::Leave { chat_id } => match client {
            Some(client) => {
                let joined = matches!(ws.action(), Action::Join { .. });
                let write = Lww::new(
                    ts,
                    if joined {
                        Membership::Joined
                    } else {
                        Membership::Left
                    },
                );
                membership(world, &chat_id, &client, &write, ts);
                let (before, writes) = turn.unwrap_or_default();
                let owed = world.catch_up(&chat_id, &client, ts, &before);
                world.defer_catch_up(&chat_id, &client, ts, writes, record);
                owed
            }
            None => crate::route::usage(
                world,
                ws,
                record.event_id(),
                Some("join".to_owned()),
                "join and leave need a client id: connect with ?clientId=... or an authorizer",
            ),
        },
        Action::SendMessage {
            message,
            chat_id: Some(room),
        } => {
            let sent = Message {
                sent_at: ts,
                event_id: record.event_id(),
                connection_id: ws.connection_id.clone(),
                from: client,
                message,
            };
            let deliveries = crate::route::chat(world, &room, &sent);
            world.remember(&room, &sent);
            deliveries
        }
        Action::SendMessage {
            message,
            chat_id: None,
        } => crate::route::broadcast(world, ws, client.as_deref(), &message, record.event_id()),
        Action::History {
            chat_id,
            since,
            limit,
        } => crate::route::history(
            world,
            ws,
            client.as_deref(),
            &chat_id,
            (since, limit),
            record.event_id(),
        ),
        Action::Default { action, reason } => {
            crate::route::usage(world, ws, record.event_id(), action, &reason)
        }
    }
}
