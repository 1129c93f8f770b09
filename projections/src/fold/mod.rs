//! Folding records into the world: each record merges in the little state it alone implies.
//!
//! [`World::apply`] dispatches a record by kind: IoT lifecycle events (`lifecycle`), WebSocket
//! route records (`websocket`), telemetry (routing only), `connection_gone` feedback and the
//! sweeper's ticks (time only). What a connection knows is copied into its client and the lobby
//! ([`World::sync_connection`]); a membership write goes to both its client and its room
//! (`rooms`).

mod lifecycle;
mod rooms;
mod websocket;

use crate::client::ConnSummary;
use crate::lattice::Merge;
use crate::world::World;
use crate::Delivery;
use lifecycle::lifecycle;
use rooms::resync_membership;
use schemas::Record;
use websocket::websocket;

impl World {
    /// Folds one record, in arrival order, and returns the deliveries it causes, decided against
    /// the state at this point. Total: it cannot fail and cannot panic.
    pub fn apply(&mut self, record: &Record) -> Vec<Delivery> {
        // Only records stamped by AWS's clocks move the fold's notion of now: a device's
        // telemetry timestamp or a feedback record must not be able to age out every WebSocket
        // connection at once. A tick is the sweeper's clock, a Lambda's: AWS's.
        let ts = match record {
            Record::Lifecycle(_) | Record::WebSocket(_) | Record::Tick(_) => record.event_time(),
            Record::Telemetry(_) | Record::ConnectionGone(_) => 0,
        };
        if ts > self.watermark() || self.watermark.is_none() {
            self.watermark = Some(ts.max(self.watermark()));
            self.mark_watermark();
        }
        let mut out = self.fold_one(record);
        if !self.announcing {
            return out;
        }
        // Whatever the record, its client's presence rooms hear if its presence turned.
        let connection = match record {
            Record::Lifecycle(e) => {
                out.extend(crate::announce::announce(self, e.client_id(), record));
                return out;
            }
            Record::WebSocket(ws) => ws.connection_id.as_str(),
            Record::ConnectionGone(g) => g.connection_id.as_str(),
            Record::Telemetry(_) | Record::Tick(_) => return out,
        };
        let client = self
            .conns
            .get(connection)
            .and_then(|c| c.summary.client_id.clone());
        if let Some(client) = client {
            out.extend(crate::announce::announce(self, &client, record));
        }
        out
    }

    /// [`World::apply`]'s own part for each kind of record.
    fn fold_one(&mut self, record: &Record) -> Vec<Delivery> {
        match record {
            Record::Lifecycle(e) => lifecycle(self, e, record),
            // A record its claims do not allow, or over a limit, changes nothing: its sender
            // hears why.
            Record::WebSocket(ws) => match crate::authorize::refusal(ws)
                .or_else(|| crate::limits::exceeded(self, ws, record.event_id()))
            {
                Some(refused) => refused.reply(self, ws, record.event_id()),
                None => websocket(self, ws, record),
            },
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
            Record::Tick(t) => self.tick(&t.shard_id, t.timestamp, record),
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
            client.last_seen = client.last_seen.max(stamped_at);
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
