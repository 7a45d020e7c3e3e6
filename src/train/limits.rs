//! The ranges a run's own settings must lie in (the model's are in `model::limits`): the
//! window, the command line, saved runs and `TrainConfig::validate` all judge them here.

use crate::model::limits::Limit;

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
