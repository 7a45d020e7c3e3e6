//! Saved runs: a folder holding the checkpoints, settings, metrics, loss history, figures
//! and any extra files (the timeline), vouched for by a `run.json` manifest written last.
//! The window's Save… and `latentlab train --out` write the same format; `--open` and
//! "Open run…" read it back.
//!
//! A run is written into a fresh hidden sibling folder ([`Staging`]) and renamed into place
//! once every file and the manifest are on disk, so a folder under the run's name is
//! always complete (see `write.rs`).

mod check;
mod lock;
mod rows;
mod write;

pub use check::{CheckpointMismatch, ManifestProblem};
pub use rows::{
    LossRow, LossesCsvError, RowAt, losses_csv_header, metrics_line, parse_losses_csv,
    write_loss_rows,
};
pub use write::{RunSave, Staging, commit};

use super::spec::RunSpec;
use crate::data::{self, Dataset, Sizes};
use crate::model::ModelKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The `format` field of every run.json.
pub const RUN_FORMAT: &str = "latentlab-run";
/// The layout version this build writes and reads.
pub const RUN_VERSION: u32 = 1;
/// The manifest's file name.
pub const MANIFEST: &str = "run.json";
/// The losses as a table, one row per logged point.
pub const LOSSES_CSV: &str = "losses.csv";
/// The metrics rows, one JSON object per line.
pub const METRICS_JSONL: &str = "metrics.jsonl";
/// Largest manifest read: a real one takes a few kB.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// The data set a run trained on, enough to load it again and to know it is the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Its spec (`digits`, `idx:/data/mnist`, ...).
    pub name: String,
    /// The seed it was made (or split) with.
    pub seed: u64,
    /// Training items.
    pub train: usize,
    /// Test items.
    pub test: usize,
    /// SHA-256 of its items and labels ([`fingerprint`]).
    pub fingerprint: String,
    /// The names of the factors its items carry (`sprites`: shape, scale, orientation,
    /// x, y), the factors MIG is measured against; empty for sets without (and in runs
    /// saved before factors were recorded).
    #[serde(default)]
    pub factor_names: Vec<String>,
}

impl DataInfo {
    /// The description of `ds`, made with `seed`.
    pub fn of(ds: &Dataset, seed: u64) -> Self {
        Self {
            name: ds.name.clone(),
            seed,
            train: ds.train.len(),
            test: ds.test.len(),
            fingerprint: fingerprint(ds),
            factor_names: ds.factor_names.clone(),
        }
    }
}

/// One model of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Its name (the kind's name).
    pub name: String,
    /// Its kind.
    pub kind: ModelKind,
    /// The checkpoint's stem inside the folder: `<stem>.json` and `<stem>.safetensors`.
    pub checkpoint: String,
}

/// One file the manifest vouches for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its name inside the run folder.
    pub name: String,
    /// Its length.
    pub bytes: u64,
    /// SHA-256 of its bytes, in hex.
    pub sha256: String,
}

/// `run.json`: what the run is and which files make it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`RUN_FORMAT`].
    pub format: String,
    /// Layout version ([`RUN_VERSION`]).
    pub version: u32,
    /// The program that wrote it.
    pub written_by: String,
    /// The settings of the run (the window's and the command line's [`RunSpec`]).
    pub spec: RunSpec,
    /// Cells per side of the window's latent grid, where the window saved it.
    pub grid_k: Option<usize>,
    /// The data set.
    pub data: DataInfo,
    /// The models, in display order.
    pub models: Vec<ModelEntry>,
    /// Optimiser steps done.
    pub step: u64,
    /// Epochs done.
    pub epoch: usize,
    /// Batches in one epoch.
    pub batches_per_epoch: usize,
    /// Seconds spent training.
    pub elapsed_secs: f64,
    /// Every file of the run but run.json, with its length and hash.
    pub files: Vec<FileEntry>,
}

/// Why a run could not be saved or opened. Every message names the folder or file.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The folder is not there.
    #[error("{0}: there is no such folder")]
    NoFolder(String),
    /// The folder holds no run.json, or one that is not a run's.
    #[error("{path}: not a saved run ({why})")]
    NotARun {
        /// The folder.
        path: String,
        /// What is missing or wrong.
        why: String,
    },
    /// Written by a later (or unknown) version of LatentLab.
    #[error("{path}: run format version {found}; this build reads version {RUN_VERSION}")]
    Version {
        /// run.json.
        path: String,
        /// The version it says.
        found: u32,
    },
    /// A file the manifest lists is not there.
    #[error("{path}: missing (run.json lists it); the run is incomplete")]
    Missing {
        /// The file.
        path: String,
    },
    /// A file's length or hash differs from what the manifest says.
    #[error("{path}: {why}; the file was changed or damaged after the run was saved")]
    Corrupt {
        /// The file.
        path: String,
        /// Length or hash, and the numbers.
        why: String,
    },
    /// The run's data set cannot be loaded here.
    #[error("{path}: its data set '{name}' is not available here: {why}")]
    DataUnavailable {
        /// The run folder.
        path: String,
        /// The data set's spec.
        name: String,
        /// Why it could not be loaded.
        why: String,
    },
    /// The data set loaded under the run's name holds other items.
    #[error(
        "{path}: the data set '{name}' here is not the one the run trained on ({why}); \
         the models would be shown on other items"
    )]
    OtherData {
        /// The run folder.
        path: String,
        /// The data set's spec.
        name: String,
        /// What differs.
        why: String,
    },
    /// A run is already there and overwriting was not asked for.
    #[error(
        "{path}: {what}; choose another folder (or, on the command line, replace it with \
         --overwrite)"
    )]
    Exists {
        /// The folder.
        path: String,
        /// What is there.
        what: String,
    },
    /// The destination holds something that is not a LatentLab run: never replaced.
    #[error(
        "{path}: {what}; --overwrite replaces only a saved LatentLab run, so nothing was \
         changed: choose another folder"
    )]
    NotReplaceable {
        /// The folder.
        path: String,
        /// What is there.
        what: String,
    },
    /// Another save of the same name is under way.
    #[error(
        "{path}: another save into this folder is under way (it holds {lock}); nothing was \
         changed: wait for it or choose another folder"
    )]
    Busy {
        /// The folder.
        path: String,
        /// The lock file.
        lock: String,
    },
    /// run.json reads but its fields do not fit together or the limits.
    #[error("{path}: {problem}")]
    Manifest {
        /// The run folder.
        path: String,
        /// What is wrong.
        #[source]
        problem: ManifestProblem,
    },
    /// A checkpoint does not load or is not the one run.json describes.
    #[error("{path}: {problem}")]
    Checkpoint {
        /// The checkpoint's description.
        path: String,
        /// What is wrong.
        #[source]
        problem: CheckpointMismatch,
    },
    /// losses.csv does not read.
    #[error("{path}: {problem}")]
    Losses {
        /// losses.csv.
        path: String,
        /// The line that is wrong.
        #[source]
        problem: LossesCsvError,
    },
    /// Something about the run's contents does not fit (models, checkpoints).
    #[error("{path}: {why}")]
    Invalid {
        /// The file or folder.
        path: String,
        /// What is wrong.
        why: String,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A saved run that opened: its manifest checked, every file present with its hash.
#[derive(Clone, Debug)]
pub struct OpenedRun {
    /// The run folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The checkpoint description (`.json`) of each model, in manifest order.
    pub checkpoints: Vec<PathBuf>,
    /// The loss rows of `losses.csv` (empty if the run has none).
    pub losses: Vec<LossRow>,
    /// Files this module does not read itself (a timeline, ...), by name, checked.
    pub extra: BTreeMap<String, Vec<u8>>,
}

impl OpenedRun {
    /// Where training starts from: the saved weights, step and epoch.
    pub fn start_from(&self) -> super::StartFrom {
        super::StartFrom {
            checkpoints: self.checkpoints.clone(),
            step: self.manifest.step,
            epoch: self.manifest.epoch,
            elapsed_secs: self.manifest.elapsed_secs,
        }
    }

    /// Loads the run's data set (its saved sizes for a built-in one) and checks that it is
    /// the same items the run trained on.
    pub fn load_data(&self) -> Result<Dataset, RunError> {
        let d = &self.manifest.data;
        let sizes = data::BUILTIN_NAMES
            .contains(&d.name.as_str())
            .then_some(Sizes {
                train: d.train,
                test: d.test,
            });
        let ds = data::load_with_sizes(&d.name, d.seed, sizes).map_err(|e| {
            RunError::DataUnavailable {
                path: self.dir.display().to_string(),
                name: d.name.clone(),
                why: e.to_string(),
            }
        })?;
        self.check_data(&ds)?;
        Ok(ds)
    }

    /// The run's data set is `ds`: same name, sizes and items.
    pub fn check_data(&self, ds: &Dataset) -> Result<(), RunError> {
        let d = &self.manifest.data;
        let other = |why: String| RunError::OtherData {
            path: self.dir.display().to_string(),
            name: d.name.clone(),
            why,
        };
        if ds.train.len() != d.train || ds.test.len() != d.test {
            return Err(other(format!(
                "it has {} train and {} test items, the run had {} and {}",
                ds.train.len(),
                ds.test.len(),
                d.train,
                d.test
            )));
        }
        let now = fingerprint(ds);
        if now != d.fingerprint {
            return Err(other(format!(
                "its items hash to {}…, the run's to {}…",
                &now[..12],
                d.fingerprint.get(..12).unwrap_or(&d.fingerprint)
            )));
        }
        Ok(())
    }
}

/// SHA-256 of a data set's item shape, items (f32, little-endian) and labels, train then
/// test: two data sets with the same fingerprint hold the same items in the same order.
pub fn fingerprint(ds: &Dataset) -> String {
    let mut h = Sha256::new();
    h.update(format!("{:?}\n", ds.shape).as_bytes());
    for split in [&ds.train, &ds.test] {
        h.update((split.labels.len() as u64).to_le_bytes());
        for chunk in split.x.chunks(4096) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
            h.update(&bytes);
        }
        let labels: Vec<u8> = split.labels.iter().flat_map(|l| l.to_le_bytes()).collect();
        h.update(&labels);
    }
    hex(&h.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 and length of the file at `path`, read in pieces.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String), RunError> {
    hash_file_up_to(path, u64::MAX - 1)
}

/// SHA-256 and length of at most `most + 1` bytes of the file at `path`, read in pieces (a
/// file longer than `most` shows as `most + 1` bytes).
pub(crate) fn hash_file_up_to(path: &Path, most: u64) -> Result<(u64, String), RunError> {
    let mut f = std::fs::File::open(path)
        .map_err(io_err(path))?
        .take(most.saturating_add(1));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        len += n as u64;
    }
    Ok((len, hex(&h.finalize())))
}

/// Reads and checks `dir/run.json` alone (no file hashes): what it says, or why not.
pub fn read_manifest(dir: &Path) -> Result<Manifest, RunError> {
    let shown = dir.display().to_string();
    if !dir.is_dir() {
        return Err(RunError::NoFolder(shown));
    }
    let path = dir.join(MANIFEST);
    let not_a_run = |why: String| RunError::NotARun {
        path: shown.clone(),
        why,
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(not_a_run(format!("it has no {MANIFEST}")));
        }
        Err(e) => return Err(io_err(&path)(e)),
    };
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(not_a_run(format!(
            "its {MANIFEST} is {} bytes, more than a run's manifest can be",
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| not_a_run(format!("its {MANIFEST} is not valid JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(RUN_FORMAT) {
        return Err(not_a_run(format!(
            "its {MANIFEST} does not say format \"{RUN_FORMAT}\""
        )));
    }
    let version = match value.get("version") {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(u64::MAX),
        Some(other) => {
            return Err(not_a_run(format!(
                "the version in its {MANIFEST} is not a number ({other})"
            )));
        }
        None => return Err(not_a_run(format!("its {MANIFEST} has no version"))),
    };
    if version != u64::from(RUN_VERSION) {
        return Err(RunError::Version {
            path: path.display().to_string(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
        });
    }
    let manifest: Manifest = serde_json::from_value(value)
        .map_err(|e| not_a_run(format!("its {MANIFEST} does not read: {e}")))?;
    check_names(&manifest)
        .and_then(|()| check::fields(&manifest))
        .map_err(|problem| RunError::Manifest {
            path: path.display().to_string(),
            problem,
        })?;
    Ok(manifest)
}

/// Every name in the manifest is a plain file name, and each model's checkpoint is listed.
fn check_names(m: &Manifest) -> Result<(), ManifestProblem> {
    for f in &m.files {
        if !plain_name(&f.name) || f.name == MANIFEST {
            return Err(ManifestProblem::FileName(f.name.clone()));
        }
    }
    if m.models.is_empty() {
        return Err(ManifestProblem::NoModels);
    }
    for model in &m.models {
        for ext in ["json", "safetensors"] {
            let name = format!("{}.{ext}", model.checkpoint);
            if !m.files.iter().any(|f| f.name == name) {
                return Err(ManifestProblem::NoCheckpoint {
                    model: model.name.clone(),
                    file: name,
                });
            }
        }
    }
    Ok(())
}

/// A name with no folder part: what a run's files are called.
pub(crate) fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && Path::new(name).file_name().is_some_and(|n| n == name)
}

/// True for the files a run's own code reads or writes; the rest go to the caller as extra.
fn is_known(name: &str, m: &Manifest) -> bool {
    name == LOSSES_CSV
        || name == METRICS_JSONL
        || name.ends_with(".png")
        || m.models.iter().any(|e| {
            name == format!("{}.json", e.checkpoint)
                || name == format!("{}.safetensors", e.checkpoint)
        })
}

/// What is at `path` where a run's file should be, if it is not a plain file: "a folder",
/// "a FIFO", ... (a link is refused too: a run's files are its own).
fn not_a_file(path: &Path) -> Result<Option<&'static str>, RunError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RunError::Missing {
                path: path.display().to_string(),
            });
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    let t = meta.file_type();
    if t.is_file() {
        return Ok(None);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Ok(Some("a FIFO (named pipe)"));
        }
        if t.is_socket() {
            return Ok(Some("a socket"));
        }
        if t.is_block_device() || t.is_char_device() {
            return Ok(Some("a device"));
        }
    }
    Ok(Some(if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a plain file"
    }))
}

/// Checks one listed file: a plain file, within its cap, of the listed length (all before
/// it is read), then its hash, reading no more than the listed length.
fn check_file(dir: &Path, f: &FileEntry, manifest: &Manifest) -> Result<(), RunError> {
    let path = dir.join(&f.name);
    let corrupt = |why: String| RunError::Corrupt {
        path: path.display().to_string(),
        why,
    };
    if let Some(what) = not_a_file(&path)? {
        return Err(RunError::Invalid {
            path: path.display().to_string(),
            why: format!("is {what}, not a file (run.json lists it as one of the run's files)"),
        });
    }
    let cap = check::file_cap(&f.name, manifest);
    if f.bytes > cap {
        return Err(RunError::Invalid {
            path: path.display().to_string(),
            why: format!(
                "run.json says it is {} bytes, more than the {cap} such a file can be",
                f.bytes
            ),
        });
    }
    let len = std::fs::metadata(&path).map_err(io_err(&path))?.len();
    if len != f.bytes {
        return Err(corrupt(format!(
            "it is {len} bytes, run.json says {}",
            f.bytes
        )));
    }
    let (bytes, sha) = hash_file_up_to(&path, f.bytes)?;
    if bytes != f.bytes {
        return Err(corrupt(format!(
            "it changed length while read ({bytes} bytes, run.json says {})",
            f.bytes
        )));
    }
    if sha != f.sha256 {
        return Err(corrupt(
            "its SHA-256 differs from the one in run.json".into(),
        ));
    }
    Ok(())
}

/// Opens the run in `dir`: its manifest and every field in it, every file it lists present
/// with its length and hash (each length capped before anything is read), each checkpoint
/// loaded and checked against the run's settings and data, the loss rows parsed. Changes
/// nothing.
pub fn open_run(dir: &Path) -> Result<OpenedRun, RunError> {
    let manifest = read_manifest(dir)?;
    for f in &manifest.files {
        check_file(dir, f, &manifest)?;
    }
    let mut checkpoints = Vec::new();
    for m in &manifest.models {
        let json = dir.join(format!("{}.json", m.checkpoint));
        check::checkpoint(&json, m, &manifest).map_err(|problem| RunError::Checkpoint {
            path: json.display().to_string(),
            problem,
        })?;
        checkpoints.push(json);
    }
    let losses = if manifest.files.iter().any(|f| f.name == LOSSES_CSV) {
        let path = dir.join(LOSSES_CSV);
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        parse_losses_csv(&text).map_err(|problem| RunError::Losses {
            path: path.display().to_string(),
            problem,
        })?
    } else {
        Vec::new()
    };
    let mut extra = BTreeMap::new();
    for f in manifest
        .files
        .iter()
        .filter(|f| !is_known(&f.name, &manifest))
    {
        let path = dir.join(&f.name);
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|file| file.take(f.bytes).read_to_end(&mut bytes))
            .map_err(io_err(&path))?;
        extra.insert(f.name.clone(), bytes);
    }
    Ok(OpenedRun {
        dir: dir.to_path_buf(),
        manifest,
        checkpoints,
        losses,
        extra,
    })
}

#[cfg(test)]
mod tests;
