//! `processor local`: the embedded run, with no AWS at all (docs/architecture.md, Where each
//! process runs).
//!
//! The stream is a local append-only log, the store an embedded database, and the pipeline that
//! folds batches over it with the same pure fold the Lambda runs (all in the `embedded_store`
//! crate); deliveries go to stdout. Records come from [`input`], decoded and logged by [`ingest`]
//! on its own thread; bad ones go to the quarantine file; [`run()`] wires it together.

pub mod cli;
pub mod ingest;
pub mod input;
pub mod run;

pub use cli::LocalArgs;
pub use run::run;
