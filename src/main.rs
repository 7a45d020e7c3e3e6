//! The `latentlab` binary: no subcommand opens the window; subcommands run headless.

use clap::Parser;
use latentlab::cli::{self, Cli};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    // candle reads the thread count from the environment at every matrix product.
    // SAFETY: set before any other thread exists.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string()) };
    let result = match args.command {
        Some(command) => cli::run(command),
        None => latentlab::app::run(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
