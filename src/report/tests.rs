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

/// Built-in set `name` with 20 training and 20 test items.
fn small_set(name: &str) -> crate::data::Dataset {
    data::load_with_sizes(
        name,
        1,
        Some(Sizes {
            train: 20,
            test: 20,
        }),
    )
    .unwrap()
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
    let ds = small_set("moons");
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
    let ds = small_set("digits");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.png");
    // Three inputs but only one reconstruction of 784 values, and a ragged tail.
    let mut snap = snapshot(vec![layer(2, 784)], 784, 1);
    snap.models[0].recon.extend([0.5; 10]);
    reconstructions(&path, &snap, &ds).unwrap();
    assert!(path.exists());
}

/// A linear decoder (no sigmoid): every pixel is 0.5 + 0.1·(z1 + z2 + z3), so each cell's
/// grey is known by hand.
#[test]
fn traversals_walk_each_dimension_by_its_spread_and_dim_the_inactive_ones() {
    let ds = small_set("digits");
    let mut snap = snapshot(vec![layer(3, 784)], 784, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("traversals.png");
    // Two dimensions: no figure (the latent grid shows a 2-D code).
    assert!(!traversals(&path, &snap, &ds).unwrap());
    assert!(!path.exists());
    let m = &mut snap.models[0];
    m.latent_dim = 3;
    m.decoder = Arc::new(DecoderSnapshot::new(
        vec![DenseWeights {
            w: vec![0.1; 3 * 784],
            b: vec![0.5; 784],
            n_in: 3,
            n_out: 784,
        }],
        false,
    ));
    // z1 takes 0, 1, 2, 3 (mean 1.5, sd √1.25); z2 is always 0 (inactive); z3 takes
    // 0, 0.5, 0, 0.5 (mean 0.25, variance 0.0625: active).
    m.codes = vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.5, 2.0, 0.0, 0.0, 3.0, 0.0, 0.5];
    assert!(traversals(&path, &snap, &ds).unwrap());
    let img = image::open(&path).unwrap().to_rgb8();
    // Cells are 28·2 + 2 = 58 pixels; the images start at x = 24 + 130, y = 60.
    let grey = |row: u32, col: u32| img.get_pixel(154 + col * 58 + 10, 60 + row * 58 + 10)[0];
    let byte = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let sd1 = 1.25f64.sqrt();
    // Row 1 is z1 (the most spread): its left cell sits 3 sd below z1's mean.
    assert_eq!(grey(0, 0), byte(0.5 + 0.1 * (1.5 - 3.0 * sd1 + 0.25)));
    assert_eq!(grey(0, 6), byte(0.5 + 0.1 * (1.5 + 3.0 * sd1 + 0.25)));
    // Row 2 is z3: 3 sd = 0.75 either side of 0.25.
    assert_eq!(grey(1, 0), byte(0.5 + 0.1 * (1.5 - 0.5)));
    assert_eq!(grey(1, 6), byte(0.5 + 0.1 * (1.5 + 1.0)));
    // Row 3 is z2, inactive: unchanged along the row and dimmed to 35 %.
    assert_eq!(grey(2, 0), byte(0.35 * (0.5 + 0.1 * 1.75)));
    assert_eq!(grey(2, 6), grey(2, 0));
}

/// `classes.png` of a conditional decoder whose every pixel is class/9 whatever z is (its
/// z rows are 0, its one-hot rows set the grey): the cell at row r, column c is grey c/9,
/// read back from the PNG at the layout's place (zoom 2, 20 px side pad, 50 px title band).
/// Without a conditional model no file is written.
#[test]
fn classes_png_has_one_class_per_column_and_only_for_conditional_models() {
    let ds = small_set("digits");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("classes.png");
    let plain = snapshot(vec![layer(2, 784)], 784, 3);
    assert!(!same_z_every_class(&path, &plain, &ds, 4, 1).unwrap());
    assert!(!path.exists());
    // Input z (2) ++ one-hot (10); weights [in, out]: z rows 0, class c's row c/9.
    let mut w = vec![0.0f32; 2 * 784];
    for c in 0..10 {
        w.extend(std::iter::repeat_n(c as f32 / 9.0, 784));
    }
    let dense = DenseWeights {
        w,
        b: vec![0.0; 784],
        n_in: 12,
        n_out: 784,
    };
    let mut decoder = DecoderSnapshot::new(vec![dense], false);
    decoder.classes = 10;
    let mut snap = plain;
    snap.models[0].decoder = Arc::new(decoder);
    assert!(same_z_every_class(&path, &snap, &ds, 4, 1).unwrap());
    let img = image::open(&path).unwrap().to_rgb8();
    for r in 0..4u32 {
        for c in 0..10u32 {
            // The middle of cell (r, c): 28 px items at zoom 2.
            let (x, y) = (20 + c * 56 + 28, 50 + r * 56 + 28);
            let grey = img.get_pixel(x, y)[0];
            let want = (c as f32 / 9.0 * 255.0).round() as i32;
            assert!(
                (i32::from(grey) - want).abs() <= 1,
                "row {r}, class {c}: grey {grey}, want {want}"
            );
        }
    }
}

/// `latent.png` of a vq-vae draws its codebook entries as black crosses over the codes:
/// more black pixels than the same snapshot without a codebook, in the entries' panel.
#[test]
fn latent_png_marks_a_vq_vaes_codebook_entries() {
    let ds = small_set("moons");
    let dir = tempfile::tempdir().unwrap();
    let black = |snap: &Snapshot, name: &str| {
        let path = dir.path().join(name);
        latent_scatter(&path, snap, &ds).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        img.pixels().filter(|p| p.0 == [0, 0, 0]).count()
    };
    let plain = snapshot(vec![layer(2, 2)], 2, 3);
    let mut with_book = snapshot(vec![layer(2, 2)], 2, 3);
    let mut decoder = DecoderSnapshot::new(vec![layer(2, 2)], false);
    decoder.codebook = Some(Arc::new(crate::model::vq::CodebookData {
        entries: vec![0.15, 0.25, 0.35, 0.15],
        dim: 2,
    }));
    with_book.models[0].decoder = Arc::new(decoder);
    let (before, after) = (black(&plain, "plain.png"), black(&with_book, "book.png"));
    assert!(
        after > before + 20,
        "two crosses add black pixels: {before} without, {after} with"
    );
    // Entries far outside the codes' axes are left out, not pinned to the frame.
    let mut outside = snapshot(vec![layer(2, 2)], 2, 3);
    let mut decoder = DecoderSnapshot::new(vec![layer(2, 2)], false);
    decoder.codebook = Some(Arc::new(crate::model::vq::CodebookData {
        entries: vec![50.0, 50.0, -50.0, 0.2],
        dim: 2,
    }));
    outside.models[0].decoder = Arc::new(decoder);
    assert_eq!(black(&outside, "outside.png"), before);
}
