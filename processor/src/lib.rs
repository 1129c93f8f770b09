//! Binaries and adapters around the pure fold of the `projections` crate.
//!
//! [`local`] is `processor local`, the embedded run: a local append-only log as the stream, an
//! embedded database as the store, stdout as the delivery sink. [`cli`] is the command line that
//! `main.rs` parses and dispatches. [`dev`] is `processor dev`: the same embedded run fed live by a
//! local WebSocket gateway and MQTT broker.
//!
//! On AWS: [`sinks`] sends deliveries (API Gateway `PostToConnection`, IoT publish, SNS push)
//! behind the `DeliverySink` port, [`quarantine_aws`] keeps poison records in S3 behind the
//! `Quarantine` port, and [`ingest`] (the `ingest` binary) writes API Gateway WebSocket route
//! events to the Kinesis stream.

pub mod aws;
pub mod cli;
pub mod consume;
pub mod dev;
pub mod fold_flags;
pub mod ingest;
pub mod lambda;
pub mod local;
pub mod quarantine_aws;
pub mod sinks;
