//! The two channels between the UI (or command line) and the worker, one enum per
//! direction: `TrainCommand` in, `TrainEvent` out. What they carry is plain data from
//! `messages` (and a save's staging folder from `run`).

use super::messages::{EpochSummary, Progress, Snapshot, TestReport, TrainConfig};
use crate::data::Dataset;
use crate::model::KnobValue;
use std::sync::Arc;

/// Commands to the worker.
#[derive(Clone, Debug)]
pub enum TrainCommand {
    /// Start (or resume) training.
    Start,
    /// Pause after the current step.
    Pause,
    /// Take exactly one step, then stay paused.
    Step,
    /// Train until this many steps are taken in all, then pause (a repeatable picture:
    /// `latentlab lessons --render`).
    TrainUntil(u64),
    /// End the worker.
    Stop,
    /// New models from a new config (and optionally new data); starts paused.
    Reset(Box<TrainConfig>, Option<Arc<Dataset>>),
    /// Change the learning rate of every model now.
    SetLr(f64),
    /// Change a live knob of every model whose kind has it, now.
    SetKnob {
        /// The knob's key ("beta", "noise_level", ...).
        key: String,
        /// Its new value.
        value: KnobValue,
    },
    /// Pick a new random set of test items to reconstruct.
    ShuffleRecon,
    /// Send a snapshot as soon as possible (e.g. while paused).
    RequestSnapshot,
    /// Finish a saved run: the checkpoints into its staging folder, then run.json and the
    /// rename into place; answered by `RunSaved`.
    SaveRun(Box<super::run::RunSave>),
}

/// Events from the worker.
#[derive(Clone, Debug)]
pub enum TrainEvent {
    /// Models are built and ready; training starts on `Start`.
    Ready {
        /// Batches in one epoch.
        batches_per_epoch: usize,
        /// The config in force.
        config: Box<TrainConfig>,
    },
    /// Training is running.
    Running,
    /// Training is paused.
    Paused,
    /// Periodic progress.
    Progress(Progress),
    /// Periodic snapshot of every model.
    Snapshot(Arc<Snapshot>),
    /// End of an epoch.
    EpochSummary(EpochSummary),
    /// A model's loss became NaN or infinite; it stopped, its last good weights kept.
    Diverged {
        /// Model name.
        model: String,
        /// Step at which it happened.
        step: u64,
        /// Epoch at which it happened.
        epoch: usize,
    },
    /// Something went wrong; the message says what. The worker keeps its last good state.
    Error(String),
    /// Test metrics taken every `eval_every_secs` of training.
    TestReport(TestReport),
    /// Answer to `SaveRun`: the run's folder, or why it was not saved.
    RunSaved(Result<std::path::PathBuf, Arc<super::run::RunError>>),
    /// The configured number of epochs is done.
    Finished {
        /// Steps taken.
        step: u64,
        /// Epochs done.
        epoch: usize,
    },
}
