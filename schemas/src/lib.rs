//! Raw event types and codecs for the presence stream.
//!
//! Every record on the Kinesis stream is one JSON object, as its source wrote it: AWS IoT
//! lifecycle events ([`lifecycle`]), WebSocket route records written by ingest ([`websocket`]),
//! device telemetry ([`telemetry`]) and processor feedback ([`feedback`]). [`decode_json`] turns
//! bytes into a typed [`Record`] or a [`DecodeError`] that says which field, what was expected and
//! what was found. [`claims`] reads what a connection's token grants from a record's authorizer
//! context. [`action`] parses WebSocket message bodies into what the fold acts on.
//! Our own record kinds carry a schema version and older versions are upcast when read.
//!
//! [`encode_json`] writes a record back in its source's shape (the inverse of [`decode_json`]).
//! [`frame`] stores records in our local log and archive as checksummed, versioned MessagePack
//! frames, read back by [`FrameReader`] (or, reusing records, [`FrameDecoder`]). [`schema`]
//! publishes every kind's JSON Schema, kept in `schemas/json-schema/`.

pub mod action;
pub mod claims;
pub mod decode;
pub mod encode;
pub mod error;
pub mod feedback;
pub mod frame;
mod frame_decoder;
mod frame_fast;
pub mod frame_reader;
mod frame_repr;
mod json_fast;
pub mod lifecycle;
pub mod record;
pub mod schema;
pub mod telemetry;
pub mod tick;
pub mod time;
pub mod utf8;
pub mod websocket;
mod wire;

pub use action::{Action, PresenceOf};
pub use claims::Claims;
pub use decode::decode_json;
pub use encode::encode_json;
pub use error::DecodeError;
pub use feedback::ConnectionGone;
pub use frame::{decode_frame, encode_frame, FRAME_VERSION};
pub use frame_decoder::FrameDecoder;
pub use frame_reader::FrameReader;
pub use lifecycle::{
    ConnectFailed, Connected, DisconnectReason, Disconnected, EpochMillis, Lifecycle, Subscription,
};
pub use record::{EventId, Record};
pub use telemetry::Telemetry;
pub use tick::Tick;
pub use websocket::{WebSocketRecord, WsEventType};
