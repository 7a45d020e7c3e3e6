//! The figures: each drawn from small snapshots, checked for what it must show.

use super::*;
use crate::data::{self, Sizes};
use crate::model::{DecoderSnapshot, ModelKind, snapshot::DenseWeights};
use crate::train::ModelSnapshot;
use crate::train::Snapshot;
use std::sync::Arc;

/// A snapshot of one model whose decoder is `layers`, with `recon_items` reconstructions.
fn snapshot(layers: Vec<DenseWeights>, dim: usize, recon_items: usize) -> Snapshot {
    let model = ModelSnapshot {
        name: "ae".into(),
        kind: ModelKind::Ae,
        latent_dim: 2,
        decoder: Arc::new(DecoderSnapshot::new(layers, false)),
        encoder: Default::default(),
        config: crate::model::ModelConfig::new(
            ModelKind::Ae,
            dim,
            crate::model::Likelihood::Bernoulli,
        ),
        codes: vec![0.1, 0.2, 0.3, 0.4],
        sigmas: None,
        recon: vec![0.5; dim * recon_items],
        noisy_inputs: None,
        recon_losses: vec![1.0; 3],
        diverged: false,
    };
    Snapshot {
        step: 1,
        epoch: 0,
        display_indices: vec![0, 1],
        display_labels: vec![0, 1],
        recon_indices: vec![0, 1, 2],
        recon_inputs: vec![0.5; dim * 3],
        models: vec![model],
    }
}

fn layer(n_in: usize, n_out: usize) -> DenseWeights {
    DenseWeights {
        w: vec![0.1; n_in * n_out],
        b: vec![0.0; n_out],
        n_in,
        n_out,
    }
}

#[test]
fn a_decoder_that_fails_is_an_error_naming_the_figure_not_an_empty_plot() {
    let ds = data::load_with_sizes(
        "moons",
        1,
        Some(Sizes {
            train: 20,
            test: 20,
        }),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grid.png");
    // Layer sizes that do not chain: 2 -> 3, then 4 -> 2.
    let broken = snapshot(vec![layer(2, 3), layer(4, 2)], 2, 3);
    let err = latent_grid(&path, &broken, &ds, 4).unwrap_err().to_string();
    assert!(err.contains("grid.png"), "{err}");
    assert!(!path.exists());
    let working = snapshot(vec![layer(2, 3), layer(3, 2)], 2, 3);
    latent_grid(&path, &working, &ds, 4).unwrap();
    assert!(path.exists());
}

#[test]
fn short_reconstruction_rows_leave_cells_empty_instead_of_panicking() {
    let ds = data::load_with_sizes(
        "digits",
        1,
        Some(Sizes {
            train: 20,
            test: 20,
        }),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.png");
    // Three inputs but only one reconstruction of 784 values, and a ragged tail.
    let mut snap = snapshot(vec![layer(2, 784)], 784, 1);
    snap.models[0].recon.extend([0.5; 10]);
    reconstructions(&path, &snap, &ds).unwrap();
    assert!(path.exists());
}
