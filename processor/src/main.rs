//! The `processor` binary: parse the command line, run the subcommand, map the outcome to an
//! exit code (0 success, 1 runtime failure, 2 usage error from clap).

// The Lambda future (SDK clients inside the runtime service) nests deeper than the default limit.
#![recursion_limit = "256"]

use clap::Parser;
use processor::cli::{Cli, Command};
use std::process::ExitCode;

// The fold and the store allocate and free many small keys, records and entries: mimalloc is much
// faster at that than glibc's allocator (as in `replay`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if processor::lambda::runtime::in_lambda() {
        return lambda();
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match cli.command {
        Command::Local(args) => match processor::local::run(&args) {
            Ok(summary) => {
                eprintln!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Consume(args) => report(processor::consume::cli::run_consume(&args)),
        Command::Dev(args) => report(dev_server::run(&args)),
        Command::Provision(args) => report(processor::consume::cli::run_provision(&args)),
    }
}

fn report(outcome: anyhow::Result<String>) -> ExitCode {
    match outcome {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Under Lambda: JSON logs (CloudWatch), a current-thread runtime, the Kinesis handler.
fn lambda() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .without_time()
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(processor::lambda::runtime::run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda stopped");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
