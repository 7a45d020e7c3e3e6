//! The training loop: every model steps on the same batch, then progress, snapshots and
//! epoch summaries go out without ever blocking on a slow reader.

use super::messages::*;
use crate::data::{BatchOrder, Dataset};
use crate::explore::knn_accuracy;
use crate::model::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use crate::model::{Adam, Autoencoder, Metrics, ModelKind, batch_tensor, evaluate};
use candle_core::{Result, Tensor};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Called after every event so a window can repaint.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// Training items encoded for the k-NN accuracy at each epoch end.
const KNN_TRAIN_ITEMS: usize = 5000;

/// One model and everything the worker keeps for it.
struct Slot {
    name: String,
    model: Autoencoder,
    opt: Adam,
    diverged: bool,
    last_good: Vec<Tensor>,
    /// recon, kl, penalty, loss sums and count since the last progress event.
    since_progress: [f64; 5],
    /// The same over the current epoch.
    since_epoch: [f64; 5],
}

/// The whole state of one run.
struct Session {
    config: TrainConfig,
    data: Arc<Dataset>,
    slots: Vec<Slot>,
    order: BatchOrder,
    /// Draws the training noise (VAE ε, denoiser corruption): only training steps use it,
    /// so a seed gives the same numbers however often the window asks for snapshots.
    rng: StdRng,
    /// Draws for snapshots and the reconstruction set, apart from training.
    view_rng: StdRng,
    step: u64,
    epoch: usize,
    step_in_epoch: usize,
    display_indices: Vec<usize>,
    recon_indices: Vec<usize>,
    elapsed: Duration,
    epoch_elapsed: Duration,
    samples_since_progress: usize,
    time_since_progress: Duration,
}

impl Session {
    fn new(config: TrainConfig, data: Arc<Dataset>) -> Result<Self> {
        let mut rng = StdRng::seed_from_u64(config.seed);
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
        let view_rng = StdRng::seed_from_u64(config.seed ^ 0x5EE_D15B);
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
    fn step(&mut self) -> Result<(Vec<TrainEvent>, bool)> {
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

    fn progress(&mut self) -> Progress {
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

    fn snapshot(&mut self) -> Result<Snapshot> {
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
                noisy_inputs: (m.config.kind == ModelKind::Dae).then(|| {
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

    fn end_epoch(&mut self) -> Result<EpochSummary> {
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
            let mut eval_rng = StdRng::seed_from_u64(
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

    fn save(
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
fn pick(rng: &mut StdRng, n: usize, count: usize) -> Vec<usize> {
    sample(rng, n, count.min(n)).into_vec()
}

/// The channels and flags the worker runs with.
pub(crate) struct WorkerIo {
    pub commands: Receiver<TrainCommand>,
    pub events: Sender<TrainEvent>,
    pub stop: Arc<AtomicBool>,
    pub notify: Option<Notify>,
}

impl WorkerIo {
    /// Sends an event that must arrive (summaries, errors); waits only if the reader is far behind.
    fn send(&self, ev: TrainEvent) {
        self.events.send(ev).ok();
        self.wake();
    }

    /// Sends a progress or snapshot event, dropping it if the reader is behind.
    fn offer(&self, ev: TrainEvent) {
        // Keep half the queue free for events that must arrive.
        let cap = self.events.capacity().unwrap_or(usize::MAX);
        if self.events.len() < cap / 2 {
            self.events.try_send(ev).ok();
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(n) = &self.notify {
            n();
        }
    }
}

/// The worker thread's body: builds the models, then serves commands until stopped.
pub(crate) fn run(config: TrainConfig, data: Arc<Dataset>, io: WorkerIo) {
    let mut session = match build(config, data, &io) {
        Some(s) => s,
        None => return,
    };
    let mut running = false;
    let mut single_step = false;
    let mut last_progress = Instant::now();
    let mut last_snapshot: Option<Instant> = None;
    let mut snapshot_cost = Duration::ZERO;
    let mut snapshot_wanted = true;
    let mut finished = false;
    let mut last_epoch: Vec<ModelEpoch> = Vec::new();
    while !io.stop.load(Ordering::Relaxed) {
        // Commands: wait for one while idle, otherwise just look.
        let first = if running || single_step || snapshot_wanted {
            io.commands
                .try_recv()
                .map_err(|_| RecvTimeoutError::Timeout)
        } else {
            io.commands.recv_timeout(Duration::from_millis(50))
        };
        let mut pending: Vec<TrainCommand> = first.into_iter().collect();
        pending.extend(io.commands.try_iter());
        for cmd in pending {
            match cmd {
                TrainCommand::Start => {
                    if finished {
                        io.send(TrainEvent::Finished {
                            step: session.step,
                            epoch: session.epoch,
                        });
                    } else {
                        running = true;
                        io.send(TrainEvent::Running);
                    }
                }
                TrainCommand::Pause => {
                    running = false;
                    snapshot_wanted = true;
                    io.send(TrainEvent::Paused);
                }
                TrainCommand::Step => {
                    running = false;
                    single_step = true;
                }
                TrainCommand::Stop => return,
                TrainCommand::Reset(config, new_data) => {
                    let data = new_data.unwrap_or_else(|| session.data.clone());
                    if let Some(s) = build(*config, data, &io) {
                        session = s;
                        running = false;
                        finished = false;
                        snapshot_wanted = true;
                        last_epoch.clear();
                    }
                }
                TrainCommand::SetLr(lr) => {
                    if lr > 0.0 && lr <= 10.0 {
                        session.config.lr = lr;
                        for s in &mut session.slots {
                            s.opt.lr = s.model.config.lr_override.unwrap_or(lr);
                        }
                    } else {
                        io.send(TrainEvent::Error(format!(
                            "learning rate {lr} is out of range (above 0, at most 10)"
                        )));
                    }
                }
                TrainCommand::SetBeta(beta) => {
                    set_knob(&mut session, &io, ModelKind::BetaVae, |c| c.beta = beta)
                }
                TrainCommand::SetNoise(level) => {
                    set_knob(&mut session, &io, ModelKind::Dae, |c| c.noise_level = level)
                }
                TrainCommand::ShuffleRecon => {
                    let n = session.data.test.len();
                    session.recon_indices =
                        pick(&mut session.view_rng, n, session.config.recon_count);
                    snapshot_wanted = true;
                }
                TrainCommand::RequestSnapshot => snapshot_wanted = true,
                TrainCommand::Save(dir) => {
                    io.send(TrainEvent::Saved(session.save(&dir, &last_epoch)))
                }
            }
        }

        if (running || single_step) && !finished {
            single_step = false;
            match session.step() {
                Ok((events, epoch_done)) => {
                    for ev in events {
                        io.send(ev);
                    }
                    if epoch_done {
                        io.offer(TrainEvent::Progress(session.progress()));
                        last_progress = Instant::now();
                        match session.end_epoch() {
                            Ok(summary) => {
                                last_epoch = summary.models.clone();
                                io.send(TrainEvent::EpochSummary(summary));
                            }
                            Err(e) => io.send(TrainEvent::Error(format!("evaluation failed: {e}"))),
                        }
                        snapshot_wanted = true;
                        if session.config.epochs.is_some_and(|e| session.epoch >= e) {
                            finished = true;
                            running = false;
                            io.send(TrainEvent::Finished {
                                step: session.step,
                                epoch: session.epoch,
                            });
                        }
                    }
                    if session.slots.iter().all(|s| s.diverged) {
                        running = false;
                        io.send(TrainEvent::Paused);
                    }
                }
                Err(e) => {
                    running = false;
                    io.send(TrainEvent::Error(format!("training step failed: {e}")));
                    io.send(TrainEvent::Paused);
                }
            }
            if last_progress.elapsed() >= Duration::from_millis(session.config.progress_interval_ms)
            {
                io.offer(TrainEvent::Progress(session.progress()));
                last_progress = Instant::now();
            }
            // Snapshots cost a forward pass over the display items: keep them under ~10% of the time.
            let due =
                Duration::from_millis(session.config.snapshot_interval_ms).max(snapshot_cost * 10);
            if last_snapshot.is_none_or(|t| t.elapsed() >= due) {
                snapshot_wanted = true;
            }
            if !running {
                // A paused or single-stepped run shows where it is now.
                io.offer(TrainEvent::Progress(session.progress()));
                snapshot_wanted = true;
            }
        }
        if snapshot_wanted {
            snapshot_wanted = false;
            let t = Instant::now();
            match session.snapshot() {
                Ok(s) => io.offer(TrainEvent::Snapshot(Arc::new(s))),
                Err(e) => io.send(TrainEvent::Error(format!("snapshot failed: {e}"))),
            }
            snapshot_cost = t.elapsed();
            last_snapshot = Some(Instant::now());
        }
    }
}

fn set_knob(
    session: &mut Session,
    io: &WorkerIo,
    kind: ModelKind,
    change: impl Fn(&mut crate::model::ModelConfig),
) {
    for s in session
        .slots
        .iter_mut()
        .filter(|s| s.model.config.kind == kind)
    {
        let mut c = s.model.config.clone();
        change(&mut c);
        match c.validate() {
            Ok(()) => s.model.config = c,
            Err(e) => io.send(TrainEvent::Error(format!("{}: {e}", s.name))),
        }
    }
}

fn build(config: TrainConfig, data: Arc<Dataset>, io: &WorkerIo) -> Option<Session> {
    if let Err(e) = config.validate() {
        io.send(TrainEvent::Error(e));
        return None;
    }
    if let Some(m) = config.models.iter().find(|m| m.input_dim != data.dim()) {
        io.send(TrainEvent::Error(format!(
            "{} expects items of {} values but data set '{}' has {}",
            m.kind,
            m.input_dim,
            data.name,
            data.dim()
        )));
        return None;
    }
    if data.train.is_empty() || data.test.is_empty() {
        io.send(TrainEvent::Error(format!(
            "data set '{}' has an empty train or test split",
            data.name
        )));
        return None;
    }
    match Session::new(config, data) {
        Ok(s) => {
            io.send(TrainEvent::Ready {
                batches_per_epoch: s.order.batches_per_epoch(),
                config: Box::new(s.config.clone()),
            });
            Some(s)
        }
        Err(e) => {
            io.send(TrainEvent::Error(format!(
                "could not build the models: {e}"
            )));
            None
        }
    }
}
