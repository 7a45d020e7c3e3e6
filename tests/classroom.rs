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

#[test]
fn a_drawn_digit_is_marked_in_every_latent_plot_and_inspected_with_its_closed_form_kl() {
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "some training", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step > 50)
    });
    h.get_by_label("Pause").click();
    wait_for(&mut h, "pause", |a| a.session.status == Status::Paused);
    h.get_by_label("Draw & inspect").click();
    h.run_steps(3);
    let canvas = h.state().rects.draw_canvas.expect("a canvas");
    // A "1": one vertical stroke down the middle.
    let (top, bottom) = (
        canvas.center_top() + egui::vec2(0.0, canvas.height() * 0.2),
        canvas.center_bottom() - egui::vec2(0.0, canvas.height() * 0.2),
    );
    h.hover_at(top);
    h.run_steps(1);
    h.drag_at(top);
    h.run_steps(1);
    for t in 1..=8 {
        h.hover_at(top + (bottom - top) * (t as f32 / 8.0));
        h.run_steps(1);
    }
    h.drop_at(bottom);
    h.run_steps(3);
    let x = h.state().selection.drawn.clone().expect("a drawn item");
    let ink: f32 = x.iter().sum();
    assert!(ink > 10.0, "the stroke inked the canvas: {ink}");
    // Column 14 is inked, the left edge is not.
    assert!(x[14 * 28 + 14] > 0.9 && x[14 * 28] == 0.0);

    // The KL the inspector shows is the closed form of the VAE's posterior for this item.
    let snap = h.state().session.snapshot.clone().unwrap();
    let vae = snap.models.iter().find(|m| m.name == "vae").unwrap();
    let (mu, sigma) = vae.encoder.encode(&x);
    let sigma = sigma.expect("a VAE has σ");
    let kl: f64 = mu
        .iter()
        .zip(&sigma)
        .map(|(&m, &s)| {
            let (m, s) = (f64::from(m), f64::from(s));
            // KL(N(m, s²) ‖ N(0, 1)) = ln(1/s) + (s² + m²)/2 − 1/2
            -s.ln() + (s * s + m * m) / 2.0 - 0.5
        })
        .sum();
    let shown = format!("{kl:.2} nats");
    assert!(
        h.query_by_label(&shown).is_some(),
        "the inspector shows the KL {shown}"
    );

    // Every latent plot marks the item inside its plot.
    h.get_by_label("Latent space").click();
    h.run_steps(3);
    for name in ["ae", "vae"] {
        let at = h.state().rects.drawn_markers.get(name).copied();
        let plot = h.state().rects.latent_plots[name];
        assert!(
            at.is_some_and(|p| plot.expand(4.0).contains(p)),
            "{name}: marker at {at:?} in {plot:?}"
        );
    }
}

/// Pause in the presentation bar is there while the data loads and the models are built
/// (they would train as soon as they are ready), and it is honoured.
#[test]
fn the_presentation_bar_pauses_models_still_being_built() {
    let dir = tempfile::tempdir().unwrap();
    let (settings, pipe) = ui::slow_csv_settings(dir.path());
    let mut h = harness(settings, true);
    h.key_press(egui::Key::F5);
    h.run_steps(2);
    assert!(h.state().presentation.on);
    assert_eq!(h.state().session.status, Status::Loading);
    h.get_by_label("Pause").click();
    h.run_steps(2);
    assert!(!h.state().session.start_when_ready, "the Pause was taken");
    h.get_by_label("Train");
    // Let the loader finish (an empty file) so no thread waits on the pipe.
    drop(std::fs::OpenOptions::new().write(true).open(&pipe));
}

/// A probe dragged past a plot's edge stays on the plot: the pointer leaving the plot does
/// not carry the probe (and the axes that follow it) away.
#[test]
fn a_probe_dragged_past_the_edge_stays_on_the_plot() {
    let mut h = ui::trained_then_paused();
    let rect = h.state().rects.latent_plots["ae"];
    let snap = h.state().session.snapshot.clone().unwrap();
    let ae = snap.models.iter().find(|m| m.name == "ae").unwrap();
    let xs: Vec<f32> = ae.codes.chunks(ae.latent_dim).map(|c| c[0]).collect();
    let (lo, hi) = xs
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, u), &x| (l.min(x), u.max(x)));
    let from = rect.center();
    let to = egui::pos2(rect.right() + 2.0 * rect.width(), rect.center().y);
    h.hover_at(from);
    h.run_steps(1);
    h.drag_at(from);
    h.run_steps(1);
    for t in 1..=6 {
        h.hover_at(from + (to - from) * (t as f32 / 6.0));
        h.run_steps(1);
    }
    let x = h.state().selection.probes["ae"].code[0];
    h.drop_at(to);
    h.run_steps(2);
    // The plot spans the codes' range with 5% on each side.
    let right_edge = hi + 0.05 * (hi - lo) + 1e-3;
    assert!(
        x > hi - 0.2 * (hi - lo) && x <= right_edge,
        "the probe is at the plot's right edge: z1 = {x}, codes {lo}..{hi}"
    );
}
