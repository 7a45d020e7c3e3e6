//! Every tab draws snapshots whose lists disagree (a snapshot of another run, a model
//! whose decoder does not match the data, lists cut short) without panicking.

use super::latent::LatentPanel;
use super::{Plane, ScreenRects, Selection, Settings, View, ViewCtx, tabs};
use crate::data::{self, Dataset, Sizes};
use crate::model::{Autoencoder, DecoderSnapshot, Likelihood, ModelConfig, ModelKind};
use crate::train::{ModelSnapshot, Snapshot};
use rand::SeedableRng;
use std::sync::Arc;

/// The built-in digits, 20 training and 10 test items: enough for a panel to draw.
fn tiny_digits() -> Dataset {
    let sizes = Sizes {
        train: 20,
        test: 10,
    };
    data::load_with_sizes("digits", 1, Some(sizes)).unwrap()
}

/// A snapshot at `step` of `models` showing test items 0, 1, … with `labels`, and no
/// reconstructions.
fn snapshot_of(step: u64, labels: Vec<u32>, models: Vec<ModelSnapshot>) -> Snapshot {
    Snapshot {
        step,
        epoch: 0,
        display_indices: (0..labels.len()).collect(),
        display_labels: labels,
        recon_indices: Vec::new(),
        recon_inputs: Vec::new(),
        models,
    }
}

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
    let ds = tiny_digits();
    let snap = inconsistent_snapshot(&ds);
    let mut views = tabs::all();
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
    let ds = tiny_digits();
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
    let ds = tiny_digits();
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

#[test]
fn traversal_rows_name_the_factor_they_carry_and_fit_their_panel() {
    use egui_kittest::kittest::Queryable;
    // An AE on sprites whose three dimensions copy orientation, x and y: every row names a
    // factor, and "≈ orientation 1.00" is wider than the labels' column.
    let ds = data::load_with_sizes(
        "sprites",
        1,
        Some(Sizes {
            train: 4,
            test: 200,
        }),
    )
    .unwrap();
    let k = ds.factor_names.len();
    let mut ae = model("ae", ModelKind::Ae, 3, decoder(ModelKind::Ae, ds.dim(), 3));
    ae.codes = (0..ds.test.len())
        .flat_map(|i| {
            let f = ds.test.factors_of(i, k);
            [f[2] as f32, f[3] as f32, f[4] as f32]
        })
        .collect();
    let snap = snapshot_of(1, ds.test.labels.clone(), vec![ae]);
    let mut panel = super::traversals::TraversalsPanel::default();
    let (mut selection, settings, mut rects) = (
        Selection::default(),
        Settings::default(),
        ScreenRects::default(),
    );
    selection.prepare(&snap);
    let right = std::rc::Rc::new(std::cell::Cell::new(0.0f32));
    let seen = right.clone();
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(420.0, 600.0))
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
            seen.set(ui.min_rect().right());
        });
    harness.run();
    let label = harness
        .query_by_label_contains("≈ orientation")
        .expect("a row names orientation");
    // The labels' column is 92 points wide, and the rows stay inside the panel.
    assert!(label.rect().width() <= 92.5, "label {:?}", label.rect());
    assert!(right.get() <= 420.0, "drawn to x {}", right.get());
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
    snapshot_of(3, vec![0, 1], vec![ae, vae])
}

/// A snapshot at `step` of one 3-D VAE whose codes are `codes`.
fn snapshot_with_codes(step: u64, codes: Vec<f32>, dim: usize) -> Snapshot {
    let mut vae = model("vae", ModelKind::Vae, 3, decoder(ModelKind::Vae, dim, 3));
    let n = codes.len() / 3;
    vae.codes = codes;
    Snapshot {
        step,
        epoch: 0,
        display_indices: (0..n).collect(),
        display_labels: vec![0; n],
        recon_indices: Vec::new(),
        recon_inputs: Vec::new(),
        models: vec![vae],
    }
}

#[test]
fn the_kl_panel_shows_a_collapsed_dimension_as_collapsed() {
    use egui_kittest::kittest::{NodeT, Queryable};
    let ds = tiny_digits();
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
            // KL: z2 collapsed; Burda: μ varies by 4, 0.0025 and 1, so z2 is inactive too.
            .query_by_label_contains("1 collapsed · 2 of 3 active units")
            .is_some()
    );
    // The AE has no posterior: it gets no chart.
    assert!(harness.query_by_label("Autoencoder").is_none());
    assert!(harness.query_by_label("VAE").is_some());
}

#[test]
fn every_tab_explains_itself_in_one_line_that_opens() {
    use egui_kittest::kittest::Queryable;
    for view in tabs::all() {
        let (line, text) = view.about();
        assert!(
            !line.is_empty() && text.len() > line.len(),
            "{}",
            view.title()
        );
        // The harness panics on any character the fonts cannot draw.
        let mut harness = egui_kittest::Harness::builder()
            .with_size(egui::vec2(1000.0, 600.0))
            .build_ui(move |ui| super::chrome::about_ui(ui, view.as_ref()));
        harness.run();
        assert!(harness.query_by_label(text).is_none(), "closed at first");
        harness.get_by_label(line).click();
        harness.run();
        assert!(harness.query_by_label(text).is_some(), "{line}");
    }
}

#[test]
fn the_pca_plane_keeps_the_items_where_they_were_when_the_codes_mirror() {
    // A 20×10 lattice of items, long along z1, shorter along z2, flat in z3. In the next
    // snapshot the encoder has mirrored z2: the same layout, but the second principal axis
    // of the codes now points the other way relative to the items.
    let lattice: Vec<[f32; 3]> = (0..200)
        .map(|i| {
            let (a, b) = ((i % 20) as f32 - 9.5, (i / 20) as f32 * 0.6 - 2.7);
            [a + 0.1 * b, b, 0.05 * (i as f32).sin()]
        })
        .collect();
    let codes = |sign: f32| -> Vec<f32> {
        lattice
            .iter()
            .flat_map(|[a, b, c]| [*a, sign * b, *c])
            .collect()
    };
    let dim = 784;
    let first = snapshot_with_codes(10, codes(1.0), dim);
    let second = snapshot_with_codes(20, codes(-1.0), dim);
    let mut selection = Selection::default();
    selection.plane = Plane::Pca;
    selection.prepare(&first);
    let m = &first.models[0];
    let before: Vec<[f64; 2]> = m.codes.chunks(3).map(|c| selection.project(m, c)).collect();
    selection.prepare(&second);
    let m = &second.models[0];
    let after: Vec<[f64; 2]> = m.codes.chunks(3).map(|c| selection.project(m, c)).collect();
    for (i, (p, q)) in before.iter().zip(&after).enumerate() {
        assert!(
            (p[0] - q[0]).abs() < 1e-3 && (p[1] - q[1]).abs() < 1e-3,
            "item {i} moved from {p:?} to {q:?}"
        );
    }
}

#[test]
fn a_repeated_note_shows_once_and_notes_go_after_their_lifetime() {
    let mut session = super::Session::new(None, None);
    session.notice("no file dialog");
    session.error("could not load x");
    session.notice("no file dialog");
    session.error("could not load x");
    let texts: Vec<&str> = session.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["no file dialog", "could not load x"]);
    let shown = session.messages[0].shown_at;
    session.expire_notes(shown + std::time::Duration::from_secs(14));
    assert_eq!(session.messages.len(), 2, "a note stays a while");
    session.expire_notes(shown + std::time::Duration::from_secs(16));
    let left: Vec<&str> = session.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(left, ["could not load x"], "errors stay until dismissed");
}

mod window {
    //! The window driven by egui_kittest where it needs the app's private parts.

    use crate::app::settings::Settings;
    use crate::app::window::LatentLabApp;
    use crate::data::Sizes;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use std::time::{Duration, Instant};

    fn harness() -> Harness<'static, LatentLabApp> {
        let mut settings = Settings::default();
        settings.run.hidden = vec![16];
        let sizes = Sizes {
            train: 500,
            test: 100,
        };
        Harness::builder()
            .with_size(egui::vec2(1600.0, 1000.0))
            .with_max_steps(10_000)
            .build_eframe(move |cc| {
                let mut app = LatentLabApp::with_settings(&cc.egui_ctx, settings, Some(sizes));
                app.session.start_when_ready = false;
                app
            })
    }

    fn wait_for(
        h: &mut Harness<'_, LatentLabApp>,
        what: &str,
        done: impl Fn(&LatentLabApp) -> bool,
    ) {
        let start = Instant::now();
        while !done(h.state()) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
            h.run_steps(1);
        }
    }

    /// An image folder's row in the side panel writes the spec's options, and asks before
    /// the reset as any new data set does.
    #[test]
    fn the_folder_row_sets_colour_and_side_in_the_spec() {
        let mut h = harness();
        wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
        h.state_mut().controls.draft.run.dataset = "folder:/photos/cats#size=32".into();
        h.run_steps(2);
        h.get_by_label("colour").click();
        h.run_steps(2);
        let draft = |h: &Harness<'_, LatentLabApp>| h.state().controls.draft.run.dataset.clone();
        assert_eq!(draft(&h), "folder:/photos/cats#colour,size=32");
        assert!(
            h.state().controls.confirm_open,
            "no question before the reset"
        );
        // The question is answered "Cancel": the draft goes back to the running set.
        h.get_by_label("Cancel").click();
        h.run_steps(2);
        assert_eq!(draft(&h), "digits");
        h.state_mut().controls.draft.run.dataset = "folder:/photos/cats".into();
        h.run_steps(2);
        h.get_by_label("side").click();
        h.run_steps(2);
        h.get_by_label("64 px").click();
        h.run_steps(2);
        assert_eq!(draft(&h), "folder:/photos/cats#size=64");
    }

    /// Choosing the sprites from the menu takes the convolutional network and its learning
    /// rate with them.
    #[test]
    fn the_sprites_preset_takes_the_conv_network() {
        let mut h = harness();
        wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
        assert_eq!(h.state().controls.draft.run.arch, crate::model::Arch::Mlp);
        h.get_by_label("Data set").click();
        h.run_steps(2);
        h.get_by_label("colour-sprites").click();
        h.run_steps(2);
        let run = &h.state().controls.draft.run;
        assert_eq!(run.dataset, "colour-sprites");
        assert_eq!(run.arch, crate::model::Arch::Conv);
        // ... and the conv network's learning rate, which waits for the new models: the
        // running MLP models keep theirs.
        assert_eq!(run.lr, 0.001);
        assert_eq!(h.state().settings.run.lr, 0.003);
    }

    #[test]
    fn save_without_a_file_dialog_offers_a_field_for_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness();
        wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
        // As on a desktop without a file-dialog portal: the dialog cannot open.
        h.state_mut().dialog.native = false;
        for _ in 0..2 {
            h.get_by_label("Save…").click();
            h.run_steps(3);
        }
        assert!(
            h.state().session.messages.is_empty(),
            "no note about loading data: {:?}",
            h.state().session.messages
        );
        let field = h.get_by_label_contains("type the folder to save into");
        field.focus();
        field.type_text(&dir.path().display().to_string());
        h.run_steps(2);
        h.get_by_label("Save").click();
        wait_for(&mut h, "the save", |a| {
            a.session
                .messages
                .iter()
                .any(|m| m.text.starts_with("saved"))
        });
        let saved: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(!saved.is_empty(), "checkpoints in the typed folder");
        assert!(
            h.query_by_label_contains("type the folder to save into")
                .is_none(),
            "the field closes"
        );
        // Opening a data set twice where there is no dialog: one note, not two. Every file
        // row of the data-source table has its button.
        for (_, label, _) in crate::data::sources::file_sources() {
            h.get_by_label(label).click();
            h.run_steps(3);
        }
        for _ in 0..2 {
            h.get_by_label("CSV").click();
            h.run_steps(3);
        }
        let notes = h.state().session.messages.iter();
        let dialog_notes = notes.filter(|m| m.text.contains("No file dialog")).count();
        assert_eq!(dialog_notes, 1);
        assert!(!h.state().dialog.native);
    }

    #[test]
    fn save_draws_off_the_ui_thread_and_a_rebuild_meanwhile_saves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = harness();
        wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
        // Save…, then new models in the same frame, before the figures are written: the
        // new models' weights must not go into the old run's folder.
        let folder = dir.path().join("first");
        h.state_mut()
            .apply(crate::app::Action::Save(folder.clone()));
        assert!(
            h.state().runs.is_saving(),
            "the figures are drawn elsewhere"
        );
        h.state_mut().apply(crate::app::Action::Reset);
        wait_for(&mut h, "the save's end", |a| !a.runs.is_saving());
        let errors: Vec<String> = h
            .state()
            .session
            .messages
            .iter()
            .filter(|m| m.is_error)
            .map(|m| m.text.clone())
            .collect();
        assert!(
            errors.iter().any(|e| e.contains("rebuilt while saving")),
            "{errors:?}"
        );
        assert!(!folder.join("run.json").exists());
        // Saved again once the new models are there, the run is complete.
        wait_for(&mut h, "new models", |a| a.session.snapshot.is_some());
        let second = dir.path().join("second");
        h.state_mut()
            .apply(crate::app::Action::Save(second.clone()));
        wait_for(&mut h, "the save", |a| {
            a.session
                .messages
                .iter()
                .any(|m| m.text.starts_with("saved"))
        });
        assert!(crate::train::run::open_run(&second).is_ok());
        assert!(second.join("latent.png").is_file());
    }

    #[test]
    fn three_long_notes_push_the_tabs_down_by_about_a_line_each() {
        let mut h = harness();
        wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
        let title = h.state().tab_titles()[0];
        let top = |h: &Harness<'_, LatentLabApp>| h.get_by_label(title).rect().min.y;
        let before = top(&h);
        let long = "a note long enough to need several lines in a 1600-point window, ".repeat(6);
        let mut shift = Vec::new();
        for i in 0..3 {
            h.state_mut().session.notice(format!("{i}: {long}"));
            h.run_steps(3);
            shift.push(top(&h) - before);
        }
        let line = h
            .query_all_by_label("Note:")
            .next()
            .unwrap()
            .rect()
            .height();
        let button = h
            .query_all_by_label("dismiss")
            .next()
            .unwrap()
            .rect()
            .height();
        let row = line.max(button);
        let per_note = (shift[2] - shift[0]) / 2.0;
        eprintln!("notes moved the tabs down by {shift:?} (a row is {row})");
        // One row, and the theme's gap between rows (6).
        assert!(
            per_note <= row + 6.0,
            "each further note moved the tabs down by {per_note}, a row is {row}"
        );
        assert!(
            shift[0] <= row + 20.0,
            "one note moved the tabs down by {}, a row is {row}",
            shift[0]
        );
    }
}

#[test]
fn a_decoder_that_fails_shows_its_failure_instead_of_a_blank_image() {
    use crate::model::snapshot::DenseWeights;
    use egui_kittest::kittest::Queryable;
    let ds = tiny_digits();
    // Weights that claim 2 → 784 but hold 3 values: every decode fails.
    let broken = DecoderSnapshot::new(
        vec![DenseWeights {
            w: vec![0.0; 3],
            b: vec![0.0; 784],
            n_in: 2,
            n_out: 784,
        }],
        true,
    );
    let mut vae = model("vae", ModelKind::Vae, 2, Arc::new(broken));
    vae.codes = vec![0.1; 2 * 3];
    let snap = snapshot_of(1, vec![0, 1, 2], vec![vae]);
    let panels: Vec<Box<dyn View>> = vec![
        Box::new(super::samples::SamplesPanel::default()),
        Box::new(super::grid::GridPanel::default()),
    ];
    for mut panel in panels {
        let (snap, ds) = (snap.clone(), ds.clone());
        let (mut selection, settings, mut rects) = (
            Selection::default(),
            Settings::default(),
            ScreenRects::default(),
        );
        selection.prepare(&snap);
        let title = panel.title();
        // (The grid's size slider is named by the label beside it, which kittest's check
        // does not see; that is not what this test is about.)
        let mut harness = egui_kittest::Harness::builder()
            .with_size(egui::vec2(1200.0, 800.0))
            .with_accessibility_check(false)
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
        assert!(
            harness.query_by_label_contains("decode failed: ").is_some(),
            "{title}: no failure shown"
        );
    }
}

mod runs {
    //! Opening a run without a file dialog.

    use crate::app::settings::Settings;
    use crate::app::window::LatentLabApp;
    use crate::data::Sizes;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use std::time::{Duration, Instant};

    #[test]
    fn open_run_without_a_file_dialog_offers_a_field_and_a_bad_folder_changes_nothing() {
        let mut settings = Settings::default();
        settings.run.hidden = vec![16];
        let sizes = Sizes {
            train: 500,
            test: 100,
        };
        let mut h = Harness::builder()
            .with_size(egui::vec2(1600.0, 1000.0))
            .with_max_steps(10_000)
            .build_eframe(move |cc| {
                let mut app = LatentLabApp::with_settings(&cc.egui_ctx, settings, Some(sizes));
                app.session.start_when_ready = false;
                app
            });
        let start = Instant::now();
        while h.state().session.snapshot.is_none() {
            assert!(start.elapsed() < Duration::from_secs(60), "no models");
            std::thread::sleep(Duration::from_millis(20));
            h.run_steps(1);
        }
        // As on a desktop without a file-dialog portal.
        h.state_mut().dialog.native = false;
        h.get_by_label("Open run…").click();
        h.run_steps(3);
        let dir = tempfile::tempdir().unwrap();
        let field = h.get_by_label_contains("type the run folder to open");
        field.focus();
        field.type_text(&dir.path().display().to_string());
        h.run_steps(2);
        h.get_by_label("Open").click();
        h.run_steps(3);
        let errors: Vec<&str> = h
            .state()
            .session
            .messages
            .iter()
            .filter(|m| m.is_error)
            .map(|m| m.text.as_str())
            .collect();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("cannot open the run") && e.contains("no run.json")),
            "{errors:?}"
        );
        assert!(h.query_by_label_contains("type the run folder").is_none());
        assert_eq!(h.state().settings.run.hidden, vec![16], "nothing changed");
        assert!(!h.state().runs.is_opening() && h.state().runs.opened.is_none());
    }
}

mod lessons {
    //! A lesson step sets the app up, with as few new models as it can.

    use crate::app::actions::Action;
    use crate::app::latent::LatentPanel;
    use crate::app::lesson_run::setup_actions;
    use crate::app::settings::Settings;
    use crate::app::view::View;
    use crate::lessons::{Highlight, Lesson};
    use crate::model::{KnobValue, ModelKind};

    #[test]
    fn the_default_highlight_is_the_latent_tabs_own() {
        let p = LatentPanel::default();
        let h = Highlight::default();
        assert_eq!(
            (
                p.same_axes,
                p.show_prior,
                p.show_posterior,
                p.hidden_classes
            ),
            (
                h.same_axes,
                h.prior_circles,
                h.posterior_ellipses,
                h.hidden_classes
            )
        );
        let mut p = LatentPanel::default();
        let on = Highlight {
            same_axes: true,
            prior_circles: false,
            posterior_ellipses: true,
            hidden_classes: [3, 4].into(),
            colour_by: Some(2),
            view: None,
        };
        p.highlight(&on);
        assert!(p.same_axes && !p.show_prior && p.show_posterior);
        assert_eq!(p.hidden_classes, [3, 4].into());
        assert_eq!(p.colour_by, Some(2));
    }

    fn settings_with(models: Vec<ModelKind>) -> Settings {
        let mut settings = Settings::default();
        settings.run.models = models;
        settings
    }

    #[test]
    fn a_step_builds_new_models_only_when_it_must() {
        let text = "---\nname: t\ntitle: T\n---\n\
            ## A\nmodels: ae, beta-vae\nbeta: 2\nlr: 0.01\ntab: Samples\ntraining: pause\n\na\n\n\
            ## B\nlatent_dim: 3\npresentation: on\n\nb\n";
        let lesson = Lesson::parse("t.md", text).unwrap();
        let app = settings_with(vec![ModelKind::Ae, ModelKind::BetaVae]);
        // Same models: β and the learning rate change in place.
        let a = setup_actions(&lesson.setup(0), &app);
        assert_eq!(
            a,
            vec![
                Action::SetLr(0.01),
                Action::SetKnob {
                    key: "beta".into(),
                    value: KnobValue::Number(2.0)
                },
                Action::Pause,
                Action::SelectTab("Samples".into()),
                Action::Highlight(Box::default()),
            ]
        );
        // Another code size: new models, with everything the steps so far set.
        let b = setup_actions(&lesson.setup(1), &app);
        let Some(Action::ApplySettings(s)) = b.first() else {
            panic!("{b:?}");
        };
        assert_eq!((s.run.latent_dim, s.run.lr), (3, 0.01));
        assert_eq!(s.run.knob("beta"), Some(KnobValue::Number(2.0)));
        assert!(b.contains(&Action::Present(true)));
        // Other models than the app's: new models for the first step too.
        let other = settings_with(vec![ModelKind::Vae]);
        let first = setup_actions(&lesson.setup(0), &other);
        assert!(
            matches!(first.first(), Some(Action::ApplySettings(_))),
            "{first:?}"
        );
    }
}

/// A long run's timeline row ("step 149,375 · epoch 159.25 · frame 240 of 240 · past")
/// keeps "Export GIF…" inside a narrow central area: the slider gives way to the text.
#[test]
fn the_timeline_row_of_a_long_run_stays_inside_the_window() {
    use crate::app::timeline_bar::TimelineBar;
    let mut bar = TimelineBar::default();
    for i in 1..=240u64 {
        bar.observe(Some(&Arc::new(Snapshot {
            step: 100_000 + i * 205,
            epoch: 159,
            display_indices: Vec::new(),
            display_labels: Vec::new(),
            recon_indices: Vec::new(),
            recon_inputs: Vec::new(),
            models: Vec::new(),
        })));
    }
    assert!(bar.timeline.len() > 100, "{} frames", bar.timeline.len());
    bar.chosen = bar.timeline.frames().get(3).map(|f| f.step);
    let width = 760.0;
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(width, 200.0));
    let ctx = egui::Context::default();
    let mut gif_button = None;
    for _ in 0..2 {
        let input = egui::RawInput {
            screen_rect: Some(screen),
            ..Default::default()
        };
        let output = ctx.run_ui(input, |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                bar.ui(ui, 938);
            });
        });
        gif_button = output
            .shapes
            .iter()
            .map(|c| c.shape.visual_bounding_rect())
            .filter(|r| r.is_finite() && r.is_positive())
            .map(|r| r.max.x)
            .reduce(f32::max);
    }
    let right = gif_button.unwrap_or(0.0);
    assert!(right <= width + 0.5, "the row reaches {right} in {width}");
}

/// A snapshot of one cvae (10 classes, code 2) on the digits, with codes for 8 items.
fn cvae_snapshot() -> Snapshot {
    let mut config = ModelConfig::new(ModelKind::Cvae, 784, Likelihood::Bernoulli);
    config.hidden = vec![8];
    config.classes = 10;
    let mut rng = crate::rng::PortableRng::seed_from_u64(1);
    let model = Autoencoder::new(config.clone(), &mut rng).unwrap();
    let mut m = self::model(
        "cvae",
        ModelKind::Cvae,
        2,
        Arc::new(model.decoder_snapshot().unwrap()),
    );
    m.config = config;
    m.codes = (0..16).map(|i| i as f32 / 8.0 - 1.0).collect();
    snapshot_of(3, (0..8).collect(), vec![m])
}

#[test]
fn the_window_decodes_a_cvae_as_the_chosen_class_everywhere() {
    let ds = tiny_digits();
    let snap = cvae_snapshot();
    // The latent tab's probe decodes as the shared class.
    let probe_as = |class: u32| {
        let mut selection = Selection::default();
        selection.prepare(&snap);
        selection.decode_class = class;
        draw(&mut LatentPanel::default(), &snap, &ds, &mut selection);
        assert_eq!(selection.decode_class, class);
        let decoded = &selection.probes["cvae"].decoded;
        assert_eq!(decoded.error(), None);
        assert_eq!(decoded.items().len(), 784);
        decoded.items().to_vec()
    };
    let (three, seven) = (probe_as(3), probe_as(7));
    assert!(three != seven, "the probe decodes as the chosen class");
    // Every tab draws a cvae at every class, and a class past the set falls back to 0.
    for class in [0, 9, 12] {
        let mut selection = Selection::default();
        selection.prepare(&snap);
        selection.decode_class = class;
        for view in &mut tabs::all() {
            draw(view.as_mut(), &snap, &ds, &mut selection);
        }
        assert_eq!(selection.decode_class, if class < 10 { class } else { 0 });
    }
}
