//! The ranges a run's own settings must lie in (the model's are in `model::limits`), and
//! [`SettingsError`]: why settings cannot train. The window, the command line, saved runs
//! and `TrainConfig::validate` all judge them here.

use crate::model::limits::{Limit, MAX_PARAMETERS, OutOfRange, grouped};
use crate::model::{ConfigError, ModelKind};

/// Largest learning rate a run accepts.
pub const MAX_LR: f64 = 10.0;
/// Adam's learning rate: finite, above 0.
pub const LR: Limit<f64> = Limit {
    above_min: true,
    ..Limit::new("learning rate", 0.0, MAX_LR)
};
/// Items per batch.
pub const BATCH_SIZE: Limit<usize> = Limit::new("batch size", 1, 65_536);
/// Passes over the training data of a run that stops by itself.
pub const EPOCHS: Limit<usize> = Limit::new("epochs", 1, 100_000);
/// Epochs over which the KL weight warms up.
pub const KL_WARMUP: Limit<f32> = Limit::new("KL warm-up epochs", 0.0, 1000.0);
/// Threads that step the models.
pub const THREADS: Limit<usize> = Limit::new("threads", 1, 256);
/// Seconds of training between test evaluations (`--eval-every-secs`).
pub const EVAL_EVERY_SECS: Limit<f64> = Limit::new("seconds between evaluations", 0.1, 86_400.0);

/// Why a run's settings cannot train; the message names the setting that is wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// A run-wide setting out of its range.
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    /// The model list is empty.
    #[error("no models to train")]
    NoModels,
    /// A model kind is listed twice.
    #[error("model '{0}' is listed twice")]
    Twice(ModelKind),
    /// One model's own settings are refused.
    #[error("{kind}: {source}")]
    Model {
        /// The model's kind.
        kind: ModelKind,
        /// What is wrong with its config.
        #[source]
        source: ConfigError,
    },
    /// The models together are too large.
    #[error(
        "the models hold {} parameters in all, more than the {} allowed (fewer models, \
         or fewer or narrower hidden layers)",
        grouped(*.0),
        grouped(MAX_PARAMETERS)
    )]
    TooManyParameters(u64),
    /// A knob that no kind has.
    #[error("no model kind has a knob '{0}'")]
    UnknownKnob(String),
    /// A model name that is not in the kind table.
    #[error("unknown model '{0}' (choose from {names})", names = ModelKind::names())]
    UnknownModel(String),
    /// Hidden sizes: more layers than allowed.
    #[error(
        "more than {max} hidden layers (at most {max} sizes, like 512,256)",
        max = crate::model::limits::HIDDEN_LAYERS.max
    )]
    TooManyLayers,
    /// Hidden sizes: a part that is not a whole number.
    #[error("'{0}' is not a whole number (hidden sizes are written like 512,256)")]
    NotWhole(String),
    /// Hidden sizes: a size out of range.
    #[error("{0}; example: 512,256")]
    HiddenSize(OutOfRange),
    /// The models do not take the data set's items.
    #[error("{kind} expects items of {input_dim} values but data set '{data}' has {dim}")]
    OtherItems {
        /// The model's kind.
        kind: ModelKind,
        /// Values per item it takes.
        input_dim: usize,
        /// The data set's name.
        data: String,
        /// Values per item it has.
        dim: usize,
    },
    /// The data set has no training or no test items.
    #[error("data set '{0}' has an empty train or test split")]
    EmptySplit(String),
}

impl SettingsError {
    /// The error of `kind`'s config, named by the kind.
    pub fn model(kind: ModelKind, source: ConfigError) -> Self {
        Self::Model { kind, source }
    }
}
