//! The processor's binaries around the pure fold of the `projections` crate.
//!
//! [`local`] is `processor local`, the embedded run: a local append-only log as the stream, an
//! embedded database as the store (the `embedded_store` crate), stdout as the delivery sink.
//! [`cli`] is the command line that `main.rs` parses and dispatches; `processor dev` (the same
//! embedded run fed live by a local WebSocket gateway and MQTT broker) is the `dev_server` crate.
//!
//! On AWS: [`lambda`] is the processor Lambda's batch handler, written against the ports of the
//! `aws_adapters` crate (the store, the delivery sinks, the quarantine, the feedback stream) and
//! configured by [`settings`]; [`consume`] runs it over a Kinesis stream polled through the SDK;
//! [`ingest`] (the `ingest` binary) writes API Gateway WebSocket route events to the stream.

pub mod cli;
pub mod consume;
pub mod ingest;
pub mod lambda;
pub mod local;
pub mod settings;
