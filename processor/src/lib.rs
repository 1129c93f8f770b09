//! Binaries and adapters around the pure fold of the `projections` crate.
//!
//! [`local`] is `processor local`, the embedded run: a local append-only log as the stream, an
//! embedded database as the store, stdout as the delivery sink. [`cli`] is the command line that
//! `main.rs` parses and dispatches.

pub mod aws;
pub mod batch;
pub mod cli;
pub mod consume;
pub mod lambda;
pub mod local;
