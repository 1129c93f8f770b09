//! The processor as a Lambda on the Kinesis event source mapping, and the sweeper on its
//! schedule.
//!
//! [`handler`] is the batch handler (shared with `processor consume`), which sends its deliveries
//! through `deliver`; [`runtime`] adapts it to `lambda_runtime`: a `KinesisEvent` in, a partial
//! batch response (`batchItemFailures`) out. [`sweeper`] runs a sweep per scheduled event;
//! [`authorizer`] answers API Gateway's `$connect` authorizer calls. [`metrics`] writes each
//! batch's CloudWatch metrics (embedded metric format) on the log.

pub mod authorizer;
mod deliver;
pub mod handler;
pub mod metrics;
pub mod runtime;
pub mod sweeper;

pub use handler::{BatchReport, ChannelCounts, Handler};
