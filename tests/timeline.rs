//! The timeline in the window, driven by egui_kittest: scrub back while training goes on,
//! every tab shows the chosen moment, the loss plot marks it, Play replays, Live returns.

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use latentlab::app::{Action, LatentLabApp, Status};
use latentlab::train::Snapshot;
use std::sync::Arc;

mod ui;
use ui::{harness, small_settings, steps, wait_for};

/// What the latent tab decoded at the vae's probe.
fn probe_decoding(app: &LatentLabApp) -> Vec<f32> {
    app.selection.probes["vae"].decoded.items().to_vec()
}

/// The vae's decoding of the probe's code with the decoder of `snap`.
fn decoded_by(snap: &Snapshot, app: &LatentLabApp) -> Vec<f32> {
    let vae = snap.models.iter().find(|m| m.name == "vae").unwrap();
    vae.decoder
        .decode(&app.selection.probes["vae"].code)
        .unwrap()
}

#[test]
fn scrubbing_back_shows_the_older_snapshot_while_training_goes_on_and_live_returns() {
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "a few frames", |a| {
        a.timeline_bar.timeline.len() >= 6 && steps(a) > 100
    });
    // A drawn item: every scatter marks where that moment's encoder puts it.
    let item = h.state().session.data.as_ref().unwrap().test.x[..784].to_vec();
    h.state_mut().selection.drawn = Some(item);
    // The probe off the origin, where the early and late decoders differ most.
    h.state_mut().selection.set_probe("vae", vec![1.0, -0.5]);
    h.run_steps(2);
    let live_marker = h.state().rects.drawn_markers["vae"];
    let old: Arc<Snapshot> = h.state().timeline_bar.timeline.snapshot(1).unwrap();

    h.get_by_role_and_label(Role::Slider, "Timeline")
        .set_value_accesskit(1.0);
    h.run_steps(3);
    let app = h.state();
    assert_eq!(app.timeline_bar.chosen, Some(old.step));
    assert_eq!(app.losses.marker_step, Some(old.step as f64));
    assert!(
        h.query_by_label_contains(&format!("step {} ·", old.step))
            .is_some(),
        "the bar names the step shown"
    );
    assert_eq!(
        probe_decoding(app),
        decoded_by(&old, app),
        "the latent tab decodes with the old decoder"
    );
    let old_marker = app.rects.drawn_markers["vae"];
    assert!(
        old_marker.distance(live_marker) > 1.0,
        "the drawn item moves with the old encoder: {old_marker:?} vs {live_marker:?}"
    );

    // Training goes on underneath; the tabs stay on the chosen moment.
    let at = steps(h.state());
    wait_for(&mut h, "more training", |a| steps(a) > at + 50);
    assert_eq!(h.state().session.status, Status::Running);
    assert_eq!(
        h.state().timeline_bar.shown().map(|s| s.step),
        Some(old.step)
    );
    assert_eq!(probe_decoding(h.state()), decoded_by(&old, h.state()));

    // Live: the newest snapshot again, no marker.
    h.get_by_label("Pause").click();
    wait_for(&mut h, "pause", |a| a.session.status == Status::Paused);
    h.get_by_label("Live").click();
    h.run_steps(3);
    let app = h.state();
    let live = app.session.snapshot.clone().unwrap();
    assert_eq!(app.timeline_bar.chosen, None);
    assert_eq!(app.losses.marker_step, None);
    assert_eq!(probe_decoding(app), decoded_by(&live, app));
    assert_ne!(probe_decoding(app), decoded_by(&old, app));
}

#[test]
fn play_replays_from_the_start_and_ends_live() {
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "a few frames", |a| {
        a.timeline_bar.timeline.len() >= 8
    });
    h.get_by_label("Pause").click();
    wait_for(&mut h, "pause", |a| a.session.status == Status::Paused);
    h.run_steps(2);
    let third = h.state().timeline_bar.timeline.frames()[2].step;
    h.get_by_label("Play").click();
    h.run_steps(1);
    let start = h.state().timeline_bar.chosen.expect("replaying");
    assert!(start <= third, "from the start: {start}");
    assert!(h.state().timeline_bar.playing);
    // 2x is 8 frames a second; a harness step is a quarter second (the first one starts
    // the replay's clock).
    h.run_steps(2);
    let later = h.state().timeline_bar.chosen.expect("still replaying");
    assert!(later > start, "the replay moves on: {start} -> {later}");
    let n = h.state().timeline_bar.timeline.len();
    h.run_steps(n);
    assert_eq!(
        h.state().timeline_bar.chosen,
        None,
        "back to live at the end"
    );
    assert!(!h.state().timeline_bar.playing);
}

#[test]
fn a_gif_of_a_range_is_written_and_a_png_without_screenshots_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "a few frames", |a| {
        a.timeline_bar.timeline.len() >= 5
    });
    let steps_kept: Vec<u64> = h
        .state()
        .timeline_bar
        .timeline
        .frames()
        .iter()
        .map(|f| f.step)
        .collect();
    h.state_mut().timeline_bar.gif_range = (Some(steps_kept[1]), Some(steps_kept[3]));
    let gif = dir.path().join("range.gif");
    h.state_mut().apply(Action::ExportGif(gif.clone()));
    ui::wait_for_message(&mut h, "range.gif");
    let note = &h.state().session.messages.last().unwrap().text;
    assert!(note.contains("3 frames"), "{note}");
    let bytes = std::fs::read(&gif).unwrap();
    assert_eq!(&bytes[..6], b"GIF89a");

    // The harness renders nothing, so no screenshot comes: a message says so.
    let png = dir.path().join("tab.png");
    h.state_mut().apply(Action::ExportPng(png.clone()));
    wait_for(&mut h, "the message", |a| {
        a.session
            .messages
            .iter()
            .any(|m| m.is_error && m.text.contains("no screenshot"))
    });
    assert!(!png.exists());
}

/// A measurement, not a test: what a saved run's timeline.bin holds (either version).
/// `LATENTLAB_TIMELINE=runs/latest/timeline.bin cargo test --release --test timeline -- --ignored --nocapture`
#[test]
#[ignore]
fn measure_a_timeline_file() {
    let Ok(path) = std::env::var("LATENTLAB_TIMELINE") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let t = latentlab::train::Timeline::from_bytes(&bytes).unwrap();
    let n = t.len().max(1) as f64;
    let live: usize = (0..t.len())
        .map(|i| latentlab::train::timeline::snapshot_bytes(&t.snapshot(i).unwrap()))
        .sum();
    let steps: Vec<u64> = t.frames().iter().map(|f| f.step).collect();
    println!(
        "{path}: {} frames, file {:.2} MB ({:.2} MB a frame); in memory {:.2} MB a frame \
         packed, {:.2} MB as live snapshots; steps {steps:?}",
        t.len(),
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / 1e6 / n,
        t.bytes() as f64 / 1e6 / n,
        live as f64 / 1e6 / n,
    );
}
