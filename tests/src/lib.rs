//! Cross-crate test support: realistic workloads for benches and whole-process runs, the AWS
//! emulator harness ([`emulator`]) for the integration tests against moto, and a server playing
//! API Gateway's `@connections` API ([`connections`]), which moto does not.
//!
//! The integration and property tests live in `tests/tests/`; the fold's own laws live beside
//! the fold in `projections/tests/`.

pub mod aws;
pub mod connections;
pub mod emulator;
pub mod fleet;
pub mod workload;
