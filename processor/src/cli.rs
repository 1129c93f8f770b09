//! The `processor` command line: one subcommand per way of running the processor.

use clap::{Parser, Subcommand};

/// The presence and delivery stream processor.
///
/// Folds AWS IoT lifecycle events and API Gateway WebSocket route events into per-client
/// presence projections, and decides the deliveries they cause.
#[derive(Debug, Parser)]
#[command(name = "processor", version, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fold a file of raw records into an embedded store, printing deliveries (no AWS needed).
    Local(crate::local::LocalArgs),
}
