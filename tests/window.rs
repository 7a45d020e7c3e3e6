//! The window driven by egui_kittest, without a screen: train from the button, drag the
//! probe, switch data sets, and open a bad file while training goes on.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latentlab::app::{LatentLabApp, OpenKind, Plane, Status};
use std::time::Duration;

mod ui;
use ui::{harness, small_settings, steps, wait_for};

#[test]
fn train_button_starts_training_and_the_loss_history_grows() {
    let mut h = harness(small_settings(), false);
    wait_for(&mut h, "models to be ready", |a| {
        a.session.status == Status::Paused && a.session.snapshot.is_some()
    });
    assert!(
        h.state().session.history.is_empty(),
        "nothing trains before Train is pressed"
    );
    h.get_by_label("Train").click();
    wait_for(&mut h, "the first progress", |a| {
        !a.session.history.is_empty()
    });
    assert_eq!(h.state().session.status, Status::Running);
    let first = h.state().session.history.len();
    wait_for(&mut h, "more progress", |a| {
        a.session.history.len() >= first + 5
    });
    let m = &h.state().session.history.models;
    assert_eq!(m.len(), 2, "one curve set per model");
    // Pause stops the steps.
    h.get_by_label("Pause").click();
    wait_for(&mut h, "pause", |a| a.session.status == Status::Paused);
    h.run_steps(2);
    let paused_at = steps(h.state());
    std::thread::sleep(std::time::Duration::from_millis(400));
    h.run_steps(3);
    assert_eq!(steps(h.state()), paused_at, "no steps while paused");
    // Space resumes once a click on empty space has taken the focus off the Pause button.
    h.event(egui::Event::PointerButton {
        pos: egui::pos2(900.0, 560.0),
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.event(egui::Event::PointerButton {
        pos: egui::pos2(900.0, 560.0),
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(2);
    h.key_press(egui::Key::Space);
    wait_for(&mut h, "space to resume", |a| {
        a.session.status == Status::Running
    });
}

#[test]
fn dragging_the_probe_changes_its_decoded_image() {
    let mut h = ui::trained_then_paused();
    let before = h.state().selection.probes["vae"].decoded.items().to_vec();
    let probe_before = h.state().selection.probes["vae"].code.clone();
    assert!(!before.is_empty());
    let rect = h.state().rects.latent_plots["vae"];
    let (from, to) = (
        rect.center(),
        rect.center() + egui::vec2(rect.width() * 0.3, -rect.height() * 0.3),
    );
    h.hover_at(from);
    h.run_steps(1);
    h.drag_at(from);
    h.run_steps(1);
    for t in 1..=5 {
        h.hover_at(from + (to - from) * (t as f32 / 5.0));
        h.run_steps(1);
    }
    let during = h.state().selection.probes["vae"].decoded.items().to_vec();
    h.drop_at(to);
    h.run_steps(2);
    let probe_after = h.state().selection.probes["vae"].code.clone();
    assert!(
        probe_after[0] > probe_before[0] && probe_after[1] > probe_before[1],
        "probe moved up and right: {probe_before:?} -> {probe_after:?}"
    );
    let changed = before
        .iter()
        .zip(&during)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>();
    assert!(
        changed > 1.0,
        "decoding changed while dragging (total change {changed})"
    );
}

#[test]
fn switching_the_data_set_asks_then_retrains_on_it() {
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "digits", |a| a.session.snapshot.is_some());
    h.get_by_label("Data set").click();
    h.run_steps(2);
    h.get_by_label("moons").click();
    h.run_steps(2);
    assert!(
        h.state().controls.confirm_open,
        "a question before the reset"
    );
    assert_eq!(
        h.state().settings.run.dataset,
        "digits",
        "nothing changes before the answer"
    );
    h.get_by_label("Reset now").click();
    wait_for(&mut h, "moons to train", |a| {
        a.session.data.as_ref().is_some_and(|d| d.name == "moons")
            && a.session
                .snapshot
                .as_ref()
                .is_some_and(|s| s.recon_inputs.len() == 2 * s.recon_indices.len())
    });
    assert_eq!(h.state().settings.run.dataset, "moons");
    wait_for(&mut h, "training on moons", |a| steps(a) > 5);
}

#[test]
fn a_bad_file_shows_an_error_and_training_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.csv");
    std::fs::write(&bad, "label,pixel0\n3,1,2,3\n").unwrap();
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "training", |a| steps(a) > 10);
    h.state_mut()
        .controls
        .open_path(OpenKind::Data("csv"), &bad);
    h.run_steps(2);
    h.get_by_label("Reset now").click();
    wait_for(&mut h, "the error", |a| {
        a.session.messages.iter().any(|m| m.is_error)
    });
    h.run_steps(2);
    let text = &h
        .state()
        .session
        .messages
        .iter()
        .find(|m| m.is_error)
        .unwrap()
        .text;
    assert!(
        text.contains("broken.csv") && text.contains("line 2"),
        "{text}"
    );
    assert!(
        h.query_by_label_contains("broken.csv").is_some(),
        "the error is visible in the window"
    );
    assert_eq!(
        h.state().session.data.as_ref().unwrap().name,
        "digits",
        "the old data stays"
    );
    let before = steps(h.state());
    wait_for(&mut h, "training to go on", |a| steps(a) > before + 10);
}

#[test]
fn every_tab_draws_with_readable_text() {
    // egui_kittest fails on any glyph the fonts lack, so visiting each tab checks its text.
    let mut settings = small_settings();
    settings.run.models = vec![
        latentlab::model::ModelKind::Ae,
        latentlab::model::ModelKind::Vae,
        latentlab::model::ModelKind::BetaVae,
        latentlab::model::ModelKind::Dae,
    ];
    settings.run.latent_dim = 3;
    let mut h = harness(settings, true);
    wait_for(&mut h, "a snapshot", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step > 20)
    });
    h.get_by_label("posterior ellipses").click();
    h.run_steps(2);
    // A 3-D code: the PCA plane and another pair of dimensions draw too.
    for plane in [Plane::Pca, Plane::Dims(1, 2)] {
        h.state_mut().selection.plane = plane;
        h.run_steps(2);
    }
    let probe = h.state().selection.probes["vae"].code.clone();
    assert_eq!(probe.len(), 3);
    let titles = h.state().tab_titles();
    assert_eq!(titles.len(), 10);
    for (i, title) in titles.into_iter().enumerate() {
        h.get_by_label(title).click();
        h.run_steps(3);
        assert_eq!(h.state().tab, i);
        if title == "Sliders" {
            assert!(h.query_by_label_contains("An AE has no prior").is_none());
            h.get_by_label("Sample from the prior").click();
            h.run_steps(3);
            // Sampling the prior says what that means, under the AE and the DAE only.
            let notes: Vec<egui::Rect> = h
                .query_all_by_label_contains("An AE has no prior")
                .map(|n| n.rect())
                .collect();
            assert_eq!(notes.len(), 2);
            for model in ["Autoencoder", "Denoising AE"] {
                let heads: Vec<egui::Rect> =
                    h.query_all_by_label(model).map(|n| n.rect()).collect();
                let under = |r: &egui::Rect| {
                    heads
                        .iter()
                        .any(|t| t.bottom() < r.top() && (t.left() - r.left()).abs() < 20.0)
                };
                assert!(notes.iter().any(under), "no note under {model}");
            }
        }
        if title == "KL per dimension" {
            assert!(
                h.query_by_label_contains("Mean KL per latent dimension")
                    .is_some(),
                "the panel says what it shows"
            );
        }
        if title == "Reconstructions" {
            assert!(
                h.query_by_label_contains("Denoising AE sees").is_some(),
                "the denoiser's noisy inputs are shown"
            );
        }
    }
}

#[test]
fn a_typed_path_that_does_not_exist_is_reported() {
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "training", |a| steps(a) > 5);
    let field = h.get_by_label("or type");
    field.focus();
    field.type_text("idx:/no/such/folder");
    h.run_steps(2);
    h.get_by_label("Load").click();
    h.run_steps(2);
    h.get_by_label("Reset now").click();
    wait_for(&mut h, "the error", |a| {
        a.session.messages.iter().any(|m| m.is_error)
    });
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("/no/such/folder").is_some(),
        "the message names the path"
    );
    assert_eq!(h.state().session.data.as_ref().unwrap().name, "digits");
    assert_eq!(
        h.state().settings.run.dataset,
        "digits",
        "the remembered data set is the one in use"
    );
}

#[test]
fn a_diverged_model_is_reported_in_the_window() {
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "some good steps", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step >= 10)
    });
    let good_step = steps(h.state());
    // Raise the learning rate with the side panel's control, as a user would, to its
    // maximum: Adam at lr 1 blows the young VAE's loss up within a few steps.
    h.get_by_label("learning rate").set_value_accesskit(1.0);
    h.run_steps(2);
    assert_eq!(
        h.state().settings.run.lr,
        1.0,
        "the control reached the settings"
    );
    // Whether Adam at lr 1 overflows depends on the steps taken before (it did not, on a
    // loaded machine, within two minutes): the largest rate the worker takes (10) makes the
    // VAE's log-variance overflow within a few steps. The window's handling is what is tested.
    h.state_mut()
        .session
        .send(latentlab::train::TrainCommand::SetLr(10.0));
    wait_for(&mut h, "the VAE to diverge", |a| {
        a.session
            .messages
            .iter()
            .any(|m| m.text.contains("vae diverged"))
    });
    let text = &h.state().session.messages[0].text;
    let diverged_at: u64 = text
        .split("at step ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step in {text:?}"));
    assert!(
        diverged_at > good_step,
        "diverged at step {diverged_at}, after the good steps up to {good_step}"
    );
    wait_for(&mut h, "a snapshot of the diverged VAE", |a| {
        vae(a).is_some_and(|m| m.diverged)
    });
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("vae diverged").is_some(),
        "the warning is visible"
    );
    assert!(
        h.query_by_label_contains("diverged: last good weights")
            .is_some(),
        "the VAE's plot says what it shows"
    );
    // The last good weights still draw: finite codes, and a finite decoding of the probe.
    let codes = &vae(h.state()).unwrap().codes;
    assert!(!codes.is_empty() && codes.iter().all(|v| v.is_finite()));
    let decoded = &h.state().selection.probes["vae"].decoded.items();
    assert!(!decoded.is_empty() && decoded.iter().all(|v| v.is_finite()));
    h.get_by_label("dismiss").click();
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("vae diverged").is_none(),
        "dismissed"
    );
    // The autoencoder survives the same learning rate and goes on training.
    let before = steps(h.state());
    wait_for(&mut h, "training to go on", |a| steps(a) > before + 20);
    let progress = h.state().session.progress.clone().unwrap();
    let diverged = |name: &str| progress.losses.iter().any(|l| l.name == name && l.diverged);
    assert!(diverged("vae") && !diverged("ae"), "{:?}", progress.losses);
    assert_eq!(h.state().session.status, Status::Running);
}

/// The VAE of the latest snapshot.
fn vae(app: &LatentLabApp) -> Option<&latentlab::train::ModelSnapshot> {
    let snap = app.session.snapshot.as_ref()?;
    snap.models.iter().find(|m| m.name == "vae")
}

/// No training steps over a few frames with real time passing.
fn assert_stays_paused(h: &mut Harness<'_, LatentLabApp>, when: &str) {
    for _ in 0..15 {
        std::thread::sleep(Duration::from_millis(30));
        h.run_steps(1);
    }
    assert_eq!(h.state().session.status, Status::Paused, "{when}");
    assert_eq!(steps(h.state()), 0, "{when}: no step of the new models");
}

#[test]
fn both_resets_keep_the_users_choice_of_train_or_pause() {
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "training", |a| steps(a) > 5);
    h.get_by_label("Pause").click();
    wait_for(&mut h, "pause", |a| a.session.status == Status::Paused);
    // New models through the settings dialog, which lists each pending change.
    {
        let app = h.state_mut();
        app.controls.draft.run.latent_dim = 3;
        app.controls.draft.run.batch_size = 32;
        app.controls.confirm_open = true;
    }
    h.run_steps(2);
    for change in ["latent dim: 2 -> 3", "batch size: 64 -> 32"] {
        assert!(
            h.query_by_label(change).is_some(),
            "the dialog lists {change}"
        );
    }
    h.get_by_label("Reset now").click();
    let new_models = |a: &LatentLabApp| {
        a.session
            .snapshot
            .as_ref()
            .is_some_and(|s| s.models.iter().all(|m| m.latent_dim == 3))
    };
    wait_for(&mut h, "the new models", new_models);
    assert_stays_paused(&mut h, "after Reset now while paused");
    h.get_by_label("Reset").click();
    wait_for(&mut h, "the reset", |a| a.session.snapshot.is_none());
    wait_for(&mut h, "the models again", |a| a.session.snapshot.is_some());
    assert_stays_paused(&mut h, "after Reset while paused");
    // Training stays training, through both.
    h.get_by_label("Train").click();
    wait_for(&mut h, "training", |a| steps(a) > 5);
    h.get_by_label("Reset").click();
    wait_for(&mut h, "the reset", |a| a.session.snapshot.is_none());
    wait_for(&mut h, "training again", |a| steps(a) > 5);
    h.state_mut().controls.draft.run.latent_dim = 2;
    h.state_mut().controls.confirm_open = true;
    h.run_steps(2);
    h.get_by_label("Reset now").click();
    wait_for(&mut h, "the reset", |a| a.session.snapshot.is_none());
    wait_for(&mut h, "training on the 2-D models", |a| {
        steps(a) > 5
            && a.session
                .snapshot
                .as_ref()
                .is_some_and(|s| s.models[0].latent_dim == 2)
    });
    assert_eq!(h.state().session.status, Status::Running);
}

#[cfg(unix)]
#[test]
fn a_pause_clicked_while_the_data_loads_is_honoured() {
    // The data set is a named pipe, so the window is certainly still loading (and then
    // building) when Pause is clicked.
    let dir = tempfile::tempdir().unwrap();
    let (settings, pipe) = ui::slow_csv_settings(dir.path());
    let mut h = harness(settings, true);
    h.run_steps(2);
    assert_eq!(h.state().session.status, Status::Loading);
    assert!(
        h.query_by_label_contains("loading data, then training")
            .is_some(),
        "the status says what comes after loading"
    );
    h.get_by_label("Pause").click();
    h.run_steps(2);
    assert!(!h.state().session.start_when_ready, "the Pause was taken");
    assert!(
        h.query_by_label_contains("loading data, then paused")
            .is_some()
    );
    // 60 rows of 28x28 pixels in 3 classes.
    let rows: Vec<String> = (0..60)
        .map(|i| {
            let pixels: Vec<String> = (0..784)
                .map(|p| ((p * 7 + i * 13) % 256).to_string())
                .collect();
            format!("{},{}", i % 3, pixels.join(","))
        })
        .collect();
    std::fs::write(&pipe, rows.join("\n")).unwrap();
    wait_for(&mut h, "the models on the piped data", |a| {
        a.session.snapshot.is_some()
            && a.session
                .data
                .as_ref()
                .is_some_and(|d| d.name.contains("slow"))
    });
    assert_stays_paused(&mut h, "after a Pause while loading");
    h.get_by_label("Train").click();
    wait_for(&mut h, "training", |a| steps(a) > 3);
}
