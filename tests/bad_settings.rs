//! Saved window settings (eframe's app.ron) that a hand edit or a damaged file leaves with a
//! model listed twice, or with models each small enough but too many parameters in all:
//! `Settings::sanitize` must put them right, so the window builds its models at start.
//! Both found by the settings fuzz target (tests/fuzz.rs) on 2026-12-06; in the first a
//! mutation turned `"vae"` into `"\nae"`, which reads as `ae` (kind names are trimmed).

use egui_kittest::kittest::Queryable;
use latentlab::app::Settings;
use latentlab::data::ItemShape;

mod ui;

/// Settings as app.ron holds them: the AE listed twice (once with a space); four models of
/// about 7.3 million parameters each, 29.2 million in all (the cap is 25 million).
const SAVED: [&str; 3] = [
    "(run: (models: [\"ae\", \"ae\"]))",
    "(run: (models: [\"ae\", \" ae\", \"vae\"]))",
    "(run: (models: [\"ae\", \"vae\", \"sae\", \"cae\"], hidden: [4100, 100, 100, 100]))",
];

#[test]
fn saved_settings_that_cannot_build_are_put_right_and_the_window_builds() {
    let image = ItemShape::gray(28, 28);
    // Each case says what is wrong with it, so all of them show at once.
    let mut wrong = Vec::new();
    for saved in SAVED {
        let mut s: Settings = ron::from_str(saved).unwrap();
        let fixed = s.sanitize();
        if let Err(e) = s.run.train_config_for(image) {
            wrong.push(format!(
                "{saved}: after sanitize ({fixed:?}) the models do not build: {e}"
            ));
            continue;
        }
        // The window on those settings trains.
        let mut h = ui::harness(s, true);
        ui::wait_for(&mut h, "the models training", |a| {
            a.session.snapshot.is_some() || a.session.messages.iter().any(|m| m.is_error)
        });
        let errors: Vec<&str> = h
            .state()
            .session
            .messages
            .iter()
            .filter(|m| m.is_error)
            .map(|m| m.text.as_str())
            .collect();
        if !errors.is_empty() || h.query_by_label_contains("Building the models").is_some() {
            wrong.push(format!("{saved}: the window shows {errors:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Settings the window cannot build models from (here not sanitized, as `with_settings`
/// takes them): the error is on screen and no spinner says models are on their way.
#[test]
fn settings_that_cannot_build_show_the_error_and_no_spinner() {
    let s: Settings = ron::from_str(SAVED[0]).unwrap();
    let mut h = ui::harness(s, true);
    ui::wait_for_message(&mut h, "listed twice");
    h.run_steps(2);
    assert!(h.query_by_label_contains("listed twice").is_some());
    assert!(!h.state().session.is_building());
    assert!(
        h.query_by_label_contains("Building the models").is_none(),
        "a spinner beside the error"
    );
}
