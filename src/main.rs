//! The `latentlab` binary: no subcommand opens the window; subcommands run headless.

use clap::Parser;
use latentlab::cli::{self, Cli};
use latentlab::train::spec::THREADS;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    // candle reads the thread count from the environment at every matrix product. Each
    // product runs on one thread: the parallelism is across models (`--threads`), which
    // scales better for these small matrices and never fights the window for cores.
    // SAFETY: set before any other thread exists.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    if args.command.is_none() && std::env::var_os("LP_NUM_THREADS").is_none() {
        // Without a GPU, Mesa's llvmpipe draws the window on one thread per core by
        // default, and each frame then takes the training core too: one drawing thread
        // keeps the window on the core the training leaves it (measured: a step of three
        // models 12.7 → 10.0 ms under Xvfb). No effect on other GL drivers.
        // SAFETY: set before any other thread exists.
        unsafe { std::env::set_var("LP_NUM_THREADS", "1") };
    }
    latentlab::model::keep_freed_memory();
    let threads = args.threads;
    let checked = threads.map_or(Ok(()), |t| {
        THREADS
            .check_flag("threads", t)
            .map(|_| ())
            .map_err(anyhow::Error::msg)
    });
    let result = checked.and_then(|()| match args.command {
        // `lessons --check` and `--render` need the window's code: it is carried out there.
        Some(cli::Command::Lessons(a)) => match a.fit_request() {
            Some(request) => latentlab::app::lesson_check::run_request(request),
            None => cli::run(cli::Command::Lessons(a), threads.unwrap_or(1)),
        },
        Some(command) => cli::run(command, threads.unwrap_or(1)),
        // A malformed lesson or a run that cannot open stops here, before any window opens.
        None => match args
            .lesson
            .as_deref()
            .map(latentlab::app::load_lesson)
            .transpose()
        {
            Ok(lesson) => match args
                .open
                .as_deref()
                .map(latentlab::app::load_run)
                .transpose()
            {
                Ok(run) => latentlab::app::run(latentlab::app::Launch {
                    threads,
                    presentation: args.presentation,
                    lesson,
                    run: run.map(Box::new),
                }),
                Err(e) => Err(anyhow::anyhow!("cannot open the run: {e}")),
            },
            Err(e) => Err(e.into()),
        },
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: an error whose text already
/// holds its cause's (`file: No such file or directory`) is not followed by it again.
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}
