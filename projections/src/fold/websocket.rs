//! WebSocket route records: the connection's state (`$connect`, `$disconnect`), then what its
//! action asks for (a chat message, a membership, a watch list, a usage reply).

use super::rooms::membership;
use crate::history::Message;
use crate::lattice::{Lww, Membership};
use crate::world::World;
use crate::{Channel, Delivery};
use schemas::{Action, Record, WebSocketRecord, WsEventType};

/// A WebSocket route record: the connection's state, then what its action asks for.
pub(crate) fn websocket(world: &mut World, ws: &WebSocketRecord, record: &Record) -> Vec<Delivery> {
    let ts = ws.request_time_epoch;
    let id = ws.connection_id.as_str();
    let action = ws.action();
    // A membership write may change whether its client was a member at messages of the room's
    // history, and of a presence room now: how it was before, to compare after.
    let turn = match &action {
        Action::Join { chat_id } | Action::Leave { chat_id } => {
            // The client the write goes to: the connection's (its `$connect` names it).
            let client = world
                .conns
                .get(id)
                .and_then(|c| c.summary.client_id.clone());
            client.map(|client| {
                let presence = world.config.is_presence_room(chat_id);
                (
                    world.membership_turn(chat_id, &client, ts),
                    world.writes_before(chat_id, &client),
                    presence && crate::room_presence::member_now(world, chat_id, &client),
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
            // The connection lives at most its longest life past the listing.
            let until = ts.saturating_add(world.config.connection_max_age_ms);
            for device in &devices {
                let state = world.devices.entry_ref(device.as_str()).or_default();
                let seen = state.watchers.entry(id.to_owned()).or_default();
                if ts > *seen {
                    *seen = ts;
                    world.mark_watcher(device, id, ts);
                }
                world.mark_watched(device, until);
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
                let (before, writes, was) = turn.unwrap_or_default();
                let presence = world.config.is_presence_room(&chat_id);
                let mut owed = world.catch_up(&chat_id, &client, ts, &before);
                world.defer_catch_up(&chat_id, &client, ts, writes, record);
                let is = presence && crate::room_presence::member_now(world, &chat_id, &client);
                if was != is {
                    let joiner = Channel::WebSocket {
                        connection_id: ws.connection_id.clone(),
                    };
                    owed.extend(crate::room_presence::membership_turned(
                        world,
                        &chat_id,
                        &client,
                        is,
                        record.event_id(),
                        Some(joiner),
                    ));
                }
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
        Action::Presence(asked) => crate::presence_reply::presence_state(
            world,
            ws,
            client.as_deref(),
            &asked,
            record.event_id(),
        ),
        Action::Default { action, reason } => {
            crate::route::usage(world, ws, record.event_id(), action, &reason)
        }
    }
}
