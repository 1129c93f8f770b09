//! [`Record`]: any record on the stream, decoded.

use crate::{ConnectionGone, EpochMillis, Lifecycle, Telemetry, Tick, WebSocketRecord};
use serde::{Deserialize, Serialize};

/// One record from the stream, typed by its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// An AWS IoT lifecycle event.
    Lifecycle(Lifecycle),
    /// A WebSocket route event written by ingest.
    WebSocket(Box<WebSocketRecord>),
    /// A device's telemetry.
    Telemetry(Telemetry),
    /// Processor feedback: a connection found gone.
    ConnectionGone(ConnectionGone),
    /// The sweeper's mark of time on a shard.
    Tick(Tick),
}

/// A stable 128-bit id of a record's content: equal records (duplicates from retries, Firehose or
/// replays) get equal ids, so deliveries they cause can be de-duplicated.
///
/// Serialized as 32 hex digits: a JSON number this large would lose precision in most readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u128);

impl Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        u128::from_str_radix(&s, 16).map(EventId).map_err(|_| {
            serde::de::Error::custom(format!("event id: expected 32 hex digits, found {s:?}"))
        })
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl Record {
    /// The record's own event time (ms epoch): what the fold orders by.
    pub fn event_time(&self) -> EpochMillis {
        match self {
            Record::Lifecycle(e) => e.timestamp(),
            Record::WebSocket(e) => e.request_time_epoch,
            Record::Telemetry(e) => e.timestamp,
            Record::ConnectionGone(e) => e.timestamp,
            Record::Tick(e) => e.timestamp,
        }
    }

    /// The Kinesis partition key its source uses: client id, connection id or device id (a tick,
    /// put on its shard by explicit hash key, names its shard).
    pub fn partition_key(&self) -> &str {
        match self {
            Record::Lifecycle(e) => e.client_id(),
            Record::WebSocket(e) => &e.connection_id,
            Record::Telemetry(e) => &e.device_id,
            Record::ConnectionGone(e) => &e.connection_id,
            Record::Tick(e) => &e.shard_id,
        }
    }

    /// A short name of the record's kind, for logs and summaries.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Record::Lifecycle(e) => e.event_type(),
            Record::WebSocket(_) => "websocket",
            Record::Telemetry(_) => "telemetry",
            Record::ConnectionGone(_) => "connection_gone",
            Record::Tick(_) => "tick",
        }
    }

    /// The content id (see [`EventId`]): a hash of the record's canonical MessagePack encoding,
    /// which is independent of JSON field order, whitespace and unknown fields.
    pub fn event_id(&self) -> EventId {
        // The frame's positional encoding, not `rmp_serde::to_vec(self)`: the derives skip absent
        // options, so positionally `principalIdentifier: "a"` and `ipAddress: "a"` encoded the
        // same and two different records shared an id. The mirror writes `nil` for every absent
        // field, so each field keeps its position. Writing to a Vec cannot fail.
        let mut bytes = Vec::with_capacity(256);
        let _ = crate::frame_repr::write_record(self, &mut bytes);
        EventId(xxhash_rust::xxh3::xxh3_128(&bytes))
    }
}
