//! The window's side of training: the Trainer handle, the data set, the latest snapshot,
//! the loss history and messages. Drained in `logic`, never waited on.

use super::history::{CurveValues, LossHistory};
use super::settings::Settings;
use crate::data::{self, Dataset, Sizes};
use crate::train::{
    EpochSummary, Progress, Snapshot, StartFrom, TrainCommand, TrainConfig, TrainEvent, Trainer,
};
use crossbeam_channel::{Receiver, bounded};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one frame may spend draining events.
const DRAIN_BUDGET: Duration = Duration::from_millis(4);

/// How long a note (not an error) stays in the window.
pub const NOTE_LIFETIME: Duration = Duration::from_secs(15);

/// What training is doing, as the controls show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Loading a data set.
    Loading,
    /// Models built, not training.
    Paused,
    /// Training.
    Running,
    /// The configured epochs are done.
    Finished,
    /// Nothing can train (no data or an invalid config).
    Idle,
}

/// A message shown in the window: errors until dismissed, notes for [`NOTE_LIFETIME`].
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// True for errors, false for warnings and notices.
    pub is_error: bool,
    /// When it was shown (the last time, for a message repeated while shown).
    pub shown_at: Instant,
}

/// A data set being loaded on a background thread.
struct PendingLoad {
    spec: String,
    rx: Receiver<Result<Dataset, data::DataError>>,
}

/// The training session the window shows.
pub struct Session {
    /// The worker, once a data set is loaded.
    pub trainer: Option<Trainer>,
    /// The data set the models train on.
    pub data: Option<Arc<Dataset>>,
    /// The config the worker runs.
    pub config: Option<TrainConfig>,
    /// Latest snapshot of every model.
    pub snapshot: Option<Arc<Snapshot>>,
    /// Latest progress.
    pub progress: Option<Progress>,
    /// Every epoch summary so far.
    pub epochs: Vec<EpochSummary>,
    /// Loss curves.
    pub history: LossHistory,
    /// Batches per epoch.
    pub batches_per_epoch: usize,
    /// What training is doing.
    pub status: Status,
    /// Errors and warnings to show.
    pub messages: Vec<Message>,
    /// Train as soon as models are ready: the user's last choice of Train or Pause.
    pub start_when_ready: bool,
    /// New models were asked of the worker and are not ready yet.
    building: bool,
    pending: Option<PendingLoad>,
    repaint: Option<egui::Context>,
    sizes: Option<Sizes>,
    /// Threads that step the models (the cores minus one unless `--threads` says).
    pub threads: usize,
    /// When the session started (for the time-to-first-snapshot figure in the notes).
    pub started: Instant,
    /// The loss history of an opened run, shown once its models are ready.
    pub restore_history: Option<LossHistory>,
    /// How many times new models were asked for: a Save… begun before a rebuild does
    /// not finish with the new models' weights.
    pub generation: u64,
    /// A tentative reset (an opened run) the worker has not answered yet: what to put
    /// back if it refuses.
    tentative: Option<Tentative>,
    /// How the worker answered the last tentative reset, until the window takes it.
    answer: Option<Answer>,
}

/// What a tentative reset replaced, put back if the worker refuses the new models.
struct Tentative {
    data: Option<Arc<Dataset>>,
}

/// How the worker answered a tentative reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// It built the new models: they are what the window shows now.
    Taken,
    /// It refused them (the message says why) and trains the models it had, on the data
    /// it had; the session shows those again.
    Refused,
}

/// The window's training threads: every core but one (kept for drawing), at least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .clamp(1, 256)
}

impl Session {
    /// An empty session; `sizes` caps built-in data sets (tests use small ones).
    pub fn new(repaint: Option<egui::Context>, sizes: Option<Sizes>) -> Self {
        Self {
            trainer: None,
            data: None,
            config: None,
            snapshot: None,
            progress: None,
            epochs: Vec::new(),
            history: LossHistory::new(),
            batches_per_epoch: 1,
            status: Status::Idle,
            messages: Vec::new(),
            start_when_ready: true,
            building: false,
            pending: None,
            repaint,
            sizes,
            threads: default_threads(),
            started: Instant::now(),
            restore_history: None,
            generation: 0,
            tentative: None,
            answer: None,
        }
    }

    /// The context to repaint when something arrives from another thread (none in some
    /// tests).
    pub fn repaint(&self) -> Option<egui::Context> {
        self.repaint.clone()
    }

    /// Shows an error in the window.
    pub fn error(&mut self, text: impl Into<String>) {
        self.show(text.into(), true);
    }

    /// Shows a warning or notice in the window, for [`NOTE_LIFETIME`].
    pub fn notice(&mut self, text: impl Into<String>) {
        self.show(text.into(), false);
    }

    /// Adds a message as the newest; the same one still shown is moved there, not repeated.
    fn show(&mut self, text: String, is_error: bool) {
        self.messages
            .retain(|m| !(m.text == text && m.is_error == is_error));
        self.messages.push(Message {
            text,
            is_error,
            shown_at: Instant::now(),
        });
        if let (Some(ctx), false) = (&self.repaint, is_error) {
            // Paused, nothing else repaints: come back when the note is due to go.
            ctx.request_repaint_after(NOTE_LIFETIME);
        }
    }

    /// Removes the notes shown for longer than [`NOTE_LIFETIME`] by `now`; errors stay.
    pub fn expire_notes(&mut self, now: Instant) {
        self.messages
            .retain(|m| m.is_error || now.saturating_duration_since(m.shown_at) < NOTE_LIFETIME);
    }

    /// True while new models are on their way: a data set loading, or the worker building.
    pub fn is_building(&self) -> bool {
        self.pending.is_some() || self.building
    }

    /// Starts loading `spec` in the background; the models reset when it arrives.
    pub fn load(&mut self, spec: &str, seed: u64) {
        let (tx, rx) = bounded(1);
        let spec_owned = spec.to_string();
        let sizes = self.sizes.filter(|_| data::BUILTIN_NAMES.contains(&spec));
        let repaint = self.repaint.clone();
        let spawned = std::thread::Builder::new()
            .name("latentlab-loader".into())
            .spawn(move || {
                tx.send(data::load_with_sizes(&spec_owned, seed, sizes))
                    .ok();
                if let Some(ctx) = repaint {
                    ctx.request_repaint();
                }
            });
        match spawned {
            Ok(_) => {
                self.pending = Some(PendingLoad {
                    spec: spec.to_string(),
                    rx,
                });
                if self.data.is_none() {
                    self.status = Status::Loading;
                }
            }
            Err(e) => self.error(format!("cannot start loading {spec}: {e}")),
        }
    }

    /// True while a data set is loading.
    pub fn is_loading(&self) -> bool {
        self.pending.is_some()
    }

    /// (Re)builds the models from `settings` on the current data.
    pub fn reset(&mut self, settings: &Settings) {
        self.restore_history = None;
        self.reset_with(settings, None);
    }

    /// Forgets a data set being loaded (an opened run brings its own).
    pub fn cancel_load(&mut self) {
        self.pending = None;
    }

    /// (Re)builds the models from `settings` on the current data, from saved weights at a
    /// saved step if `start` says (a run opened).
    pub fn reset_with(&mut self, settings: &Settings, start: Option<StartFrom>) {
        self.tentative = None;
        if self.ask_for_models(settings, start) {
            self.snapshot = None;
            self.progress = None;
            self.epochs.clear();
            self.history = self.restore_history.clone().unwrap_or_default();
        }
    }

    /// Asks for models on `data` from saved weights (an opened run), keeping what is shown
    /// until the worker answers: when it builds them, they replace it ([`Answer::Taken`]);
    /// when it refuses them (a checkpoint changed since it was checked), the data set it had
    /// comes back and the models it had train on ([`Answer::Refused`]). The window takes
    /// the answer with [`Session::take_answer`].
    pub fn reset_tentatively(&mut self, settings: &Settings, data: Arc<Dataset>, start: StartFrom) {
        self.cancel_load();
        let before = Tentative {
            data: self.data.replace(data),
        };
        if self.ask_for_models(settings, Some(start)) {
            self.tentative = Some(before);
            self.answer = None;
        } else {
            self.data = before.data;
            self.restore_history = None;
            self.answer = Some(Answer::Refused);
        }
    }

    /// How the worker answered the last tentative reset, once.
    pub fn take_answer(&mut self) -> Option<Answer> {
        self.answer.take()
    }

    /// True while a tentative reset waits for the worker's answer.
    pub fn is_tentative(&self) -> bool {
        self.tentative.is_some()
    }

    /// Sends the worker new models built from `settings` on the current data (or starts
    /// it); false, with the reason shown, if they cannot be asked for.
    fn ask_for_models(&mut self, settings: &Settings, start: Option<StartFrom>) -> bool {
        let Some(data) = self.data.clone() else {
            return false;
        };
        let mut run = settings.run.clone();
        run.threads = self.threads;
        let config = match run.train_config(&data) {
            Ok(mut c) => {
                c.start_from = start;
                c
            }
            Err(e) => {
                self.error(format!("cannot build the models: {e}"));
                return false;
            }
        };
        self.building = true;
        self.generation += 1;
        match &self.trainer {
            Some(t) => {
                if !t.send(TrainCommand::Reset(Box::new(config), Some(data))) {
                    self.building = false;
                    self.error("the training thread is not answering");
                    return false;
                }
            }
            None => {
                let notify: Option<crate::train::Notify> = self.repaint.clone().map(|ctx| {
                    let f: crate::train::Notify = Arc::new(move || ctx.request_repaint());
                    f
                });
                match Trainer::spawn(config, data, notify) {
                    Ok(t) => self.trainer = Some(t),
                    Err(e) => {
                        self.building = false;
                        self.error(format!("cannot start the training thread: {e}"));
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Sends a command to the worker, if there is one.
    pub fn send(&mut self, cmd: TrainCommand) {
        if let Some(t) = &self.trainer
            && !t.send(cmd)
        {
            self.error("the training thread is not answering");
        }
    }

    /// Drains finished loads and worker events for at most a few milliseconds.
    pub fn poll(&mut self, settings: &Settings) {
        self.expire_notes(Instant::now());
        if let Some(p) = &self.pending
            && let Ok(result) = p.rx.try_recv()
        {
            let spec = p.spec.clone();
            self.pending = None;
            match result {
                Ok(ds) => {
                    self.data = Some(Arc::new(ds));
                    self.reset(settings);
                }
                Err(e) => {
                    self.error(format!("could not load {spec}: {e}"));
                    if self.data.is_none() {
                        self.status = Status::Idle;
                    }
                }
            }
        }
        let deadline = Instant::now() + DRAIN_BUDGET;
        while Instant::now() < deadline {
            let Some(ev) = self
                .trainer
                .as_ref()
                .and_then(|t| t.events().try_recv().ok())
            else {
                break;
            };
            self.handle(ev);
        }
    }

    /// Applies one worker event to what the window shows (`poll` calls it for each one).
    pub fn handle(&mut self, ev: TrainEvent) {
        match ev {
            TrainEvent::Ready {
                batches_per_epoch,
                config,
            } => {
                self.batches_per_epoch = batches_per_epoch;
                self.config = Some(*config);
                self.snapshot = None;
                self.progress = None;
                self.epochs.clear();
                // An opened run's curves come back with its models.
                self.history = self.restore_history.take().unwrap_or_default();
                self.status = Status::Paused;
                self.building = false;
                if self.tentative.take().is_some() {
                    self.answer = Some(Answer::Taken);
                }
                if self.start_when_ready {
                    self.send(TrainCommand::Start);
                }
            }
            TrainEvent::Running => self.status = Status::Running,
            TrainEvent::Paused => {
                if self.status != Status::Finished {
                    self.status = Status::Paused;
                }
            }
            TrainEvent::Progress(p) => {
                let x = p.step as f64;
                for l in p.losses.iter().filter(|l| !l.diverged) {
                    self.history
                        .push_train(&l.name, l.kind, x, CurveValues::of(l.terms, l.loss));
                }
                self.progress = Some(p);
            }
            TrainEvent::Snapshot(s) => self.snapshot = Some(s),
            TrainEvent::TestReport(r) => {
                let x = r.step as f64;
                for m in r.models.iter().filter(|m| !m.diverged) {
                    let t = &m.test;
                    self.history
                        .push_test(&m.name, m.kind, x, CurveValues::of_metrics(t));
                }
            }
            TrainEvent::EpochSummary(s) => {
                for m in s.models.iter().filter(|m| !m.diverged) {
                    self.history.push_test(
                        &m.name,
                        m.kind,
                        s.step as f64,
                        CurveValues::of_metrics(&m.test),
                    );
                }
                self.epochs.push(s);
            }
            TrainEvent::Diverged { model, step, epoch } => self.notice(format!(
                "{model} diverged (NaN or infinite loss) at step {step} in epoch {}; it \
                stopped and keeps its last good weights. The other models go on.",
                epoch + 1
            )),
            TrainEvent::Error(e) => {
                // A refused config keeps the old models: nothing more is being built.
                self.building = false;
                if let Some(before) = self.tentative.take() {
                    self.data = before.data;
                    self.restore_history = None;
                    self.answer = Some(Answer::Refused);
                }
                self.error(e);
            }
            TrainEvent::RunSaved(Ok(dir)) => {
                self.notice(format!("saved the run in {}", dir.display()))
            }
            TrainEvent::RunSaved(Err(e)) => self.error(format!("saving failed: {e}")),
            TrainEvent::Finished { epoch, .. } => {
                self.status = Status::Finished;
                self.notice(format!("finished {epoch} epochs"));
            }
        }
    }
}
