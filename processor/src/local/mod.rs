//! `processor local`: the embedded run, with no AWS at all (DESIGN.md section 6).
//!
//! The stream is a local append-only log, the store an embedded database (both in the
//! `embedded_store` crate), deliveries go to stdout. Records come from [`input`], decoded and
//! logged by [`ingest`] on its own thread; bad ones go to the quarantine file; [`pipeline`] folds a
//! batch with the same pure fold the Lambda runs and hands its deliveries to a
//! [`deliveries::Deliveries`]; [`run()`] wires it together and [`summary`] reports.

pub mod cli;
pub mod deliveries;
pub mod ingest;
pub mod input;
pub mod pipeline;
pub mod run;
pub mod summary;

pub use cli::LocalArgs;
pub use run::run;
