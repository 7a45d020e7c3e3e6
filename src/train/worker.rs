//! The training loop: every model steps on the same batch, then progress, snapshots and
//! epoch summaries go out without ever blocking on a slow reader.

use super::messages::*;
use super::session::{Session, pick};
use crate::data::Dataset;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Called after every event so a window can repaint.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

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
                TrainCommand::SetLr(lr) => match super::spec::check_lr(lr) {
                    Ok(()) => {
                        session.config.lr = lr;
                        for s in &mut session.slots {
                            s.opt.lr = s.model.config.lr_override.unwrap_or(lr);
                        }
                    }
                    Err(e) => io.send(TrainEvent::Error(e)),
                },
                TrainCommand::SetKnob { key, value } => set_knob(&mut session, &io, &key, value),
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

/// Sets a live knob on every model whose kind has it; a bad value leaves the model as it was.
fn set_knob(session: &mut Session, io: &WorkerIo, key: &str, value: crate::model::KnobValue) {
    for s in &mut session.slots {
        if s.model.config.kind.knob(key).is_none() {
            continue;
        }
        let mut c = s.model.config.clone();
        match c.set_knob(key, value.clone()).and_then(|()| c.validate()) {
            Ok(()) => {
                s.opt.weight_decay = f64::from(c.number("weight_decay"));
                s.model.config = c;
            }
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
