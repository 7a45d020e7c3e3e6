//! What `open_run` checks beyond the hashes: every field of run.json against the limits
//! the command line uses, every file's size against a cap before it is read, and every
//! checkpoint against the run (its description, its tensors, the settings that built it).
//! A run passing these can be built and trained on without a panic, an allocation that
//! aborts or a replay that never ends.

use super::Manifest;
use crate::data::{self, ItemShape};
use crate::model::ModelKind;
use crate::model::checkpoint::{self, CheckpointMeta, MAX_JSON_BYTES};
use crate::model::limits::{GRID, OutOfRange};
use crate::train::limits::SettingsError;

/// Most files a run lists (a few per model, the figures, the timeline).
pub const MAX_FILES: usize = 256;
/// Longest data-set spec or model name kept in run.json.
pub const MAX_NAME_CHARS: usize = 4096;
/// Largest losses, metrics or figure file of a run.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// Largest file a run keeps for other features (the timeline, written at most
/// `timeline::RUN_FILE_BYTES` of frames): these are read whole when the run opens.
pub const MAX_EXTRA_BYTES: u64 = 2 * crate::train::timeline::RUN_FILE_BYTES as u64;
/// Largest run in all.
pub const MAX_RUN_BYTES: u64 = 4 << 30;
/// Most seconds of training a run can claim (about 30 years).
pub const MAX_ELAPSED_SECS: f64 = 1e9;
/// Most items an opened run's batch order replays to reach its step (steps × batch size):
/// 16 000 epochs of MNIST.
pub const MAX_REPLAYED_ITEMS: u64 = 1_000_000_000;

/// What is wrong with a run.json whose fields read: each message follows the folder's path.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ManifestProblem {
    /// A listed name that is not a plain file name (or is run.json).
    #[error("lists a file '{0}' that cannot be in a run")]
    FileName(String),
    /// No models at all.
    #[error("lists no models")]
    NoModels,
    /// A model without its checkpoint files.
    #[error("model {model} has no {file} among its files")]
    NoCheckpoint { model: String, file: String },
    /// More files than a run has.
    #[error("lists {0} files, more than the {MAX_FILES} a run has")]
    TooManyFiles(usize),
    /// More bytes than a run holds.
    #[error("its files come to {0} bytes, more than the {MAX_RUN_BYTES} a run can hold")]
    TooManyBytes(u64),
    /// A hash that is not 64 hex digits.
    #[error("the SHA-256 of '{0}' is not 64 hex digits")]
    BadSha(String),
    /// A name longer than a run keeps.
    #[error("holds a name of {0} characters (at most {MAX_NAME_CHARS})")]
    LongName(usize),
    /// The settings and the data name different sets.
    #[error("its settings name the data set '{settings}', its data '{data}'")]
    OtherDataSet { settings: String, data: String },
    /// The settings and the model list differ.
    #[error("its settings and its model list name different models")]
    OtherModels,
    /// A model named after another kind.
    #[error("model '{name}' is a {kind}")]
    MisnamedModel { name: String, kind: ModelKind },
    /// A setting out of its range.
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    /// A data set without training items.
    #[error("its data set has no training items")]
    NoTrainingItems,
    /// A data fingerprint that is not a SHA-256.
    #[error("its data set's fingerprint is not a SHA-256")]
    BadFingerprint,
    /// More items than the built-in set makes.
    #[error(
        "its data set '{name}' claims {train} train and {test} test items; it has at most \
         {most_train} and {most_test}"
    )]
    TooManyItems {
        name: String,
        train: usize,
        test: usize,
        most_train: usize,
        most_test: usize,
    },
    /// A training time that is not one.
    #[error("elapsed_secs {0:?} is not a time of training (0 to {MAX_ELAPSED_SECS:?} s)")]
    Elapsed(f64),
    /// Batches per epoch that do not fit the items and batch size.
    #[error(
        "batches_per_epoch {found} does not fit {items} items in batches of {batch_size} \
         ({wanted})"
    )]
    BatchesPerEpoch {
        found: usize,
        items: usize,
        batch_size: usize,
        wanted: usize,
    },
    /// More training than a run can be reopened at.
    #[error(
        "step {step} in batches of {batch_size} is more training than a run can be reopened \
         at (at most {MAX_REPLAYED_ITEMS} items)"
    )]
    TooLong { step: u64, batch_size: usize },
    /// An epoch that does not fit the step.
    #[error("epoch {epoch} does not fit step {step} at {bpe} batches an epoch")]
    Epoch { epoch: usize, step: u64, bpe: usize },
}

/// Why a run's checkpoint is not the one its run.json describes.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointMismatch {
    /// The checkpoint does not load.
    #[error("{0}")]
    Load(#[from] checkpoint::CheckpointError),
    /// Another model than run.json lists.
    #[error("holds a {found} named '{name}', run.json says {listed}")]
    OtherModel {
        found: ModelKind,
        name: String,
        listed: ModelKind,
    },
    /// Trained on another data set.
    #[error("was trained on '{trained_on}', the run on '{run}' (a checkpoint of another run)")]
    OtherData { trained_on: String, run: String },
    /// Takes other items than the run's data set has.
    #[error("takes items {takes:?}, the run's data set has {has:?}")]
    OtherShape { takes: ItemShape, has: ItemShape },
    /// The run's settings do not train.
    #[error("its settings do not train: {0}")]
    Settings(#[from] SettingsError),
    /// The settings build no model of this kind.
    #[error("the run's settings build no {0}")]
    NotBuilt(ModelKind),
    /// Another network than the settings build.
    #[error(
        "holds a {kind} ({} → {}, hidden {:?}) that is not the one the run's settings build \
         ({} → {}, hidden {:?}): a checkpoint of another run",
        found.0, found.1, found.2, built.0, built.1, built.2
    )]
    OtherNetwork {
        kind: ModelKind,
        found: (usize, usize, Vec<usize>),
        built: (usize, usize, Vec<usize>),
    },
}

/// The fields of `m` alone, before any file is read: what is wrong, or nothing.
pub fn fields(m: &Manifest) -> Result<(), ManifestProblem> {
    let spec = &m.spec;
    if m.files.len() > MAX_FILES {
        return Err(ManifestProblem::TooManyFiles(m.files.len()));
    }
    let total = m.files.iter().fold(0u64, |n, f| n.saturating_add(f.bytes));
    if total > MAX_RUN_BYTES {
        return Err(ManifestProblem::TooManyBytes(total));
    }
    for f in &m.files {
        if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ManifestProblem::BadSha(f.name.clone()));
        }
    }
    for name in [&spec.dataset, &m.data.name, &m.written_by]
        .into_iter()
        .chain(m.models.iter().map(|e| &e.name))
    {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ManifestProblem::LongName(name.chars().count()));
        }
    }
    if spec.dataset != m.data.name {
        return Err(ManifestProblem::OtherDataSet {
            settings: spec.dataset.clone(),
            data: m.data.name.clone(),
        });
    }
    if spec.models != m.models.iter().map(|e| e.kind).collect::<Vec<_>>() {
        return Err(ManifestProblem::OtherModels);
    }
    for e in &m.models {
        if e.name != e.kind.to_string() {
            return Err(ManifestProblem::MisnamedModel {
                name: e.name.clone(),
                kind: e.kind,
            });
        }
    }
    if let Some(k) = m.grid_k {
        GRID.check(k)?;
    }
    sizes(m)?;
    progress(m)
}

/// The data set's sizes: a built-in set is made no larger than its default.
fn sizes(m: &Manifest) -> Result<(), ManifestProblem> {
    let d = &m.data;
    if d.train == 0 {
        return Err(ManifestProblem::NoTrainingItems);
    }
    if d.fingerprint.len() != 64 {
        return Err(ManifestProblem::BadFingerprint);
    }
    if let Some(most) = data::default_sizes(&d.name)
        && (d.train > most.train || d.test > most.test)
    {
        return Err(ManifestProblem::TooManyItems {
            name: d.name.clone(),
            train: d.train,
            test: d.test,
            most_train: most.train,
            most_test: most.test,
        });
    }
    Ok(())
}

/// Step, epoch, batches per epoch and elapsed time: consistent, and small enough to replay.
fn progress(m: &Manifest) -> Result<(), ManifestProblem> {
    if !(m.elapsed_secs.is_finite() && (0.0..=MAX_ELAPSED_SECS).contains(&m.elapsed_secs)) {
        return Err(ManifestProblem::Elapsed(m.elapsed_secs));
    }
    crate::train::limits::BATCH_SIZE.check(m.spec.batch_size)?;
    let bpe = (m.data.train / m.spec.batch_size).max(1);
    if m.batches_per_epoch != bpe {
        return Err(ManifestProblem::BatchesPerEpoch {
            found: m.batches_per_epoch,
            items: m.data.train,
            batch_size: m.spec.batch_size,
            wanted: bpe,
        });
    }
    let replayed = m.step.saturating_mul(m.spec.batch_size as u64);
    if replayed > MAX_REPLAYED_ITEMS {
        return Err(ManifestProblem::TooLong {
            step: m.step,
            batch_size: m.spec.batch_size,
        });
    }
    if m.epoch as u64 != m.step / bpe as u64 {
        return Err(ManifestProblem::Epoch {
            epoch: m.epoch,
            step: m.step,
            bpe,
        });
    }
    Ok(())
}

/// The largest size the file `name` of run `m` may have, before it is read.
pub fn file_cap(name: &str, m: &Manifest) -> u64 {
    let is_weights = m
        .models
        .iter()
        .any(|e| name == format!("{}.safetensors", e.checkpoint));
    let is_description = m
        .models
        .iter()
        .any(|e| name == format!("{}.json", e.checkpoint));
    if is_weights {
        // Refined against the description's parameter count when the checkpoint loads.
        MAX_RUN_BYTES
    } else if is_description {
        MAX_JSON_BYTES
    } else if super::is_known(name, m) {
        MAX_FILE_BYTES
    } else {
        MAX_EXTRA_BYTES
    }
}

/// A checkpoint of the run: its description and tensors agree (it loads), it is the model
/// the run's settings build for its items, and it was trained on the run's data set.
pub fn checkpoint(
    json: &std::path::Path,
    entry: &super::ModelEntry,
    m: &Manifest,
) -> Result<CheckpointMeta, CheckpointMismatch> {
    let (_, meta) = checkpoint::load(json)?;
    if meta.name != entry.name || meta.config.kind != entry.kind {
        return Err(CheckpointMismatch::OtherModel {
            found: meta.config.kind,
            name: meta.name,
            listed: entry.kind,
        });
    }
    if meta.dataset != m.data.name {
        return Err(CheckpointMismatch::OtherData {
            trained_on: meta.dataset,
            run: m.data.name.clone(),
        });
    }
    if let Some(shape) = data::peek_shape(&m.data.name).ok().flatten()
        && shape != meta.item_shape
    {
        return Err(CheckpointMismatch::OtherShape {
            takes: meta.item_shape,
            has: shape,
        });
    }
    let config = m.spec.train_config_for(meta.item_shape)?;
    let built = config
        .models
        .iter()
        .find(|c| c.kind == entry.kind)
        .ok_or(CheckpointMismatch::NotBuilt(entry.kind))?;
    let (a, b) = (&meta.config, built);
    if (a.input_dim, a.latent_dim, &a.hidden, a.likelihood)
        != (b.input_dim, b.latent_dim, &b.hidden, b.likelihood)
    {
        return Err(CheckpointMismatch::OtherNetwork {
            kind: a.kind,
            found: (a.input_dim, a.latent_dim, a.hidden.clone()),
            built: (b.input_dim, b.latent_dim, b.hidden.clone()),
        });
    }
    Ok(meta)
}
