//! `processor consume`: the Lambda's batch handler over a Kinesis stream polled through the SDK,
//! for containers and for the AWS emulator in tests (docs/architecture.md, Where each process
//! runs).
//!
//! It reads shards through `aws_adapters::source` (Kinesis or memory) and keeps each shard's
//! position through `aws_adapters::checkpoint` (the table); [`run`] is the loop; [`sweep`] the
//! sweeper beside it; [`cli`] holds the flags of `consume` and `provision`.

pub mod cli;
pub mod run;
pub mod sweep;

pub use run::{consume, Options, Summary};
