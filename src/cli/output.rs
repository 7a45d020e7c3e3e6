//! Standard output for the subcommands. A reader that goes away (`latentlab train … | head -1`)
//! is not an error: `println!` would panic on the broken pipe; here the rest of the output is
//! dropped without a word and the command goes on, so a run still writes its files.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once standard output has failed: later lines are dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Like `println!`, but a closed standard output is not a panic (see the module).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::print_line(format_args!($($arg)*))
    };
}
pub(crate) use out;

/// Writes one line to standard output. A broken pipe ends the output quietly; any other
/// failure (a full disk) is said once on standard error.
pub(crate) fn print_line(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = write_line(&mut std::io::stdout().lock(), args) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("warning: cannot write to standard output: {e}; the rest is dropped");
        }
    }
}

fn write_line(w: &mut impl Write, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    w.write_fmt(args)?;
    w.write_all(b"\n")?;
    w.flush()
}
