//! What the dev page hears as it happens: a feed the fold thread writes to after each batch
//! (records folded, deliveries made) and every open page reads as server-sent events.
//!
//! The latest deliveries are kept (up to [`RECENT`]) so that a page opened now shows what just
//! happened; projections are not kept here, as the page asks for them (`GET /clients`) when a
//! batch is folded.

use projections::Delivery;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::broadcast;

/// How many deliveries a newly opened page is shown.
pub const RECENT: usize = 50;

/// How many events a slow page may fall behind before it misses some (it then refetches).
const BACKLOG: usize = 1024;

/// One event on the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    /// A batch was folded: projections may have changed.
    Folded {
        /// How many records the batch held.
        records: usize,
    },
    /// A delivery was sent.
    Delivery(Seen),
}

impl Event {
    /// The server-sent event's name: the page listens by name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Folded { .. } => "folded",
            Event::Delivery(_) => "delivery",
        }
    }
}

/// A delivery as the page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    /// When it was sent, ms epoch.
    pub at: u64,
    /// `websocket`, `mqtt` or `push`.
    pub channel: &'static str,
    /// The connection id, the topic or the client id.
    pub to: String,
    /// The recipient client, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The payload's `type`: `message`, `presence`, `telemetry`, ...
    pub kind: String,
}

impl Seen {
    /// How the page shows `delivery`, sent at `at`.
    pub fn new(delivery: &Delivery, at: u64) -> Self {
        Seen {
            at,
            channel: delivery.channel.name(),
            to: delivery.channel.target().to_owned(),
            client_id: delivery.recipient().map(str::to_owned),
            kind: delivery.payload["type"].as_str().unwrap_or("?").to_owned(),
        }
    }
}

/// The feed: written by the fold thread, read by every open page.
#[derive(Debug)]
pub struct Feed {
    events: broadcast::Sender<Event>,
    recent: Mutex<VecDeque<Seen>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            events: broadcast::channel(BACKLOG).0,
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
        }
    }
}

impl Feed {
    fn recent_lock(&self) -> MutexGuard<'_, VecDeque<Seen>> {
        // Pushes and pops cannot leave the queue half-updated: a poisoned lock is still usable.
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tells every open page of `event` (no page open: nobody hears it, which is fine).
    pub fn publish(&self, event: Event) {
        if let Event::Delivery(seen) = &event {
            let mut recent = self.recent_lock();
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(seen.clone());
        }
        let _ = self.events.send(event);
    }

    /// A new reader, hearing what is published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The latest deliveries, oldest first.
    pub fn recent(&self) -> Vec<Seen> {
        self.recent_lock().iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use projections::Channel;
    use schemas::EventId;

    fn delivery(n: u64) -> Delivery {
        Delivery::new(
            EventId(u128::from(n)),
            Channel::Mqtt {
                topic: format!("app/bob/chat/{n}"),
            },
            Some("bob".into()),
            serde_json::json!({"type": "message"}),
        )
    }

    #[test]
    fn keeps_the_latest_deliveries_and_tells_readers() {
        let feed = Feed::default();
        let mut reader = feed.subscribe();
        for n in 0..(RECENT as u64 + 5) {
            feed.publish(Event::Delivery(Seen::new(&delivery(n), n)));
        }
        let recent = feed.recent();
        assert_eq!(recent.len(), RECENT);
        assert_eq!(recent[0].to, "app/bob/chat/5");
        assert_eq!(recent[0].client_id.as_deref(), Some("bob"));
        assert_eq!(recent[0].kind, "message");
        let first = reader.try_recv().unwrap();
        assert_eq!(first.name(), "delivery");
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::json!({"type": "delivery", "at": 0, "channel": "mqtt",
                "to": "app/bob/chat/0", "clientId": "bob", "kind": "message"})
        );
    }

    #[test]
    fn a_folded_batch_is_an_event_of_its_own() {
        let feed = Feed::default();
        let mut reader = feed.subscribe();
        feed.publish(Event::Folded { records: 3 });
        assert_eq!(reader.try_recv().unwrap(), Event::Folded { records: 3 });
        assert!(feed.recent().is_empty());
    }
}
