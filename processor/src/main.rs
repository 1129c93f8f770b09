//! The `processor` binary: parse the command line, run the subcommand, map the outcome to an
//! exit code (0 success, 1 runtime failure, 2 usage error from clap).

use clap::Parser;
use processor::cli::{Cli, Command};
use std::process::ExitCode;

// The fold and the store allocate and free many small keys, records and entries: mimalloc is much
// faster at that than glibc's allocator (as in `replay`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // `processor dev --verbose` says what its gateway, broker and fold do, whatever RUST_LOG says.
    if matches!(&cli.command, Command::Dev(args) if args.verbose) {
        if let Ok(directive) = "dev_server=info".parse() {
            filter = filter.add_directive(directive);
        }
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    match cli.command {
        Command::Local(args) => match processor::local::run(&args) {
            Ok(summary) => {
                eprintln!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}", fold_flags::report::error_chain(e.as_ref()));
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
            eprintln!("error: {}", fold_flags::report::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
