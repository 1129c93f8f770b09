//! The embedded store of `processor local`, `processor dev` and `replay`'s store sink: everything
//! a run keeps on local disk, with no AWS at all, and the fold over it.
//!
//! A store directory holds the record [`log`] (an append-only, segmented log of frames: the
//! local stream, replayed after a crash from the last commit) and the projections in an embedded
//! database ([`redb_store`], behind the [`store::ProjectionStore`] port, whose in-memory adapter
//! and contract tests are in [`store`]). Poison input lines go to a [`quarantine`] file. The
//! [`pipeline`] folds batches of records over a store with the batch protocol, hands their
//! deliveries to a [`deliveries::Deliveries`] and counts them in a [`summary::Summary`]; a commit
//! encodes its entries on two threads ([`halves`]). [`dir::store_dir`] makes the directory.

pub mod deliveries;
pub mod dir;
pub mod halves;
pub mod log;
pub mod pipeline;
pub mod quarantine;
pub mod redb_store;
pub mod store;
pub mod summary;

/// The database file inside a store directory.
pub const DB_FILE: &str = "projections.redb";
/// The log directory inside a store directory.
pub const LOG_DIR: &str = "log";
