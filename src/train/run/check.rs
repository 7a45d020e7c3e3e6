//! What `open_run` checks beyond the hashes: every field of run.json against the limits
//! the command line uses, every file's size against a cap before it is read, and every
//! checkpoint against the run (its description, its tensors, the settings that built it).
//! A run passing these can be built and trained on without a panic, an allocation that
//! aborts or a replay that never ends.

use super::Manifest;
use crate::data::{self, ItemShape};
use crate::model::checkpoint::{self, CheckpointMeta, MAX_JSON_BYTES};
use crate::model::limits::GRID;

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

/// The fields of `m` alone, before any file is read: what is wrong, or nothing.
pub fn fields(m: &Manifest) -> Result<(), String> {
    let spec = &m.spec;
    if m.files.len() > MAX_FILES {
        return Err(format!(
            "lists {} files, more than the {MAX_FILES} a run has",
            m.files.len()
        ));
    }
    let total = m.files.iter().fold(0u64, |n, f| n.saturating_add(f.bytes));
    if total > MAX_RUN_BYTES {
        return Err(format!(
            "its files come to {total} bytes, more than the {MAX_RUN_BYTES} a run can hold"
        ));
    }
    for f in &m.files {
        if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("the SHA-256 of '{}' is not 64 hex digits", f.name));
        }
    }
    for name in [&spec.dataset, &m.data.name, &m.written_by]
        .into_iter()
        .chain(m.models.iter().map(|e| &e.name))
    {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(format!(
                "holds a name of {} characters (at most {MAX_NAME_CHARS})",
                name.chars().count()
            ));
        }
    }
    if spec.dataset != m.data.name {
        return Err(format!(
            "its settings name the data set '{}', its data '{}'",
            spec.dataset, m.data.name
        ));
    }
    if spec.models != m.models.iter().map(|e| e.kind).collect::<Vec<_>>() {
        return Err("its settings and its model list name different models".into());
    }
    for e in &m.models {
        if e.name != e.kind.to_string() {
            return Err(format!("model '{}' is a {}", e.name, e.kind));
        }
    }
    if let Some(k) = m.grid_k {
        GRID.check(k)?;
    }
    sizes(m)?;
    progress(m)
}

/// The data set's sizes: a built-in set is made no larger than its default.
fn sizes(m: &Manifest) -> Result<(), String> {
    let d = &m.data;
    if d.train == 0 {
        return Err("its data set has no training items".into());
    }
    if d.fingerprint.len() != 64 {
        return Err("its data set's fingerprint is not a SHA-256".into());
    }
    if let Some(most) = data::default_sizes(&d.name)
        && (d.train > most.train || d.test > most.test)
    {
        return Err(format!(
            "its data set '{}' claims {} train and {} test items; it has at most {} and {}",
            d.name, d.train, d.test, most.train, most.test
        ));
    }
    Ok(())
}

/// Step, epoch, batches per epoch and elapsed time: consistent, and small enough to replay.
fn progress(m: &Manifest) -> Result<(), String> {
    if !(m.elapsed_secs.is_finite() && (0.0..=MAX_ELAPSED_SECS).contains(&m.elapsed_secs)) {
        return Err(format!(
            "elapsed_secs {:?} is not a time of training (0 to {MAX_ELAPSED_SECS:?} s)",
            m.elapsed_secs
        ));
    }
    crate::train::spec::BATCH_SIZE.check(m.spec.batch_size)?;
    let bpe = (m.data.train / m.spec.batch_size).max(1);
    if m.batches_per_epoch != bpe {
        return Err(format!(
            "batches_per_epoch {} does not fit {} items in batches of {} ({bpe})",
            m.batches_per_epoch, m.data.train, m.spec.batch_size
        ));
    }
    let replayed = m.step.saturating_mul(m.spec.batch_size as u64);
    if replayed > MAX_REPLAYED_ITEMS {
        return Err(format!(
            "step {} in batches of {} is more training than a run can be reopened at \
             (at most {MAX_REPLAYED_ITEMS} items)",
            m.step, m.spec.batch_size
        ));
    }
    if m.epoch as u64 != m.step / bpe as u64 {
        return Err(format!(
            "epoch {} does not fit step {} at {bpe} batches an epoch",
            m.epoch, m.step
        ));
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
) -> Result<CheckpointMeta, String> {
    let (_, meta) = checkpoint::load(json).map_err(|e| e.to_string())?;
    if meta.name != entry.name || meta.config.kind != entry.kind {
        return Err(format!(
            "holds a {} named '{}', run.json says {}",
            meta.config.kind, meta.name, entry.kind
        ));
    }
    if meta.dataset != m.data.name {
        return Err(format!(
            "was trained on '{}', the run on '{}' (a checkpoint of another run)",
            meta.dataset, m.data.name
        ));
    }
    if let Some(shape) = data::peek_shape(&m.data.name).ok().flatten()
        && shape != meta.item_shape
    {
        return Err(format!(
            "takes items {:?}, the run's data set has {shape:?}",
            meta.item_shape
        ));
    }
    let config = settings_for(m, meta.item_shape)?;
    let built = config
        .models
        .iter()
        .find(|c| c.kind == entry.kind)
        .ok_or_else(|| format!("the run's settings build no {}", entry.kind))?;
    let (a, b) = (&meta.config, built);
    if (a.input_dim, a.latent_dim, &a.hidden, a.likelihood)
        != (b.input_dim, b.latent_dim, &b.hidden, b.likelihood)
    {
        return Err(format!(
            "holds a {} ({} → {}, hidden {:?}) that is not the one the run's settings build \
             ({} → {}, hidden {:?}): a checkpoint of another run",
            a.kind, a.input_dim, a.latent_dim, a.hidden, b.input_dim, b.latent_dim, b.hidden
        ));
    }
    Ok(meta)
}

/// The run's settings checked as the command line checks them, for items of `shape`.
pub fn settings_for(
    m: &Manifest,
    shape: ItemShape,
) -> Result<crate::train::messages::TrainConfig, String> {
    m.spec
        .train_config_for(shape)
        .map_err(|e| format!("its settings do not train: {e}"))
}
