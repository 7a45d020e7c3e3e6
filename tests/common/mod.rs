//! Helpers shared by the training tests.

use latentlab::data::{self, Dataset, Sizes};
use latentlab::model::ModelKind;
use latentlab::train::{RunSpec, TrainConfig};
use std::sync::Arc;

/// The built-in digits with the given split sizes (seed 1).
pub fn digits(train: usize, test: usize) -> Arc<Dataset> {
    Arc::new(data::load_with_sizes("digits", 1, Some(Sizes { train, test })).unwrap())
}

/// A run of `kinds` on `ds` for `epochs` epochs with hidden layers `hidden`, its models
/// and optimisation built the way the window and the command line build them (defaults). Not validated, so tests can
/// hand the worker configs it must refuse.
pub fn config(ds: &Dataset, kinds: &[ModelKind], epochs: usize, hidden: &[usize]) -> TrainConfig {
    let spec = RunSpec {
        models: kinds.to_vec(),
        hidden: hidden.to_vec(),
        ..RunSpec::default()
    };
    let mut c = TrainConfig::new(spec.model_configs(ds).unwrap());
    c.lr = spec.lr;
    c.batch_size = spec.batch_size;
    c.epochs = Some(epochs);
    c.display_count = 1000;
    c
}
