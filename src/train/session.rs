//! The state of one run on the worker: the models with their optimisers, the batch order,
//! and the steps, snapshots and epoch summaries computed from them.

use super::messages::*;
use crate::data::{BatchOrder, Dataset};
use crate::model::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use crate::model::metrics::knn_accuracy;
use crate::model::{Adam, Autoencoder, Metrics, batch_tensor, evaluate};
use crate::rng::PortableRng;
use candle_core::{Result, Tensor};
use rand::SeedableRng;
use rand::seq::index::sample;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Training items encoded for the k-NN accuracy at each epoch end.
const KNN_TRAIN_ITEMS: usize = 5000;

/// One model and everything the worker keeps for it.
pub(super) struct Slot {
    pub(super) name: String,
    pub(super) model: Autoencoder,
    pub(super) opt: Adam,
    pub(super) diverged: bool,
    pub(super) last_good: Vec<Tensor>,
    /// recon, kl, penalty, loss sums and count since the last progress event.
    pub(super) since_progress: [f64; 5],
    /// The same over the current epoch.
    pub(super) since_epoch: [f64; 5],
}

/// The whole state of one run.
pub(super) struct Session {
    pub(super) config: TrainConfig,
    pub(super) data: Arc<Dataset>,
    pub(super) slots: Vec<Slot>,
    pub(super) order: BatchOrder,
    /// Draws the training noise (VAE ε, denoiser corruption): only training steps use it,
    /// so a seed gives the same numbers however often the window asks for snapshots.
    pub(super) rng: PortableRng,
    /// Draws for snapshots and the reconstruction set, apart from training.
    pub(super) view_rng: PortableRng,
    pub(super) step: u64,
    pub(super) epoch: usize,
    pub(super) step_in_epoch: usize,
    pub(super) display_indices: Vec<usize>,
    pub(super) recon_indices: Vec<usize>,
    pub(super) elapsed: Duration,
    pub(super) epoch_elapsed: Duration,
    pub(super) samples_since_progress: usize,
    pub(super) time_since_progress: Duration,
}

impl Session {
    pub(super) fn new(config: TrainConfig, data: Arc<Dataset>) -> Result<Self> {
        let mut rng = PortableRng::seed_from_u64(config.seed);
        let mut slots = Vec::new();
        for mc in &config.models {
            let model = Autoencoder::new(mc.clone(), &mut rng)?;
            let opt = model.optimizer(mc.lr_override.unwrap_or(config.lr));
            let last_good = model.weights()?;
            slots.push(Slot {
                name: mc.kind.name().to_string(),
                model,
                opt,
                diverged: false,
                last_good,
                since_progress: [0.0; 5],
                since_epoch: [0.0; 5],
            });
        }
        let n_test = data.test.len();
        let display_indices = pick(&mut rng, n_test, config.display_count);
        let recon_indices = pick(&mut rng, n_test, config.recon_count);
        let view_rng = PortableRng::seed_from_u64(config.seed ^ 0x5EE_D15B);
        let order = BatchOrder::new(data.train.len(), config.batch_size, config.seed ^ 0xBA7C);
        Ok(Self {
            config,
            data,
            slots,
            order,
            rng,
            view_rng,
            step: 0,
            epoch: 0,
            step_in_epoch: 0,
            display_indices,
            recon_indices,
            elapsed: Duration::ZERO,
            epoch_elapsed: Duration::ZERO,
            samples_since_progress: 0,
            time_since_progress: Duration::ZERO,
        })
    }

    /// The KL weight multiplier of the warm-up at this point in training.
    fn warmup(&self) -> f64 {
        if self.config.kl_warmup_epochs <= 0.0 {
            return 1.0;
        }
        let progress =
            self.epoch as f64 + self.step_in_epoch as f64 / self.order.batches_per_epoch() as f64;
        (progress / f64::from(self.config.kl_warmup_epochs)).min(1.0)
    }

    /// One step of every live model on the same batch. Returns events to send.
    pub(super) fn step(&mut self) -> Result<(Vec<TrainEvent>, bool)> {
        let started = Instant::now();
        let dim = self.data.dim();
        let (indices, epoch_done) = self.order.next_batch();
        let batch = indices.len();
        let x = batch_tensor(self.data.train.gather(indices, dim), dim)?;
        let warmup = self.warmup();
        let mut events = Vec::new();
        for slot in self.slots.iter_mut().filter(|s| !s.diverged) {
            let Some(values) = slot
                .model
                .train_step(&mut slot.opt, &x, &mut self.rng, warmup)?
            else {
                slot.diverged = true;
                slot.model.set_weights(&slot.last_good)?;
                events.push(TrainEvent::Diverged {
                    model: slot.name.clone(),
                    step: self.step + 1,
                    epoch: self.epoch,
                });
                continue;
            };
            let loss = values[0] + slot.model.kl_weight() * values[1] + values[2];
            for acc in [&mut slot.since_progress, &mut slot.since_epoch] {
                acc[0] += values[0];
                acc[1] += values[1];
                acc[2] += values[2];
                acc[3] += loss;
                acc[4] += 1.0;
            }
        }
        self.step += 1;
        self.step_in_epoch += 1;
        let took = started.elapsed();
        self.elapsed += took;
        self.epoch_elapsed += took;
        self.time_since_progress += took;
        self.samples_since_progress += batch;
        Ok((events, epoch_done))
    }

    pub(super) fn progress(&mut self) -> Progress {
        let secs = self.time_since_progress.as_secs_f64();
        let samples_per_sec = if secs > 0.0 {
            self.samples_since_progress as f64 / secs
        } else {
            0.0
        };
        self.samples_since_progress = 0;
        self.time_since_progress = Duration::ZERO;
        let losses = self
            .slots
            .iter_mut()
            .map(|s| {
                let a = std::mem::take(&mut s.since_progress);
                let n = a[4].max(1.0);
                ModelLosses {
                    name: s.name.clone(),
                    kind: s.model.config.kind,
                    recon: a[0] / n,
                    kl: a[1] / n,
                    penalty: a[2] / n,
                    loss: a[3] / n,
                    diverged: s.diverged || a[4] == 0.0,
                }
            })
            .collect();
        Progress {
            step: self.step,
            epoch: self.epoch,
            epoch_fraction: (self.step_in_epoch as f32 / self.order.batches_per_epoch() as f32)
                .min(1.0),
            losses,
            samples_per_sec,
            elapsed_secs: self.elapsed.as_secs_f64(),
        }
    }

    pub(super) fn snapshot(&mut self) -> Result<Snapshot> {
        let dim = self.data.dim();
        let test = &self.data.test;
        let display = batch_tensor(test.gather(&self.display_indices, dim), dim)?;
        let recon_inputs = test.gather(&self.recon_indices, dim);
        let recon_x = batch_tensor(recon_inputs.clone(), dim)?;
        let mut models = Vec::new();
        for slot in &mut self.slots {
            let m = &slot.model;
            let (mu, logvar) = m.encode(&display)?;
            let sigmas = match logvar {
                Some(lv) => Some(lv.affine(0.5, 0.0)?.exp()?.flatten_all()?.to_vec1()?),
                None => None,
            };
            let noisy = m.corrupt(&recon_x, &mut self.view_rng)?;
            let (rmu, _) = m.encode(&noisy)?;
            let recon = m.decoder_snapshot()?;
            let terms = m.loss_terms(&recon_x, &mut self.view_rng)?;
            let per_item = ((&terms.recon + (&terms.kl * m.kl_weight())?)? + &terms.penalty)?;
            let decoder = Arc::new(recon);
            let recon_values = decoder.decode(&rmu.flatten_all()?.to_vec1()?)?;
            let recon_losses: Vec<f32> = per_item.to_vec1()?;
            // Keep these weights as the fallback only if they still give finite losses.
            if !slot.diverged && recon_losses.iter().all(|v| v.is_finite()) {
                slot.last_good = m.weights()?;
            }
            models.push(ModelSnapshot {
                name: slot.name.clone(),
                kind: m.config.kind,
                latent_dim: m.config.latent_dim,
                decoder,
                codes: mu.flatten_all()?.to_vec1()?,
                sigmas,
                recon: recon_values,
                noisy_inputs: m.config.kind.spec().corrupt.is_some().then(|| {
                    noisy
                        .flatten_all()
                        .and_then(|t| t.to_vec1())
                        .unwrap_or_default()
                }),
                recon_losses,
                diverged: slot.diverged,
            });
        }
        Ok(Snapshot {
            step: self.step,
            epoch: self.epoch,
            display_labels: self
                .display_indices
                .iter()
                .map(|&i| test.labels[i])
                .collect(),
            display_indices: self.display_indices.clone(),
            recon_indices: self.recon_indices.clone(),
            recon_inputs,
            models,
        })
    }

    pub(super) fn end_epoch(&mut self) -> Result<EpochSummary> {
        self.epoch += 1;
        self.step_in_epoch = 0;
        let dim = self.data.dim();
        let knn_train: Vec<usize> = (0..self.data.train.len().min(KNN_TRAIN_ITEMS)).collect();
        let knn_x = batch_tensor(self.data.train.gather(&knn_train, dim), dim)?;
        let knn_labels: Vec<u32> = knn_train
            .iter()
            .map(|&i| self.data.train.labels[i])
            .collect();
        let display = batch_tensor(self.data.test.gather(&self.display_indices, dim), dim)?;
        let display_labels: Vec<u32> = self
            .display_indices
            .iter()
            .map(|&i| self.data.test.labels[i])
            .collect();
        let mut models = Vec::new();
        for slot in &mut self.slots {
            let a = std::mem::take(&mut slot.since_epoch);
            let n = a[4].max(1.0);
            let kind = slot.model.config.kind;
            let variational = kind.is_variational();
            let train = Metrics {
                recon: a[0] / n,
                kl: a[1] / n,
                penalty: a[2] / n,
                loss: a[3] / n,
                elbo: variational.then_some(-(a[0] + a[1]) / n),
                ..Metrics::default()
            };
            // Its own draws, so evaluating never shifts the training noise.
            let mut eval_rng = PortableRng::seed_from_u64(
                self.config
                    .seed
                    .wrapping_mul(31)
                    .wrapping_add(self.epoch as u64),
            );
            let test = evaluate(
                &slot.model,
                &self.data.test,
                dim,
                &mut eval_rng,
                self.config.iw_samples,
            )?;
            let train_codes: Vec<f32> = slot.model.encode(&knn_x)?.0.flatten_all()?.to_vec1()?;
            let test_codes: Vec<f32> = slot.model.encode(&display)?.0.flatten_all()?.to_vec1()?;
            let knn = knn_accuracy(
                &train_codes,
                &knn_labels,
                &test_codes,
                &display_labels,
                slot.model.config.latent_dim,
                5,
            );
            models.push(ModelEpoch {
                name: slot.name.clone(),
                kind,
                train,
                test,
                knn_accuracy: knn,
                diverged: slot.diverged,
            });
        }
        let secs = self.epoch_elapsed.as_secs_f64();
        let samples = self.order.batches_per_epoch() * self.config.batch_size;
        self.epoch_elapsed = Duration::ZERO;
        Ok(EpochSummary {
            epoch: self.epoch,
            step: self.step,
            elapsed_secs: self.elapsed.as_secs_f64(),
            samples_per_sec: if secs > 0.0 {
                samples as f64 / secs
            } else {
                0.0
            },
            models,
        })
    }

    pub(super) fn save(
        &self,
        dir: &std::path::Path,
        metrics: &[ModelEpoch],
    ) -> std::result::Result<Vec<PathBuf>, String> {
        let mut written = Vec::new();
        for slot in &self.slots {
            let meta = CheckpointMeta {
                format_version: FORMAT_VERSION,
                name: slot.name.clone(),
                config: slot.model.config.clone(),
                dataset: self.data.name.clone(),
                item_shape: self.data.shape,
                class_names: self.data.class_names.clone(),
                epoch: self.epoch,
                step: self.step,
                lr: slot.opt.lr,
                seed: self.config.seed,
                test_metrics: metrics
                    .iter()
                    .find(|m| m.name == slot.name)
                    .map(|m| m.test.clone()),
            };
            let stem = dir.join(&slot.name);
            checkpoint::save(&slot.model, &meta, &stem).map_err(|e| e.to_string())?;
            written.push(checkpoint::paths(&stem).0);
        }
        Ok(written)
    }
}

/// `count` distinct indices below `n`, in random order.
pub(super) fn pick(rng: &mut PortableRng, n: usize, count: usize) -> Vec<usize> {
    sample(rng, n, count.min(n)).into_vec()
}
