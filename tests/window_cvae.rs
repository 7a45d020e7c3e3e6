//! A conditional VAE in the window, driven by egui_kittest: the Samples tab shows "the same
//! z, every class" (and the old mosaic on "one class only"), the Sliders tab a row of the
//! sliders' z as every class; a window without a cvae shows neither.

use egui_kittest::kittest::Queryable;
use latentlab::model::ModelKind;

mod ui;
use ui::{harness, small_settings, wait_for};

const SAMPLES_CAPTION: &str = "the same z, every class";
const SLIDERS_CAPTION: &str = "this z as every class";

#[test]
fn a_cvae_shows_the_same_z_as_every_class_in_samples_and_sliders() {
    let mut settings = small_settings();
    settings.run.models = vec![ModelKind::Vae, ModelKind::Cvae];
    let mut h = harness(settings, false);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    h.get_by_label("Samples").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains(SAMPLES_CAPTION).is_some());
    // The class names head the columns (digits: "0" to "9"; "9" is no other label here).
    assert!(
        h.query_by_label("9").is_some(),
        "the class names over the columns"
    );
    h.get_by_label("one class only").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains(SAMPLES_CAPTION).is_none());
    assert!(h.query_by_label("decode as class").is_some());
    h.get_by_label("Sliders").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains(SLIDERS_CAPTION).is_some());
}

#[test]
fn without_a_cvae_neither_row_is_shown() {
    let mut h = harness(small_settings(), false);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    h.get_by_label("Samples").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains(SAMPLES_CAPTION).is_none());
    assert!(h.query_by_label("one class only").is_none());
    h.get_by_label("Sliders").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains(SLIDERS_CAPTION).is_none());
}
