//! Every step of every built-in lesson shows what it points at, at a projector's 1280×720
//! and a laptop's 1600×1000, in normal and in presentation mode: each declared subject is
//! wholly on screen and nothing is drawn past the window's right or bottom edge. The app
//! runs headless (`latentlab::app::fit`), as `latentlab lessons --check` runs it.

use latentlab::app::fit::{FitOptions, check_lesson};
use latentlab::app::load_lesson;
use latentlab::lessons;

fn check_all(w: f32, h: f32, presentation: bool) {
    let opts = FitOptions {
        size_px: egui::vec2(w, h),
        presentation,
        ..FitOptions::default()
    };
    let mut failures = Vec::new();
    for lesson in lessons::builtin().expect("built-in lessons parse") {
        let lesson = load_lesson(&lesson.name).expect("the window takes it");
        let fits = check_lesson(&lesson, &opts, |_, _| {});
        assert_eq!(
            fits.len(),
            lesson.steps.len(),
            "{}: every step checked",
            lesson.name
        );
        for f in fits {
            if !f.problems.is_empty() {
                failures.push(format!(
                    "{} step {} '{}': {}",
                    lesson.name,
                    f.step + 1,
                    f.title,
                    f.problems.join("; ")
                ));
            }
        }
    }
    let mode = if presentation {
        "presentation"
    } else {
        "normal"
    };
    assert!(
        failures.is_empty(),
        "at {w}x{h} in {mode} mode:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_lesson_step_fits_a_projector_at_1280x720() {
    check_all(1280.0, 720.0, false);
}

#[test]
fn every_lesson_step_fits_a_projector_at_1280x720_presenting() {
    check_all(1280.0, 720.0, true);
}

#[test]
fn every_lesson_step_fits_a_laptop_at_1600x1000() {
    check_all(1600.0, 1000.0, false);
}

#[test]
fn every_lesson_step_fits_a_laptop_at_1600x1000_presenting() {
    check_all(1600.0, 1000.0, true);
}

#[test]
fn every_builtin_step_declares_its_subject() {
    for lesson in lessons::builtin().expect("built-in lessons parse") {
        for step in &lesson.steps {
            assert!(
                step.changes.subjects.is_some(),
                "{} step '{}' declares no subject",
                lesson.name,
                step.title
            );
        }
    }
}

/// Every tab of a window with three models at latent dim 20 (the largest common set-up in
/// a second lecture) draws nothing past the window's edge at 1280×720.
#[test]
fn every_tab_with_three_models_at_dim_20_stays_inside_1280x720() {
    use latentlab::app::Settings;
    use latentlab::app::fit::{Stage, misfits, ready};
    use latentlab::model::ModelKind;
    use std::time::Duration;
    let mut settings = Settings::default();
    settings.run.models = vec![ModelKind::Ae, ModelKind::Vae, ModelKind::BetaVae];
    settings.run.latent_dim = 20;
    for presentation in [false, true] {
        let opts = FitOptions::default();
        let mut stage = Stage::new(egui::vec2(1280.0, 720.0), settings.clone(), opts.sizes);
        stage.app.session.start_when_ready = false;
        assert!(stage.wait(Duration::from_secs(120), ready), "models built");
        if presentation {
            stage.app.apply(latentlab::app::Action::Present(true));
        }
        let mut failures = Vec::new();
        for tab in 0..stage.app.views.len() {
            stage.app.tab = tab;
            stage.settle();
            let out = stage.frame();
            for p in misfits(&stage.app, &out, stage.screen()) {
                failures.push(format!("{}: {p}", stage.app.views[tab].title()));
            }
        }
        assert!(
            failures.is_empty(),
            "presentation {presentation}:\n{}",
            failures.join("\n")
        );
    }
}

/// Four models side by side (a VAE and the three kinds after it) fit a projector at
/// 1280×720 and a laptop at 1600×1000: the latent plots in one row, large enough to read,
/// and all four tables of Draw & inspect on screen.
#[test]
fn four_models_fit_a_projector_and_a_laptop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("four.md");
    std::fs::write(
        &path,
        "---\nname: four\ntitle: Four models\nabout: four at once\n---\n\n\
         ## Latent\ndataset: digits\nmodels: vae, cvae, iwae, vq-vae\nlatent_dim: 2\n\
         tab: Latent space\ntraining: run\nsubject: latent plots\n\nLook.\n\n\
         ## Inspect\ntab: Draw & inspect\nsubject: inspector\n\nLook.\n",
    )
    .unwrap();
    let lesson = load_lesson(path.to_str().unwrap()).expect("the window takes it");
    for (w, h) in [(1280.0, 720.0), (1600.0, 1000.0)] {
        let opts = FitOptions {
            size_px: egui::vec2(w, h),
            ..FitOptions::default()
        };
        let fits = check_lesson(&lesson, &opts, |_, _| {});
        assert_eq!(fits.len(), 2);
        for f in fits {
            assert!(
                f.problems.is_empty(),
                "{w}x{h} step {}: {:?}",
                f.step + 1,
                f.problems
            );
        }
    }
}

/// Presentation mode zooms by its size (1.6) but leaves at least 1000×560 points: 1.28 on a
/// 1280×720 projector, the whole 1.6 on a 1600×1000 laptop.
#[test]
fn presentation_zoom_leaves_room_for_the_plots() {
    use latentlab::app::fit::{Stage, ready};
    use latentlab::app::{Action, Settings};
    use std::time::Duration;
    for (w, h, zoom) in [
        (1280.0, 720.0, 1.28),
        (1600.0, 1000.0, 1.6),
        (2560.0, 1440.0, 1.6),
    ] {
        let mut stage = Stage::new(
            egui::vec2(w, h),
            Settings::default(),
            FitOptions::default().sizes,
        );
        stage.app.session.start_when_ready = false;
        assert!(stage.wait(Duration::from_secs(120), ready));
        stage.app.apply(Action::Present(true));
        stage.settle();
        let got = stage.ctx.zoom_factor();
        assert!(
            (got - zoom).abs() < 0.01,
            "{w}x{h}: zoom {got}, wanted {zoom}"
        );
        let screen = stage.screen();
        assert!(
            screen.width() >= 999.0 && screen.height() >= 559.0,
            "{screen:?}"
        );
        stage.app.apply(Action::Present(false));
        stage.settle();
        assert!(
            (stage.ctx.zoom_factor() - 1.0).abs() < 1e-4,
            "zoom restored"
        );
    }
}
