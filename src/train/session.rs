//! The state of one run on the worker: the models with their optimisers, the batch order,
//! and the steps, snapshots and epoch summaries computed from them.

use super::channels::TrainEvent;
use super::messages::*;
use crate::data::{BatchOrder, Dataset};
use crate::model::checkpoint;
use crate::model::{Adam, Autoencoder, LossMeans, LossSums, Schedule, batch_tensor};
use crate::rng::PortableRng;
use candle_core::{Result, Tensor};
use rand::SeedableRng;
use rand::seq::index::sample;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod evaluation;
mod saving;

/// Steps between two keep-points of a model's last good weights (epoch ends are keep-points
/// too). Counting steps, not time, makes the weights a diverged model falls back to the same
/// for a seed, whatever the clock or the snapshots did.
pub(super) const KEEP_EVERY_STEPS: u64 = 50;

impl Slot {
    /// The mean losses since the last call, or the last means if no step was taken since.
    fn take_progress(&mut self) -> ModelLosses {
        let sums = std::mem::take(&mut self.since_progress);
        if sums.steps > 0.0 {
            self.last_means = sums.means(0.0);
        }
        let LossMeans { terms, loss } = self.last_means;
        ModelLosses {
            name: self.name.clone(),
            kind: self.model.config.kind,
            terms,
            loss,
            diverged: self.diverged,
        }
    }
}

/// One model and everything the worker keeps for it.
pub(super) struct Slot {
    pub(super) name: String,
    pub(super) model: Autoencoder,
    pub(super) opt: Adam,
    pub(super) diverged: bool,
    /// The weights at the last keep-point whose loss was finite; restored on divergence.
    pub(super) last_good: Vec<Tensor>,
    /// The loss terms and objective summed since the last progress event.
    pub(super) since_progress: LossSums,
    /// The means of the last progress event that had steps: what a progress event without
    /// new steps (after a pause) reports.
    pub(super) last_means: LossMeans,
    /// The same sums over the current epoch.
    pub(super) since_epoch: LossSums,
    /// This model's own draws (initial weights, then its training noise: VAE ε, denoiser
    /// corruption), from the seed and its name: the same numbers whatever else trains
    /// beside it and however many threads step the models.
    pub(super) rng: PortableRng,
}

/// The whole state of one run.
pub(super) struct Session {
    pub(super) config: TrainConfig,
    pub(super) data: Arc<Dataset>,
    pub(super) slots: Vec<Slot>,
    pub(super) order: BatchOrder,
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
    /// Training items per second, smoothed (see `progress`).
    pub(super) rate: f64,
    /// The data set's fingerprint, once a saved run needed it.
    fingerprint: Option<String>,
}

impl Session {
    pub(super) fn new(config: TrainConfig, data: Arc<Dataset>) -> Result<Self> {
        let mut rng = PortableRng::seed_from_u64(config.seed);
        let mut slots = Vec::new();
        for mc in &config.models {
            let name = mc.kind.name().to_string();
            let mut model_rng = PortableRng::seed_from_u64(stream_seed(config.seed, &name));
            let model = Autoencoder::new(mc.clone(), &mut model_rng)?;
            let opt = model.optimizer(mc.lr_override.unwrap_or(config.lr));
            let last_good = model.weights()?;
            slots.push(Slot {
                name,
                model,
                opt,
                diverged: false,
                last_good,
                since_progress: LossSums::default(),
                last_means: LossSums::default().means(0.0),
                since_epoch: LossSums::default(),
                rng: model_rng,
            });
        }
        let n_test = data.test.len();
        let display_indices = pick(&mut rng, n_test, config.display_count);
        let recon_indices = pick(&mut rng, n_test, config.recon_count);
        let view_rng = PortableRng::seed_from_u64(config.seed ^ 0x5EE_D15B);
        let order = BatchOrder::new(data.train.len(), config.batch_size, config.seed ^ 0xBA7C);
        let start = config.start_from.clone();
        let mut session = Self {
            config,
            data,
            slots,
            order,
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
            rate: 0.0,
            fingerprint: None,
        };
        if let Some(start) = start {
            session.start_from(&start)?;
        }
        Ok(session)
    }

    /// Takes each model's weights from its checkpoint and goes on from the saved step: the
    /// batch order is replayed to that step, so the batches that follow are the ones an
    /// uninterrupted run would have drawn. The checkpoints must be these very models.
    fn start_from(&mut self, start: &StartFrom) -> Result<()> {
        let msg = |m: String| candle_core::Error::Msg(m);
        if start.checkpoints.len() != self.slots.len() {
            return Err(msg(format!(
                "the run has {} checkpoints for {} models",
                start.checkpoints.len(),
                self.slots.len()
            )));
        }
        for (slot, path) in self.slots.iter_mut().zip(&start.checkpoints) {
            let (model, meta) = checkpoint::load(path).map_err(|e| msg(e.to_string()))?;
            let (a, b) = (&meta.config, &slot.model.config);
            if meta.name != slot.name
                || (a.kind, a.input_dim, a.latent_dim, &a.hidden, a.likelihood)
                    != (b.kind, b.input_dim, b.latent_dim, &b.hidden, b.likelihood)
            {
                return Err(msg(format!(
                    "{}: holds a {} ({} → {}) that is not the {} these settings build",
                    path.display(),
                    a.kind,
                    a.input_dim,
                    a.latent_dim,
                    slot.name
                )));
            }
            let weights = model.weights()?;
            slot.model.set_weights(&weights)?;
            slot.last_good = weights;
        }
        for _ in 0..start.step {
            if self.order.next_batch().1 {
                self.step_in_epoch = 0;
            } else {
                self.step_in_epoch += 1;
            }
        }
        self.step = start.step;
        self.epoch = start.epoch;
        self.elapsed = Duration::from_secs_f64(start.elapsed_secs.max(0.0));
        Ok(())
    }

    /// The KL weight multiplier of the warm-up at this point in training: rises linearly
    /// from 0 to 1 over `kl_warmup_epochs` (counted in steps), then stays 1.
    pub(super) fn kl_warmup_factor(&self) -> f64 {
        if self.config.kl_warmup_epochs <= 0.0 {
            return 1.0;
        }
        let progress =
            self.epoch as f64 + self.step_in_epoch as f64 / self.order.batches_per_epoch() as f64;
        (progress / f64::from(self.config.kl_warmup_epochs)).min(1.0)
    }

    /// One step of every live model on the same batch. Returns events to send and whether
    /// the batch ended an epoch. At a keep-point, the weights a model steps from become its
    /// last good weights if their loss on this batch is finite.
    pub(super) fn step(&mut self) -> Result<(Vec<TrainEvent>, bool)> {
        let started = Instant::now();
        let dim = self.data.dim();
        let (indices, epoch_done) = self.order.next_batch();
        let batch = indices.len();
        let x = batch_tensor(self.data.train.gather(indices, dim), dim)?;
        // A conditional model (cvae) also sees each item's class.
        let labels: Vec<u32> = indices
            .iter()
            .map(|&i| self.data.train.labels.get(i).copied().unwrap_or(0))
            .collect();
        let schedule = Schedule::new(self.kl_warmup_factor(), self.step);
        let at = StepAt {
            keep_point: self.step.is_multiple_of(KEEP_EVERY_STEPS),
            step: self.step + 1,
            epoch: self.epoch,
        };
        let events = step_models(
            &mut self.slots,
            (&x, &labels),
            schedule,
            at,
            self.config.threads,
        )?;
        self.step += 1;
        self.step_in_epoch += 1;
        let took = started.elapsed();
        self.elapsed += took;
        self.epoch_elapsed += took;
        self.time_since_progress += took;
        self.samples_since_progress += batch;
        Ok((events, epoch_done))
    }

    /// True once every model has diverged: nothing is left to train.
    pub(super) fn all_diverged(&self) -> bool {
        self.slots.iter().all(|s| s.diverged)
    }

    /// Where training is, with the mean losses since the previous call (the previous means
    /// again if no step was taken since), and the training rate smoothed over the last
    /// few seconds so the readout does not jump with each short interval.
    pub(super) fn progress(&mut self) -> Progress {
        let secs = self.time_since_progress.as_secs_f64();
        if secs > 0.0 && self.samples_since_progress > 0 {
            let rate = self.samples_since_progress as f64 / secs;
            // Exponential smoothing with a time constant of about 2 s of training.
            let keep = (-secs / 2.0).exp();
            self.rate = if self.rate > 0.0 {
                keep * self.rate + (1.0 - keep) * rate
            } else {
                rate
            };
        }
        self.samples_since_progress = 0;
        self.time_since_progress = Duration::ZERO;
        let losses = self.slots.iter_mut().map(Slot::take_progress).collect();
        let samples_per_sec = self.rate;
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

    /// What the window draws of every model now (see [`ModelSnapshot`]).
    pub(super) fn snapshot(&mut self) -> Result<Snapshot> {
        let dim = self.data.dim();
        let test = &self.data.test;
        let display = batch_tensor(test.gather(&self.display_indices, dim), dim)?;
        let recon_inputs = test.gather(&self.recon_indices, dim);
        let recon_x = batch_tensor(recon_inputs.clone(), dim)?;
        let label_of = |i: &usize| test.labels.get(*i).copied().unwrap_or(0);
        let display_labels: Vec<u32> = self.display_indices.iter().map(label_of).collect();
        let recon_labels: Vec<u32> = self.recon_indices.iter().map(label_of).collect();
        let mut models = Vec::new();
        for slot in &mut self.slots {
            let m = &slot.model;
            // A conditional model (cvae) sees each item's class too.
            let display = &m.input_of(&display, &display_labels)?;
            let recon_x = &m.input_of(&recon_x, &recon_labels)?;
            // In parts: 2,000 items through a 64×64 conv model at once hold GBs.
            let (codes, sigmas) = crate::model::conv::encode_in_parts(m, display)?;
            // The image shown decodes μ of exactly the input the model saw (the corrupted
            // one for a denoiser); its numbers are that decoding's NLL of the clean input.
            let noisy = m.corrupt(recon_x, &mut self.view_rng)?;
            let (rmu, _) = m.encode(&noisy)?;
            let recon_losses: Vec<f32> = m
                .recon_nll(&m.decode_given(&rmu, &noisy)?, recon_x)?
                .to_vec1()?;
            let decoder = Arc::new(m.decoder_snapshot()?);
            let recon_values =
                decoder.decode_each(&rmu.flatten_all()?.to_vec1()?, &recon_labels)?;
            models.push(ModelSnapshot {
                name: slot.name.clone(),
                kind: m.config.kind,
                latent_dim: m.config.latent_dim,
                decoder,
                encoder: Arc::new(m.encoder_snapshot()?),
                config: m.config.clone(),
                codes,
                sigmas,
                recon: recon_values,
                // A failure here is the snapshot's failure, not an empty (blank) image.
                noisy_inputs: m
                    .config
                    .kind
                    .spec()
                    .corrupt
                    .is_some()
                    .then(|| noisy.flatten_all().and_then(|t| t.to_vec1()))
                    .transpose()?,
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
}

/// Where in training a step is.
#[derive(Clone, Copy)]
struct StepAt {
    /// The weights stepped from become the last good ones if their loss is finite.
    keep_point: bool,
    /// The step being taken (1-based).
    step: u64,
    /// Completed epochs.
    epoch: usize,
}

/// Steps every live model on `x`, on up to `threads` threads (each model's numbers are the
/// same either way: it has its own rng). Returns the divergence events, in model order.
fn step_models(
    slots: &mut [Slot],
    x: (&Tensor, &[u32]),
    schedule: Schedule,
    at: StepAt,
    threads: usize,
) -> Result<Vec<TrainEvent>> {
    let live = slots.iter().filter(|s| !s.diverged).count();
    let threads = threads.clamp(1, live.max(1));
    let outcomes: Vec<Result<Option<TrainEvent>>> = if threads == 1 {
        slots
            .iter_mut()
            .map(|s| step_model(s, x, schedule, at))
            .collect()
    } else {
        let per_thread = slots.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = slots
                .chunks_mut(per_thread)
                .map(|group| {
                    scope.spawn(move || {
                        group
                            .iter_mut()
                            .map(|s| step_model(s, x, schedule, at))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Err(candle_core::Error::Msg(
                            "a model's training thread panicked".into(),
                        ))]
                    })
                })
                .collect()
        })
    };
    let mut events = Vec::new();
    for outcome in outcomes {
        events.extend(outcome?);
    }
    Ok(events)
}

/// One step of one model (nothing if it has diverged); a `Diverged` event if this step
/// diverged it, after restoring its last good weights.
fn step_model(
    slot: &mut Slot,
    (x, labels): (&Tensor, &[u32]),
    schedule: Schedule,
    at: StepAt,
) -> Result<Option<TrainEvent>> {
    if slot.diverged {
        return Ok(None);
    }
    let x = &slot.model.input_of(x, labels)?;
    let before = if at.keep_point {
        Some(slot.model.weights()?)
    } else {
        None
    };
    let Some(reported) =
        slot.model
            .train_step_reported(&mut slot.opt, x, &mut slot.rng, schedule)?
    else {
        slot.diverged = true;
        slot.model.set_weights(&slot.last_good)?;
        return Ok(Some(TrainEvent::Diverged {
            model: slot.name.clone(),
            step: at.step,
            epoch: at.epoch,
        }));
    };
    if let Some(weights) = before {
        slot.last_good = weights;
    }
    for sums in [&mut slot.since_progress, &mut slot.since_epoch] {
        sums.add(reported.terms, reported.loss);
    }
    Ok(None)
}

/// A seed for the stream of `name` within the run seeded `seed` (FNV-1a over the name,
/// mixed with the seed): fixed by this function, not by any library's hashing.
fn stream_seed(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// `count` distinct indices below `n`, in random order.
pub(super) fn pick(rng: &mut PortableRng, n: usize, count: usize) -> Vec<usize> {
    sample(rng, n, count.min(n)).into_vec()
}
