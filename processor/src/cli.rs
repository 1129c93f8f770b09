//! The `processor` command line: one subcommand per way of running the processor outside Lambda
//! (the Lambda runs the `processor-lambda` binary).

use clap::{Parser, Subcommand};

/// The presence and delivery stream processor.
///
/// Folds AWS IoT lifecycle events and API Gateway WebSocket route events into per-client
/// presence projections, and decides the deliveries they cause.
#[derive(Debug, Parser)]
#[command(
    name = "processor",
    version,
    propagate_version = true,
    after_help = "\
Where to start:
  processor local --input examples/seeds.jsonl   fold the README's example, no AWS, no server
  processor dev                                  the whole pipeline on this machine, for real
                                                 WebSocket and MQTT clients (it prints how)
  processor provision, then processor consume    fold a Kinesis stream into DynamoDB, as the
                                                 Lambda does (AWS, or an emulator)

Settings: the fold's come from the same variables as on Lambda (CHAT_TOPIC, RESET_HORIZON,
HISTORY, PRESENCE_ROOMS, RATE_LIMIT, ...) in every command; a tool's own are PRESENCE_*.
'processor <COMMAND> --help' tells more."
)]
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
    /// Poll a Kinesis stream and fold it into DynamoDB, as the Lambda does.
    Consume(crate::consume::cli::ConsumeArgs),
    /// Run the whole pipeline locally: WebSocket gateway, MQTT broker, processor, HTTP.
    Dev(dev_server::DevArgs),
    /// Create the stream, the table, the quarantine bucket and the push topic, if missing.
    Provision(crate::consume::cli::ProvisionArgs),
}
