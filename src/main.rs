//! The `latentlab` binary: no subcommand opens the window; subcommands run headless.

use clap::Parser;
use latentlab::cli::{self, Cli};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    // candle reads the thread count from the environment at every matrix product. Each
    // product runs on one thread: the parallelism is across models (`--threads`), which
    // scales better for these small matrices and never fights the window for cores.
    // SAFETY: set before any other thread exists.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    let threads = args.threads.map(usize::from);
    let result = match args.command {
        Some(command) => cli::run(command, threads.unwrap_or(1)),
        // A malformed lesson stops here, before any window opens.
        None => match args
            .lesson
            .as_deref()
            .map(latentlab::app::load_lesson)
            .transpose()
        {
            Ok(lesson) => latentlab::app::run(latentlab::app::Launch {
                threads,
                presentation: args.presentation,
                lesson,
            }),
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
