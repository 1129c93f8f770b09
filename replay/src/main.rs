//! The `replay` binary: parse the command line, run the subcommand, print the summary, map the
//! outcome to an exit code (0 success, 1 runtime failure, 2 usage error or a source/sink that
//! this build does not support).

use anyhow::Context;
use clap::Parser;
use replay::cli::{Cli, Command};
use std::process::ExitCode;

// The fold allocates many small keys and records; mimalloc is much faster at that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let what = match &cli.command {
        Command::Rebuild(_) => "replay rebuild",
        Command::Explain(_) => "replay explain",
        Command::Diff(_) => "replay diff",
        Command::Convert(_) => "replay convert",
    };
    match replay::run(&cli.command).context(what) {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            // What failed, then each cause once.
            eprintln!("error: {}", fold_flags::report::error_chain(e.as_ref()));
            let code = e
                .downcast_ref::<replay::Error>()
                .map_or(1, replay::Error::exit_code);
            ExitCode::from(code)
        }
    }
}
