//! The processor's Lambda functions under `lambda_runtime`: the Kinesis batch handler, or with
//! `Handler: sweeper` (Lambda passes it as `_HANDLER`) the scheduled sweeper, or with `Handler:
//! authorizer` the WebSocket `$connect` authorizer.
//!
//! A binary of its own so that the deployed code holds only what Lambda runs: no command line, no
//! embedded store, no `processor dev` gateway (template.yaml builds it with `Binary:
//! processor-lambda` for both functions). Settings come from the function's environment
//! (`processor::settings`); a bad one stops the cold start with a message naming it.

// The Lambda future (SDK clients inside the runtime service) nests deeper than the default limit.
#![recursion_limit = "256"]

use std::process::ExitCode;

// The fold and the store allocate and free many small keys, records and entries: mimalloc is much
// faster at that than glibc's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// JSON logs without timestamps (CloudWatch stamps every line), a current-thread runtime (one
/// batch at a time per execution environment), the handler until Lambda stops the process.
fn main() -> ExitCode {
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
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    let run = match handler.as_str() {
        processor::lambda::sweeper::HANDLER => runtime.block_on(processor::lambda::sweeper::run()),
        processor::lambda::authorizer::HANDLER => {
            runtime.block_on(processor::lambda::authorizer::run())
        }
        _ => runtime.block_on(processor::lambda::runtime::run()),
    };
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda stopped");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
