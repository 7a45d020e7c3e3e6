//! Helpers shared by the training tests.

use latentlab::data::{self, Dataset, Sizes};
use latentlab::model::{Likelihood, ModelConfig, ModelKind};
use latentlab::train::TrainConfig;
use std::sync::Arc;

/// The built-in digits with the given split sizes (seed 1).
pub fn digits(train: usize, test: usize) -> Arc<Dataset> {
    Arc::new(data::load_with_sizes("digits", 1, Some(Sizes { train, test })).unwrap())
}

/// A run of `kinds` on `ds` for `epochs` epochs with hidden layers `hidden`.
pub fn config(ds: &Dataset, kinds: &[ModelKind], epochs: usize, hidden: &[usize]) -> TrainConfig {
    let likelihood = if ds.shape.is_image() {
        Likelihood::Bernoulli
    } else {
        Likelihood::Gaussian
    };
    let models = kinds
        .iter()
        .map(|&k| {
            let mut m = ModelConfig::new(k, ds.dim(), likelihood);
            m.hidden = hidden.to_vec();
            m
        })
        .collect();
    let mut c = TrainConfig::new(models);
    c.epochs = Some(epochs);
    c.display_count = 1000;
    c
}
