//! `latentlab pack`: a lesson and the saved runs its steps open, as one class bundle.

use super::output::out;
use crate::lessons::bundle;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// `latentlab pack`.
#[derive(Args, Debug)]
pub struct PackArgs {
    /// The lesson file (Markdown). Every run its steps open must open.
    pub lesson: PathBuf,
    /// The bundle to write, by convention `NAME.latentlab`.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace a file already at --out.
    #[arg(long)]
    pub overwrite: bool,
}

/// Packs the bundle and says what went in.
pub fn run(a: PackArgs) -> Result<()> {
    let packed = bundle::pack(&a.lesson, &a.out, a.overwrite)?;
    let runs = if packed.runs.is_empty() {
        "no saved runs".to_string()
    } else {
        format!(
            "{} saved run(s): {}",
            packed.runs.len(),
            packed.runs.join(", ")
        )
    };
    out!(
        "packed lesson '{}' and {runs} into {} ({} files, {} bytes)",
        packed.lesson,
        a.out.display(),
        packed.files,
        packed.bytes
    );
    if !bundle::is_bundle(&a.out) {
        eprintln!(
            "warning: {} does not end in .{}; --lesson and Open lesson file… take bundles \
             by that extension",
            a.out.display(),
            bundle::BUNDLE_EXTENSION
        );
    }
    Ok(())
}
