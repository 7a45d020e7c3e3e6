//! `latentlab fetch`: download MNIST, Fashion-MNIST, KMNIST or dSprites into the cache.

use crate::data::fetch::{self, Checksums, FetchOptions, FileSource, RemoteSet};
use anyhow::{Result, anyhow};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// `latentlab fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The data set to download.
    #[arg(value_parser = RemoteSet::ALL.map(|s| s.name()))]
    pub name: String,
    /// Base URL holding the set's files (the four IDX .gz files, train-images-idx3-ubyte.gz,
    /// ...; for dsprites its .npz). Replaces the built-in mirrors (never falls back to
    /// them); repeat it to try several in order.
    #[arg(long, value_name = "URL")]
    pub mirror: Vec<String>,
    /// Cache folder. Default: $LATENTLAB_CACHE, else $XDG_CACHE_HOME/latentlab, else
    /// ~/.cache/latentlab. The files go into a sub-folder named after the data set.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Test-only: lines `FILENAME MD5 [SIZE]` replacing the built-in checksums.
    #[arg(long, hide = true, value_name = "FILE")]
    pub checksums: Option<PathBuf>,
}

/// Downloads and verifies the set's files, with a progress bar; says how to train on them.
pub fn run(a: FetchArgs) -> Result<()> {
    let set =
        RemoteSet::from_name(&a.name).ok_or_else(|| anyhow!("unknown data set {}", a.name))?;
    let mut opts = FetchOptions::new(set, a.cache.as_deref())?;
    if !a.mirror.is_empty() {
        opts.mirrors = a.mirror.clone();
    }
    if let Some(path) = &a.checksums {
        opts.checksums = Checksums::load(set, path)?;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:32} {bar:30.cyan/blue} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Ctrl-C ends the process at once; the `.part` file it leaves is deleted by the next run.
    let cancel = AtomicBool::new(false);
    let result = fetch::fetch(
        set,
        &opts,
        &mut |p| {
            bar.set_message(format!("({}/{}) {}", p.index + 1, p.count, p.file));
            bar.set_length(p.total.unwrap_or(p.done));
            bar.set_position(p.done);
        },
        &cancel,
    );
    bar.finish_and_clear();
    let fetched = result.map_err(|e| anyhow!("fetch {}: {e}", set.name()))?;
    for failure in &fetched.mirror_failures {
        eprintln!("note: {failure} (another mirror served it)");
    }
    for (file, source) in &fetched.files {
        match source {
            FileSource::AlreadyPresent => {
                super::output::out!("{file}  already present, checksum ok")
            }
            FileSource::Downloaded { url } => super::output::out!("{file}  downloaded from {url}"),
        }
    }
    super::output::out!("{} is in {}", set.title(), fetched.dir.display());
    let prefix = match &a.cache {
        Some(dir) => format!("LATENTLAB_CACHE={} ", dir.display()),
        None => String::new(),
    };
    super::output::out!(
        "train on it: {prefix}latentlab train --dataset {}",
        set.name()
    );
    Ok(())
}
