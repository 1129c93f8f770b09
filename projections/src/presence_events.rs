//! Presence events: what watchers hear when a subject's presence changes, decided by the fold
//! against the state at that point of the stream, and sent by socket only (never by push).
//!
//! A device's watchers (the live connections whose `set_notify_list` names it) hear each change
//! of its IoT connectivity: `{"type":"presence","deviceId","event":"connected"|"disconnected",
//! "connected","lastSeen","reason"}`. An event is emitted exactly when the client's derived
//! `connected` changes, so a duplicate, a stale out-of-order event, an older session's late
//! disconnect or a takeover's late `DUPLICATE_CLIENTID` emits nothing. A device's lifecycle
//! events all come on its own shard, in order (the stream's partition key is the client id), and
//! nothing else changes its sessions: the decision the first pass of a batch makes is final.

use crate::client::ClientState;
use crate::delivery::{Channel, Delivery};
use crate::presence::current_session;
use crate::world::World;
use schemas::EventId;
use serde_json::json;

/// Whether `client` is IoT-connected: its current session is open.
pub(crate) fn iot_connected(client: &ClientState, horizon_ms: u64) -> bool {
    current_session(&client.sessions, horizon_ms).is_some_and(|(_, s)| s.is_open())
}

impl World {
    /// Whether the client `id` is IoT-connected.
    pub(crate) fn iot_connected(&self, id: &str) -> bool {
        let horizon = self.config.reset_horizon_ms;
        self.clients
            .get(id)
            .is_some_and(|c| iot_connected(c, horizon))
    }

    /// `payload` to each live connection watching `device` (a telemetry record's or a presence
    /// event's), by socket.
    pub(crate) fn to_watchers(
        &self,
        device: &str,
        event_id: EventId,
        payload: &serde_json::Value,
    ) -> Vec<Delivery> {
        let now = self.watermark();
        let max_age = self.config.connection_max_age_ms;
        let Some(state) = self.devices.get(device) else {
            return Vec::new();
        };
        state
            .watchers
            .keys()
            .filter_map(|id| self.conns.get(id.as_str()).map(|c| (id, c)))
            .filter(|(_, c)| c.summary.is_live(now, max_age) && c.watches(device))
            .map(|(id, c)| {
                let channel = Channel::WebSocket {
                    connection_id: id.clone(),
                };
                Delivery::new(
                    event_id,
                    channel,
                    c.summary.client_id.clone(),
                    payload.clone(),
                )
            })
            .collect()
    }
}

/// The event `device`'s watchers hear now that its connectivity changed.
pub(crate) fn device(world: &World, device: &str, event_id: EventId) -> Vec<Delivery> {
    let view = world.client(device);
    let connected = view.as_ref().is_some_and(|v| v.connected);
    let mut payload = json!({
        "type": "presence",
        "deviceId": device,
        "event": if connected { "connected" } else { "disconnected" },
        "connected": connected,
        "lastSeen": view.as_ref().and_then(|v| v.last_seen),
    });
    let reason = view.and_then(|v| v.last_disconnect_reason);
    if let (Some(reason), false) = (reason, connected) {
        payload["reason"] = json!(reason);
    }
    world.to_watchers(device, event_id, &payload)
}
