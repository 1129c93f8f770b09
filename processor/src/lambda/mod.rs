//! The processor as a Lambda on the Kinesis event source mapping.
//!
//! [`handler`] is the batch handler (shared with `processor consume`), which sends its deliveries
//! through `deliver`; [`runtime`] adapts it to `lambda_runtime`: a `KinesisEvent` in, a partial
//! batch response (`batchItemFailures`) out.

mod deliver;
pub mod handler;
pub mod runtime;

pub use handler::{BatchReport, Handler};
