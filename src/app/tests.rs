//! Every tab draws snapshots whose lists disagree (a snapshot of another run, a model
//! whose decoder does not match the data, lists cut short) without panicking.

use super::latent::LatentPanel;
use super::{Plane, ScreenRects, Selection, Settings, View, ViewCtx, tabs};
use crate::data::{self, Dataset, Sizes};
use crate::model::{Autoencoder, DecoderSnapshot, Likelihood, ModelConfig, ModelKind};
use crate::train::{ModelSnapshot, Snapshot};
use rand::SeedableRng;
use std::sync::Arc;

fn decoder(kind: ModelKind, input_dim: usize, latent_dim: usize) -> Arc<DecoderSnapshot> {
    let mut config = ModelConfig::new(kind, input_dim, Likelihood::Bernoulli);
    config.latent_dim = latent_dim;
    config.hidden = vec![8];
    let mut rng = crate::rng::PortableRng::seed_from_u64(1);
    let model = Autoencoder::new(config, &mut rng).unwrap();
    Arc::new(model.decoder_snapshot().unwrap())
}

fn model(
    name: &str,
    kind: ModelKind,
    latent_dim: usize,
    decoder: Arc<DecoderSnapshot>,
) -> ModelSnapshot {
    ModelSnapshot {
        name: name.into(),
        kind,
        latent_dim,
        decoder,
        encoder: Default::default(),
        config: crate::model::ModelConfig::new(kind, 784, crate::model::Likelihood::Bernoulli),
        codes: Vec::new(),
        sigmas: None,
        recon: Vec::new(),
        noisy_inputs: None,
        recon_losses: Vec::new(),
        diverged: false,
    }
}

/// A snapshot where nothing agrees: more labels than test indices, an index past the
/// test set, codes and σ for fewer items than there are labels, a decoder for 5 values
/// on 784-pixel images, a decoder for another code size, and a 0-dimensional code.
fn inconsistent_snapshot(ds: &Dataset) -> Snapshot {
    let dim = ds.dim();
    let mut short = model("vae", ModelKind::Vae, 2, decoder(ModelKind::Vae, dim, 2));
    short.codes = vec![0.5, -0.5, 1.0];
    short.sigmas = Some(vec![0.1]);
    short.recon = vec![0.5; dim + 3];
    short.noisy_inputs = Some(vec![0.2; 7]);
    let mut small_output = model("ae", ModelKind::Ae, 2, decoder(ModelKind::Ae, 5, 2));
    small_output.codes = vec![0.1; 2 * 8];
    let mut wrong_size = model("dae", ModelKind::Dae, 3, decoder(ModelKind::Dae, dim, 2));
    wrong_size.codes = vec![0.3; 3 * 8];
    let mut no_code = model("sae", ModelKind::Sae, 0, decoder(ModelKind::Sae, dim, 1));
    no_code.recon_losses = vec![1.0; 9];
    Snapshot {
        step: 7,
        epoch: 0,
        display_indices: vec![0, ds.test.len() + 100, 1],
        display_labels: vec![0, 1, 2, 3, 4, 5, 6, 7],
        recon_indices: vec![0, 1, 2, 3],
        recon_inputs: vec![0.5; 10],
        models: vec![short, small_output, wrong_size, no_code],
    }
}

/// Draws `view` once in a bare egui context.
fn draw(view: &mut dyn View, snap: &Snapshot, ds: &Dataset, selection: &mut Selection) {
    let ctx = egui::Context::default();
    let settings = Settings::default();
    let mut rects = ScreenRects::default();
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1600.0, 1000.0),
        )),
        ..Default::default()
    };
    let _ = ctx.run_ui(input, |ui| {
        let mut cx = ViewCtx {
            snap,
            ds,
            selection: &mut *selection,
            settings: &settings,
            rects: &mut rects,
            presenting: false,
        };
        view.ui(ui, &mut cx);
    });
}

#[test]
fn every_tab_draws_an_inconsistent_snapshot_without_panicking() {
    let sizes = Sizes {
        train: 20,
        test: 10,
    };
    let ds = data::load_with_sizes("digits", 1, Some(sizes)).unwrap();
    let snap = inconsistent_snapshot(&ds);
    let mut views = tabs();
    views.push(Box::new(LatentPanel {
        show_posterior: true,
        ..LatentPanel::default()
    }));
    for plane in [Plane::Dims(0, 1), Plane::Pca, Plane::Dims(1, 2)] {
        // Item 1 has a label but points past the test set; item 5 has a label but no code.
        for pinned in [None, Some(1), Some(5)] {
            let mut selection = Selection::default();
            selection.plane = plane;
            selection.prepare(&snap);
            selection.pinned = pinned;
            for view in &mut views {
                draw(view.as_mut(), &snap, &ds, &mut selection);
            }
        }
    }
}

#[test]
fn the_interpolation_between_items_without_codes_or_inputs_is_skipped() {
    let sizes = Sizes {
        train: 20,
        test: 10,
    };
    let ds = data::load_with_sizes("digits", 1, Some(sizes)).unwrap();
    let snap = inconsistent_snapshot(&ds);
    for (a, b) in [(0, 1), (1, 2), (2, 7)] {
        let mut interp = super::interp::InterpPanel::default();
        (interp.a, interp.b) = (a, b);
        let mut selection = Selection::default();
        selection.prepare(&snap);
        draw(&mut interp, &snap, &ds, &mut selection);
    }
}

#[test]
fn pinning_an_item_without_a_code_pins_nothing() {
    let sizes = Sizes {
        train: 20,
        test: 10,
    };
    let ds = data::load_with_sizes("digits", 1, Some(sizes)).unwrap();
    let snap = inconsistent_snapshot(&ds);
    let mut selection = Selection::default();
    selection.prepare(&snap);
    let vae = &snap.models[0];
    selection.pin(vae, 5);
    assert_eq!(selection.pinned, None, "item 5 has a label but no code");
    selection.pin(vae, 0);
    assert_eq!(selection.pinned, Some(0));
    assert_eq!(selection.probe_code("vae"), &[0.5, -0.5]);
    // A short probe projects to 0 on the missing axis instead of panicking.
    assert_eq!(selection.project(vae, &[2.0]), [2.0, 0.0]);
}

/// A VAE whose second dimension sits at the prior, beside an AE, for the KL panel.
fn collapsed_snapshot(ds: &Dataset) -> Snapshot {
    let dim = ds.dim();
    let mut vae = model("vae", ModelKind::Vae, 3, decoder(ModelKind::Vae, dim, 3));
    // Two items. z1: μ = ±2, σ = 1; z2: μ = ±0.05, σ = 1 (collapsed); z3: μ = ±1, σ = ½.
    vae.codes = vec![2.0, 0.05, 1.0, -2.0, -0.05, -1.0];
    vae.sigmas = Some(vec![1.0, 1.0, 0.5, 1.0, 1.0, 0.5]);
    let mut ae = model("ae", ModelKind::Ae, 3, decoder(ModelKind::Ae, dim, 3));
    ae.codes = vec![0.0; 6];
    Snapshot {
        step: 3,
        epoch: 0,
        display_indices: vec![0, 1],
        display_labels: vec![0, 1],
        recon_indices: Vec::new(),
        recon_inputs: Vec::new(),
        models: vec![ae, vae],
    }
}

#[test]
fn the_kl_panel_shows_a_collapsed_dimension_as_collapsed() {
    use egui_kittest::kittest::{NodeT, Queryable};
    let sizes = Sizes {
        train: 20,
        test: 10,
    };
    let ds = data::load_with_sizes("digits", 1, Some(sizes)).unwrap();
    let snap = collapsed_snapshot(&ds);
    let mut panel = super::kl_dims::KlDimsPanel;
    let (mut selection, settings, mut rects) = (
        Selection::default(),
        Settings::default(),
        ScreenRects::default(),
    );
    selection.prepare(&snap);
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_ui(move |ui| {
            let mut cx = ViewCtx {
                snap: &snap,
                ds: &ds,
                selection: &mut selection,
                settings: &settings,
                rects: &mut rects,
                presenting: false,
            };
            panel.ui(ui, &mut cx);
        });
    harness.run();
    // By hand: ½μ² = 2 for z1; ½·0.05² = 0.00125 for z2; ½(1 + ¼ − 1 + ln 4) = 0.818 for z3.
    let collapsed: Vec<String> = harness
        .query_all_by_label_contains("collapsed)")
        .filter_map(|n| n.accesskit_node().value())
        .collect();
    assert_eq!(collapsed, ["z2: 0.001 nats (collapsed)"]);
    assert!(harness.query_by_label("z1: 2.00 nats").is_some());
    assert!(harness.query_by_label("z3: 0.82 nats").is_some());
    assert!(
        harness
            .query_by_label_contains("2 of 3 dimensions active, 1 collapsed")
            .is_some()
    );
    // The AE has no posterior: it gets no chart.
    assert!(harness.query_by_label("Autoencoder").is_none());
    assert!(harness.query_by_label("VAE").is_some());
}

#[test]
fn every_tab_explains_itself_in_one_line_that_opens() {
    use egui_kittest::kittest::Queryable;
    for view in tabs() {
        let (line, text) = view.about();
        assert!(
            !line.is_empty() && text.len() > line.len(),
            "{}",
            view.title()
        );
        // The harness panics on any character the fonts cannot draw.
        let mut harness = egui_kittest::Harness::builder()
            .with_size(egui::vec2(1000.0, 600.0))
            .build_ui(move |ui| super::about_ui(ui, view.as_ref()));
        harness.run();
        assert!(harness.query_by_label(text).is_none(), "closed at first");
        harness.get_by_label(line).click();
        harness.run();
        assert!(harness.query_by_label(text).is_some(), "{line}");
    }
}
