//! t-SNE in the latent scatter, through the window under egui_kittest: picked from the
//! toolbar for models of 16 dimensions, computed in the background while frames go on,
//! drawn with its "no inverse" note, and not draggable; a plot set back to its plane by
//! its own menu is draggable again.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use latentlab::app::{LatentLabApp, Status};
use latentlab::explore::projection::{Projection, project};
use std::sync::atomic::{AtomicBool, AtomicU32};

mod ui;
use ui::{harness, small_settings, wait_for};

/// Drags on `model`'s latent plot from its centre towards its top right corner.
fn drag_on_plot(h: &mut Harness<'_, LatentLabApp>, model: &str) {
    let rect = h.state().rects.latent_plots[model];
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
    h.drop_at(to);
    h.run_steps(2);
}

fn probe(h: &Harness<'_, LatentLabApp>, model: &str) -> Vec<f32> {
    h.state().selection.probes[model].code.clone()
}

#[test]
fn a_tsne_plot_shows_its_points_and_note_and_its_probe_cannot_be_dragged() {
    let mut settings = small_settings();
    settings.run.latent_dim = 16;
    let mut h = harness(settings, true);
    wait_for(&mut h, "a snapshot", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step > 50)
    });
    h.get_by_label("Pause").click();
    wait_for(&mut h, "pause", |a| a.session.status == Status::Paused);
    h.run_steps(3);
    let vae_codes = {
        let snap = h.state().session.snapshot.as_ref().unwrap();
        let vae = snap.models.iter().find(|m| m.name == "vae").unwrap();
        assert_eq!(vae.latent_dim, 16);
        vae.codes.clone()
    };
    let codes = vae_codes.len() / 16;
    assert!(codes > 100, "{codes} display codes");
    assert!(h.state().rects.latent_maps.is_empty(), "planes at first");

    // t-SNE for every plot, from the toolbar.
    h.get_by_label("view:").click();
    h.run_steps(2);
    h.get_by_label("t-SNE").click();
    h.run_steps(2);
    wait_for(&mut h, "both t-SNE pictures", |a| {
        ["ae", "vae"]
            .iter()
            .all(|m| a.rects.latent_maps.get(*m).map(Vec::len) == Some(codes))
    });
    // The VAE's dots are where t-SNE puts its codes (the same seed gives the same picture).
    let seed = h.state().settings.run.seed;
    let want = project(
        &vae_codes,
        16,
        Projection::Tsne,
        seed,
        &AtomicU32::new(0),
        &AtomicBool::new(false),
    )
    .unwrap();
    let drawn = &h.state().rects.latent_maps["vae"];
    for (i, (d, w)) in drawn.iter().zip(&want).enumerate() {
        assert!(
            (d[0] - f64::from(w[0])).abs() < 1e-4 && (d[1] - f64::from(w[1])).abs() < 1e-4,
            "item {i} drawn at {d:?}, t-SNE puts it at {w:?}"
        );
    }
    // The note, once per plot, and no progress bar left.
    let notes = h
        .query_all_by_label_contains("has no inverse: the probe cannot be dragged")
        .count();
    assert_eq!(notes, 2, "one note per t-SNE plot");
    assert!(
        h.query_all_by_label_contains("t-SNE has no inverse")
            .next()
            .is_some()
    );
    assert!(
        h.query_by_label_contains(" %").is_none(),
        "no progress left"
    );

    // Dragging on the t-SNE plot leaves the probe where it was.
    let before = probe(&h, "vae");
    drag_on_plot(&mut h, "vae");
    assert_eq!(
        probe(&h, "vae"),
        before,
        "the probe stays put on a t-SNE plot"
    );

    // The AE's plot back to its plane through its own menu: draggable again, while the
    // VAE's stays a t-SNE picture.
    h.get_all_by_role(egui::accesskit::Role::ComboBox)
        .find(|n| n.accesskit_node().label().as_deref() == Some("Autoencoder"))
        .expect("the AE plot's own view menu")
        .click();
    h.run_steps(2);
    h.get_by_label("z1 × z2").click();
    h.run_steps(3);
    assert!(!h.state().rects.latent_maps.contains_key("ae"));
    assert_eq!(h.state().rects.latent_maps["vae"].len(), codes);
    let before = probe(&h, "ae");
    drag_on_plot(&mut h, "ae");
    let after = probe(&h, "ae");
    let moved = (after[0] - before[0]).hypot(after[1] - before[1]);
    assert!(
        moved > 0.1,
        "the probe moves on the plane: {before:?} -> {after:?}"
    );
}
