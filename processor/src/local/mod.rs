//! `processor local`: the embedded run, with no AWS at all (DESIGN.md section 6).
//!
//! The stream is a local append-only log ([`log`]), the store an embedded database
//! ([`redb_store`], behind the [`store::ProjectionStore`] port), deliveries go to stdout. Records
//! come from [`input`], decoded and logged by [`ingest`] on its own thread; bad ones go to the
//! [`quarantine`]; [`pipeline`] folds a batch with the same pure fold the Lambda runs and hands
//! its deliveries to a [`deliveries::Deliveries`]; [`run()`] wires it together and [`summary`] reports.

pub mod cli;
pub mod deliveries;
pub mod ingest;
pub mod input;
pub mod log;
pub mod pipeline;
pub mod quarantine;
pub mod redb_store;
pub mod run;
pub mod store;
pub mod summary;

pub use cli::LocalArgs;
pub use run::run;
