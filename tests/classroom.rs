//! The classroom features in the window, driven by egui_kittest: presentation mode, the
//! models it shows, and the probe shared by every model when the axes are shared.

use egui_kittest::kittest::Queryable;
use latentlab::app::{LatentLabApp, Status};
use latentlab::model::ModelKind;

mod ui;
use ui::{harness, small_settings, wait_for};

fn plotted(app: &LatentLabApp) -> Vec<String> {
    let mut names: Vec<String> = app.rects.latent_plots.keys().cloned().collect();
    names.sort();
    names
}

#[test]
fn f5_enters_and_leaves_presentation_mode_with_one_pair_of_models() {
    let mut settings = small_settings();
    settings.run.models = vec![ModelKind::Ae, ModelKind::Vae, ModelKind::BetaVae];
    let mut h = harness(settings, false);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    h.run_steps(2);
    assert_eq!(plotted(h.state()), ["ae", "beta-vae", "vae"]);
    assert!(
        h.query_by_label("learning rate").is_some(),
        "the side panel is there"
    );
    let zoom = h.ctx.zoom_factor();

    h.key_press(egui::Key::F5);
    h.run_steps(1);
    h.state_mut().rects.latent_plots.clear();
    h.run_steps(2);
    assert!(h.state().presentation.on);
    assert!(h.query_by_label("learning rate").is_none(), "no side panel");
    assert!(
        h.query_by_label_contains("Exit (F5)").is_some(),
        "the presentation bar"
    );
    assert!(
        (h.ctx.zoom_factor() - zoom * 1.6).abs() < 1e-4,
        "zoomed 1.6x"
    );
    assert_eq!(
        plotted(h.state()),
        ["ae", "vae"],
        "an AE and a VAE by default"
    );

    // Any two: the β-VAE against the VAE.
    h.state_mut().presentation.pair = ["beta-vae".into(), "vae".into()];
    h.run_steps(1);
    h.state_mut().rects.latent_plots.clear();
    h.run_steps(2);
    assert_eq!(plotted(h.state()), ["beta-vae", "vae"]);

    h.key_press(egui::Key::F5);
    h.run_steps(1);
    h.state_mut().rects.latent_plots.clear();
    h.run_steps(2);
    assert!(!h.state().presentation.on);
    assert!((h.ctx.zoom_factor() - zoom).abs() < 1e-4, "zoom restored");
    assert!(
        h.query_by_label("learning rate").is_some(),
        "the side panel is back"
    );
    assert_eq!(plotted(h.state()), ["ae", "beta-vae", "vae"]);
}

#[test]
fn hidden_models_leave_the_tabs() {
    let mut h = harness(small_settings(), false);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    h.run_steps(2);
    // The "show:" row above the tabs' content, not the model list of the side panel.
    h.get_all_by_label("ae")
        .max_by(|a, b| a.rect().left().total_cmp(&b.rect().left()))
        .expect("an ae toggle")
        .click();
    h.run_steps(1);
    h.state_mut().rects.latent_plots.clear();
    h.run_steps(2);
    assert_eq!(plotted(h.state()), ["vae"]);
}

#[test]
fn with_same_axes_one_probe_is_decoded_by_every_model() {
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "some training", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step > 30)
    });
    h.get_by_label("Pause").click();
    wait_for(&mut h, "pause", |a| a.session.status == Status::Paused);
    h.get_by_label("same axes for all models").click();
    h.run_steps(3);
    let rect = h.state().rects.latent_plots["ae"];
    let to = rect.center() + egui::vec2(rect.width() * 0.2, -rect.height() * 0.25);
    h.hover_at(rect.center());
    h.run_steps(1);
    h.drag_at(rect.center());
    h.run_steps(1);
    h.hover_at(to);
    h.run_steps(1);
    h.drop_at(to);
    h.run_steps(2);
    let probes = &h.state().selection.probes;
    assert_ne!(probes["ae"].code, vec![0.0, 0.0], "the AE's probe moved");
    assert_eq!(
        probes["ae"].code, probes["vae"].code,
        "the VAE decodes the same z"
    );
}
