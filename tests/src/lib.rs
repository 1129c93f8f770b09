//! Cross-crate test support: realistic workloads for benches and whole-process runs, and the
//! AWS emulator harness ([`emulator`]) for the integration tests against moto.
//!
//! The integration and property tests live in `tests/tests/`; the fold's own laws live beside
//! the fold in `projections/tests/`.

pub mod aws;
pub mod emulator;
pub mod fleet;
pub mod workload;
