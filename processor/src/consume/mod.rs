//! `processor consume`: the Lambda's batch handler over a Kinesis stream polled through the SDK,
//! for containers and for the AWS emulator in tests (DESIGN.md section 6).
//!
//! [`source`] reads shards ([`source::ShardSource`]: Kinesis or memory), [`checkpoint`] keeps
//! each shard's position in the table, [`run`] is the loop; [`cli`] holds the flags of
//! `consume` and `provision`.

pub mod checkpoint;
pub mod cli;
pub mod run;
pub mod source;

pub use run::{consume, Options, Summary};
