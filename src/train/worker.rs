//! The training loop: every model steps on the same batch, then progress, snapshots and
//! epoch summaries go out without ever blocking on a slow reader.
//!
//! [`Worker`] holds the state of a run and answers one command ([`Worker::handle`]) or does
//! one unit of work ([`Worker::tick`]) at a time, so a test can drive it without a thread;
//! [`run`] is the thread's thin loop around it.

use super::channels::{TrainCommand, TrainEvent};
use super::limits::SettingsError;
use super::messages::*;
use super::session::{Session, pick};
use crate::data::Dataset;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use stats::{Spent, WorkerStats};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod stats;

/// Called after every event so a window can repaint.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// How long an idle worker waits for a command before it looks at its stop flag again.
const IDLE_WAIT: Duration = Duration::from_millis(50);

/// The shortest time between two wake-ups of the window (at most 10 a second): each one
/// is a repaint, drawn in software on the core the training leaves free, and progress
/// alone comes 10 times a second besides the snapshots. A wake-up held back goes out on a
/// later tick.
const WAKE_EVERY: Duration = Duration::from_millis(100);

/// The channels and flags the worker runs with.
pub(crate) struct WorkerIo {
    commands: Receiver<TrainCommand>,
    events: Sender<TrainEvent>,
    stop: Arc<AtomicBool>,
    notify: Option<Notify>,
    /// Events that must arrive (summaries, errors) but found the queue full, oldest first.
    backlog: VecDeque<TrainEvent>,
    last_wake: Option<Instant>,
    /// Events went out since the last wake-up, which was too recent to repeat.
    wake_owed: bool,
}

impl WorkerIo {
    /// Channels for a worker: commands in, events out, a stop flag, an optional wake-up.
    pub(crate) fn new(
        commands: Receiver<TrainCommand>,
        events: Sender<TrainEvent>,
        stop: Arc<AtomicBool>,
        notify: Option<Notify>,
    ) -> Self {
        Self {
            commands,
            events,
            stop,
            notify,
            backlog: VecDeque::new(),
            last_wake: None,
            wake_owed: false,
        }
    }

    /// Queues an event that must arrive (summaries, errors). Never blocks: if the reader is
    /// behind, it waits in the backlog, in order, and goes out on a later `flush`.
    fn send(&mut self, ev: TrainEvent) {
        self.backlog.push_back(ev);
        self.flush();
    }

    /// Moves as much of the backlog into the queue as fits.
    fn flush(&mut self) {
        let mut sent = false;
        while let Some(ev) = self.backlog.pop_front() {
            match self.events.try_send(ev) {
                Ok(()) => sent = true,
                Err(TrySendError::Full(ev)) => {
                    self.backlog.push_front(ev);
                    break;
                }
                // Nobody listens any more: a normal end.
                Err(TrySendError::Disconnected(_)) => self.backlog.clear(),
            }
        }
        if sent {
            self.wake();
        }
    }

    /// True if an event that may be dropped (progress, snapshot) would be sent now: nothing
    /// waits in the backlog and half the queue is free for events that must arrive.
    fn has_room(&self) -> bool {
        let cap = self.events.capacity().unwrap_or(usize::MAX);
        self.backlog.is_empty() && self.events.len() < cap / 2
    }

    /// Sends a progress or snapshot event, dropping it if the reader is behind.
    fn offer(&mut self, ev: TrainEvent) {
        if self.has_room() && self.events.try_send(ev).is_ok() {
            self.wake();
        }
    }

    /// Wakes the reader now, or on a later tick if it was woken less than [`WAKE_EVERY`] ago.
    fn wake(&mut self) {
        self.wake_owed = true;
        self.wake_if_due();
    }

    /// Delivers a held-back wake-up once [`WAKE_EVERY`] has passed since the last one.
    fn wake_if_due(&mut self) {
        if !self.wake_owed || self.last_wake.is_some_and(|t| t.elapsed() < WAKE_EVERY) {
            return;
        }
        self.wake_owed = false;
        self.last_wake = Some(Instant::now());
        if let Some(n) = &self.notify {
            n();
        }
    }
}

/// What the thread loop does after a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep serving commands.
    Continue,
    /// End the worker.
    Stop,
}

/// One run on the worker: the session and the state of the loop around it.
pub(crate) struct Worker {
    pub(super) session: Session,
    pub(super) io: WorkerIo,
    /// Training steps follow one another until paused.
    running: bool,
    /// One step is owed (the `Step` command), then the run stays paused.
    single_step: bool,
    /// Training pauses once the run reaches this step (`TrainUntil`).
    until: Option<u64>,
    /// The configured epochs are done; only a reset trains again.
    finished: bool,
    /// A snapshot goes out as soon as the queue has room.
    snapshot_wanted: bool,
    last_progress: Instant,
    last_snapshot: Option<Instant>,
    snapshot_cost: Duration,
    /// The last epoch's metrics, written into saved checkpoints.
    last_epoch: Vec<ModelEpoch>,
    /// Seconds of training at which the next timed test evaluation is due.
    next_eval_secs: f64,
    /// Where the time goes (`LATENTLAB_WORKER_STATS`).
    stats: WorkerStats,
}

/// The worker thread's body: builds the models, then serves commands until stopped.
pub(crate) fn run(config: TrainConfig, data: Arc<Dataset>, io: WorkerIo) {
    let Some(mut worker) = Worker::new(config, data, io) else {
        return;
    };
    while !worker.io.stop.load(Ordering::Relaxed) {
        for cmd in worker.next_commands() {
            if worker.handle(cmd) == Flow::Stop {
                return;
            }
        }
        worker.tick();
    }
}

impl Worker {
    /// Builds the models and sends `Ready`, or sends `Error` and returns `None`.
    pub(crate) fn new(config: TrainConfig, data: Arc<Dataset>, mut io: WorkerIo) -> Option<Self> {
        let session = build(config, data, &mut io)?;
        Some(
            Self {
                session,
                io,
                running: false,
                until: None,
                single_step: false,
                finished: false,
                snapshot_wanted: true,
                last_progress: Instant::now(),
                last_snapshot: None,
                snapshot_cost: Duration::ZERO,
                last_epoch: Vec::new(),
                next_eval_secs: 0.0,
                stats: WorkerStats::from_env(),
            }
            .with_eval_schedule(),
        )
    }

    /// The commands waiting now; an idle worker waits a little for the first one.
    fn next_commands(&self) -> Vec<TrainCommand> {
        let first = if self.busy() {
            self.io.commands.try_recv().ok()
        } else {
            self.io.commands.recv_timeout(IDLE_WAIT).ok()
        };
        let mut pending: Vec<TrainCommand> = first.into_iter().collect();
        pending.extend(self.io.commands.try_iter());
        pending
    }

    /// True if `tick` has work to do without a command (a held-back wake-up waits at most
    /// [`IDLE_WAIT`] more).
    fn busy(&self) -> bool {
        self.trains() || (self.snapshot_wanted && self.io.has_room())
    }

    /// True if the next `tick` takes a training step.
    fn trains(&self) -> bool {
        (self.running || self.single_step) && !self.finished
    }

    /// Answers one command.
    pub(crate) fn handle(&mut self, cmd: TrainCommand) -> Flow {
        match cmd {
            TrainCommand::Start => self.start(),
            TrainCommand::Pause => {
                self.running = false;
                self.until = None;
                self.snapshot_wanted = true;
                self.io.send(TrainEvent::Paused);
            }
            TrainCommand::TrainUntil(step) => {
                if self.session.step < step {
                    self.until = Some(step);
                    self.start();
                } else {
                    self.snapshot_wanted = true;
                }
            }
            TrainCommand::Step => {
                self.running = false;
                if self.finished {
                    self.send_finished();
                } else {
                    self.single_step = true;
                }
            }
            TrainCommand::Stop => return Flow::Stop,
            TrainCommand::Reset(config, data) => self.reset(*config, data),
            TrainCommand::SetLr(lr) => self.set_lr(lr),
            TrainCommand::SetKnob { key, value } => self.set_knob(&key, value),
            TrainCommand::ShuffleRecon => {
                let n = self.session.data.test.len();
                let count = self.session.config.recon_count;
                self.session.recon_indices = pick(&mut self.session.view_rng, n, count);
                self.snapshot_wanted = true;
            }
            TrainCommand::RequestSnapshot => self.snapshot_wanted = true,
            TrainCommand::SaveRun(save) => {
                let saved = self.session.save_run(&save, &self.last_epoch);
                self.io.send(TrainEvent::RunSaved(saved.map_err(Arc::new)));
            }
        }
        Flow::Continue
    }

    /// One unit of work: deliver held-back events, take a training step if one is due
    /// (with the progress and epoch end it brings), and send a snapshot if one is wanted.
    pub(crate) fn tick(&mut self) {
        self.io.flush();
        self.io.wake_if_due();
        // A run's starting moment is its first snapshot even when Train came before the
        // first tick (the command line's does): a replay starts at step 0, not step 1.
        if self.last_snapshot.is_none() && self.snapshot_wanted && self.io.has_room() {
            self.send_snapshot();
        }
        if self.trains() {
            self.single_step = false;
            self.train_step();
            if self.until.is_some_and(|n| self.session.step >= n) {
                self.until = None;
                self.running = false;
                self.io.send(TrainEvent::Paused);
            }
            self.evaluate_when_due();
            self.report_when_due();
        }
        if self.snapshot_wanted && self.io.has_room() {
            self.send_snapshot();
        }
        self.stats.report_when_due(self.session.step);
    }

    fn start(&mut self) {
        if self.finished {
            self.send_finished();
        } else {
            self.running = true;
            self.io.send(TrainEvent::Running);
        }
    }

    fn send_finished(&mut self) {
        self.io.send(TrainEvent::Finished {
            step: self.session.step,
            epoch: self.session.epoch,
        });
    }

    /// New models from `config` (and `data`, else the current data); keeps the old run if
    /// the config is refused.
    fn reset(&mut self, config: TrainConfig, data: Option<Arc<Dataset>>) {
        let data = data.unwrap_or_else(|| self.session.data.clone());
        if let Some(session) = build(config, data, &mut self.io) {
            self.session = session;
            self.running = false;
            self.single_step = false;
            self.until = None;
            self.finished = false;
            self.snapshot_wanted = true;
            self.last_snapshot = None;
            self.last_epoch.clear();
            self.next_eval_secs = self.first_eval_secs();
        }
    }

    /// Sets the first timed evaluation of a new run.
    fn with_eval_schedule(mut self) -> Self {
        self.next_eval_secs = self.first_eval_secs();
        self
    }

    fn first_eval_secs(&self) -> f64 {
        self.session.config.eval_every_secs.unwrap_or(f64::INFINITY)
    }

    /// Every `eval_every_secs` of training: test metrics of every model, as a `TestReport`.
    /// The next one is due at the next multiple of the interval, so a slow evaluation never
    /// shifts the schedule (its time is not training time).
    fn evaluate_when_due(&mut self) {
        let Some(every) = self.session.config.eval_every_secs else {
            return;
        };
        let trained = self.session.elapsed.as_secs_f64();
        if trained < self.next_eval_secs {
            return;
        }
        self.next_eval_secs = ((trained / every).floor() + 1.0) * every;
        match self.stats.time(Spent::Eval, || self.session.test_report()) {
            Ok(report) => self.io.send(TrainEvent::TestReport(report)),
            Err(e) => self
                .io
                .send(TrainEvent::Error(format!("evaluation failed: {e}"))),
        }
    }

    /// Sets the run's learning rate and every optimiser's, except models with their own.
    fn set_lr(&mut self, lr: f64) {
        if let Err(e) = super::spec::check_lr(lr) {
            self.io.send(TrainEvent::Error(e.to_string()));
            return;
        }
        self.session.config.lr = lr;
        for s in &mut self.session.slots {
            s.opt.lr = s.model.config.lr_override.unwrap_or(lr);
        }
    }

    /// Changes a live knob of every model whose kind has it; a value out of range gives an
    /// `Error` and keeps the old one.
    fn set_knob(&mut self, key: &str, value: crate::model::KnobValue) {
        for s in &mut self.session.slots {
            if s.model.config.kind.knob(key).is_none() {
                continue;
            }
            let mut c = s.model.config.clone();
            match c.set_knob(key, value.clone()).and_then(|()| c.validate()) {
                Ok(()) => {
                    s.opt.weight_decay = f64::from(c.number("weight_decay"));
                    s.model.config = c;
                }
                Err(e) => self.io.send(TrainEvent::Error(format!("{}: {e}", s.name))),
            }
        }
    }

    /// One step of every live model; at an epoch end, the summary (and maybe the finish).
    fn train_step(&mut self) {
        match self.stats.time(Spent::Step, || self.session.step()) {
            Ok((events, epoch_done)) => {
                for ev in events {
                    self.io.send(ev);
                }
                if epoch_done {
                    self.end_epoch();
                }
                if self.session.all_diverged() {
                    self.running = false;
                    self.io.send(TrainEvent::Paused);
                }
            }
            Err(e) => {
                self.running = false;
                self.io
                    .send(TrainEvent::Error(format!("training step failed: {e}")));
                self.io.send(TrainEvent::Paused);
            }
        }
    }

    fn end_epoch(&mut self) {
        self.offer_progress();
        match self
            .stats
            .time(Spent::EpochEnd, || self.session.end_epoch())
        {
            Ok(summary) => {
                self.last_epoch = summary.models.clone();
                self.io.send(TrainEvent::EpochSummary(summary));
            }
            Err(e) => self
                .io
                .send(TrainEvent::Error(format!("evaluation failed: {e}"))),
        }
        self.snapshot_wanted = true;
        let epochs = self.session.config.epochs;
        if epochs.is_some_and(|e| self.session.epoch >= e) {
            self.finished = true;
            self.running = false;
            self.send_finished();
        }
    }

    /// Progress and snapshots by the clock while running; at once when the run stops.
    fn report_when_due(&mut self) {
        if !self.running {
            // A paused, single-stepped or finished run shows where it is now.
            self.offer_progress();
            self.snapshot_wanted = true;
            return;
        }
        let progress_every = Duration::from_millis(self.session.config.progress_interval_ms);
        let snapshot_every = Duration::from_millis(self.session.config.snapshot_interval_ms);
        if self.last_progress.elapsed() >= progress_every {
            self.offer_progress();
        }
        if self
            .session
            .config
            .snapshot_steps
            .binary_search(&self.session.step)
            .is_ok()
        {
            self.snapshot_wanted = true;
        }
        // Snapshots cost a forward pass over the display items (about 30 ms for three
        // models at latent dim 20 on a loaded 2-core machine, measured): keep them under
        // ~5% of the worker's time. At 10% they took 7-9% of the window's worker.
        let due = snapshot_every.max(self.snapshot_cost * 20);
        if self.last_snapshot.is_none_or(|t| t.elapsed() >= due) {
            self.snapshot_wanted = true;
        }
    }

    /// Sends the losses since the last progress that went out; if the reader is behind,
    /// they keep adding up for the next one.
    fn offer_progress(&mut self) {
        if self.io.has_room() {
            let progress = self.session.progress();
            self.io.offer(TrainEvent::Progress(progress));
            self.last_progress = Instant::now();
        }
    }

    fn send_snapshot(&mut self) {
        self.snapshot_wanted = false;
        let started = Instant::now();
        match self.stats.time(Spent::Snapshot, || self.session.snapshot()) {
            Ok(s) => self.io.offer(TrainEvent::Snapshot(Arc::new(s))),
            Err(e) => self
                .io
                .send(TrainEvent::Error(format!("snapshot failed: {e}"))),
        }
        self.snapshot_cost = started.elapsed();
        self.last_snapshot = Some(Instant::now());
    }
}

/// A session for `config` on `data`, announced with `Ready`; or `Error` and `None`.
fn build(config: TrainConfig, data: Arc<Dataset>, io: &mut WorkerIo) -> Option<Session> {
    if let Err(e) = check(&config, &data) {
        io.send(TrainEvent::Error(e.to_string()));
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

/// Refuses a config that does not validate or does not fit the data.
fn check(config: &TrainConfig, data: &Dataset) -> Result<(), SettingsError> {
    config.validate()?;
    if let Some(m) = config.models.iter().find(|m| m.input_dim != data.dim()) {
        return Err(SettingsError::OtherItems {
            kind: m.kind,
            input_dim: m.input_dim,
            data: data.name.clone(),
            dim: data.dim(),
        });
    }
    if data.train.is_empty() || data.test.is_empty() {
        return Err(SettingsError::EmptySplit(data.name.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
