//! What crosses the channels between the UI (or command line) and the worker: plain data only.

use super::limits::SettingsError;
use crate::model::limits::{IW_SAMPLES, MAX_PARAMETERS};
use crate::model::{DecoderSnapshot, EncoderSnapshot, LossTerms, Metrics, ModelConfig, ModelKind};
use std::sync::Arc;

/// How a run trains: the models and the shared optimisation settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// The models, all stepped on the same batches. Names (kinds) must be unique.
    pub models: Vec<ModelConfig>,
    /// Adam learning rate.
    pub lr: f64,
    /// Items per batch.
    pub batch_size: usize,
    /// Stop after this many epochs; `None` trains until told to stop.
    pub epochs: Option<usize>,
    /// Seed for initialisation, batches and noise.
    pub seed: u64,
    /// Epochs over which the KL weight rises linearly from 0 to β (0: no warm-up).
    pub kl_warmup_epochs: f32,
    /// Test items whose codes every snapshot carries.
    pub display_count: usize,
    /// Test items every snapshot reconstructs.
    pub recon_count: usize,
    /// Shortest time between progress events.
    pub progress_interval_ms: u64,
    /// Shortest time between snapshots (the worker waits longer if snapshots are costly).
    pub snapshot_interval_ms: u64,
    /// Steps at which a snapshot is taken as well, whatever the clock says (ascending):
    /// the command line's latent GIF follows training's progress with them.
    #[serde(default)]
    pub snapshot_steps: Vec<u64>,
    /// Importance samples for the test log p(x) at each epoch end (0: skip, it is costly).
    pub iw_samples: usize,
    /// Evaluate the test set every this many seconds of training as well (`None`: only at
    /// epoch ends). Evaluation time does not count as training time.
    #[serde(default)]
    pub eval_every_secs: Option<f64>,
    /// Threads that step the models, each model on one (1: one after the other). The
    /// numbers are the same for any value.
    #[serde(default = "one")]
    pub threads: usize,
    /// Start from saved weights at a saved step instead of a fresh initialisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_from: Option<StartFrom>,
}

/// Where a run opened from a folder starts: each model's checkpoint (in config order) and
/// the step, epoch and training time it had reached. Adam's moments start afresh.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StartFrom {
    /// The checkpoint description of each model, in config order.
    pub checkpoints: Vec<std::path::PathBuf>,
    /// Steps done.
    pub step: u64,
    /// Epochs done.
    pub epoch: usize,
    /// Seconds spent training.
    pub elapsed_secs: f64,
}

fn one() -> usize {
    1
}

impl TrainConfig {
    /// Defaults for the given models.
    pub fn new(models: Vec<ModelConfig>) -> Self {
        Self {
            models,
            lr: 1e-3,
            batch_size: 128,
            epochs: None,
            seed: 1,
            kl_warmup_epochs: 0.0,
            display_count: 2000,
            recon_count: 10,
            progress_interval_ms: 100,
            snapshot_interval_ms: 300,
            snapshot_steps: Vec::new(),
            iw_samples: 0,
            eval_every_secs: None,
            threads: 1,
            start_from: None,
        }
    }

    /// Checks every setting; the message names the one that is wrong.
    pub fn validate(&self) -> Result<(), SettingsError> {
        use super::limits::{BATCH_SIZE, EPOCHS, EVAL_EVERY_SECS, KL_WARMUP, LR, THREADS};
        if self.models.is_empty() {
            return Err(SettingsError::NoModels);
        }
        for (i, m) in self.models.iter().enumerate() {
            m.validate().map_err(|e| SettingsError::model(m.kind, e))?;
            if self.models[..i].iter().any(|o| o.kind == m.kind) {
                return Err(SettingsError::Twice(m.kind));
            }
        }
        let parameters = self
            .models
            .iter()
            .fold(0u64, |n, m| n.saturating_add(m.parameter_count()));
        if parameters > MAX_PARAMETERS {
            return Err(SettingsError::TooManyParameters(parameters));
        }
        LR.check(self.lr)?;
        BATCH_SIZE.check(self.batch_size)?;
        if let Some(epochs) = self.epochs {
            EPOCHS.check(epochs)?;
        }
        KL_WARMUP.check(self.kl_warmup_epochs)?;
        THREADS.check(self.threads)?;
        IW_SAMPLES.check(self.iw_samples)?;
        if let Some(secs) = self.eval_every_secs {
            EVAL_EVERY_SECS.check(secs)?;
        }
        Ok(())
    }
}

/// Recent training losses of one model, per item in nats.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelLosses {
    /// Model name.
    pub name: String,
    /// Model kind.
    pub kind: ModelKind,
    /// The mean loss terms.
    pub terms: LossTerms,
    /// recon + β·kl + penalty (−L_k for the iwae: `model::iwae`).
    pub loss: f64,
    /// True once the model has diverged and stopped.
    pub diverged: bool,
}

/// Periodic progress: where training is and the mean losses since the last report.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// Optimiser steps so far (each model steps once per step).
    pub step: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// Fraction of the current epoch done, 0 to 1.
    pub epoch_fraction: f32,
    /// Mean losses per model since the previous progress event.
    pub losses: Vec<ModelLosses>,
    /// Training items per second (each item goes through every model).
    pub samples_per_sec: f64,
    /// Seconds spent training (pauses excluded).
    pub elapsed_secs: f64,
}

/// What the UI needs of one model to draw it, frozen at one step.
#[derive(Clone, Debug)]
pub struct ModelSnapshot {
    /// Model name.
    pub name: String,
    /// Model kind.
    pub kind: ModelKind,
    /// Size of the code.
    pub latent_dim: usize,
    /// The decoder, runnable on any thread.
    pub decoder: Arc<DecoderSnapshot>,
    /// The encoder, runnable on any thread (a drawn item, the inspector).
    pub encoder: Arc<EncoderSnapshot>,
    /// The model's settings at this step (live knobs included): what the inspector needs
    /// to weigh the terms of one item's loss.
    pub config: ModelConfig,
    /// Codes (μ for a VAE) of the display items, `latent_dim` each.
    pub codes: Vec<f32>,
    /// Posterior σ of the display items (VAEs only).
    pub sigmas: Option<Vec<f32>>,
    /// Reconstructions of the recon items (decoded from μ).
    pub recon: Vec<f32>,
    /// The corrupted inputs a denoising model saw.
    pub noisy_inputs: Option<Vec<f32>>,
    /// Reconstruction NLL in nats of each recon item: the clean input under the decoding
    /// shown in `recon` (μ of the very input the model saw). No KL or penalty terms.
    pub recon_losses: Vec<f32>,
    /// True once this model has diverged (its last good weights are shown).
    pub diverged: bool,
}

/// A snapshot of every model at one step.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Step it was taken at.
    pub step: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// Test-set indices of the display items.
    pub display_indices: Vec<usize>,
    /// Labels of the display items.
    pub display_labels: Vec<u32>,
    /// Test-set indices of the recon items.
    pub recon_indices: Vec<usize>,
    /// The recon items themselves.
    pub recon_inputs: Vec<f32>,
    /// One entry per model, in config order.
    pub models: Vec<ModelSnapshot>,
}

/// Metrics of one model at the end of an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEpoch {
    /// Model name.
    pub name: String,
    /// Model kind.
    pub kind: ModelKind,
    /// Mean of the training losses over the epoch.
    pub train: Metrics,
    /// Evaluation on the whole test split.
    pub test: Metrics,
    /// 5-nearest-neighbour accuracy of the display codes against training codes.
    pub knn_accuracy: f64,
    /// True if the model has diverged.
    pub diverged: bool,
}

/// The end of an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochSummary {
    /// The epoch just completed (1-based).
    pub epoch: usize,
    /// Steps so far.
    pub step: u64,
    /// Seconds spent training.
    pub elapsed_secs: f64,
    /// Training items per second over the epoch.
    pub samples_per_sec: f64,
    /// One entry per model.
    pub models: Vec<ModelEpoch>,
}

/// Test metrics of every model in the middle of an epoch (`eval_every_secs`).
#[derive(Clone, Debug, PartialEq)]
pub struct TestReport {
    /// The epoch in progress (1-based).
    pub epoch: usize,
    /// Steps so far.
    pub step: u64,
    /// Seconds spent training so far (evaluations excluded).
    pub elapsed_secs: f64,
    /// One entry per model: its test metrics and k-NN accuracy (`train` is left empty).
    pub models: Vec<ModelEpoch>,
}
