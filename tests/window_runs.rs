//! Saved runs in the window, driven by egui_kittest: a run from the command line opens
//! with its models, settings and curves and trains on from its step; a run that cannot be
//! opened says why and changes nothing; Save… writes a run that opens again.

use egui_kittest::kittest::Queryable;
use latentlab::app::{Action, Status};
use latentlab::train::run;
use std::path::Path;
use std::process::Command;

mod common;
mod ui;
use ui::{harness, small_settings, wait_for};

/// `latentlab train` on the moons: an AE and a VAE, one epoch of 40 steps.
fn cli_run(out: &Path) {
    let args = common::quick_run_args(out);
    let o = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn an_opened_run_shows_its_models_and_curves_and_trains_on() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    cli_run(&out);
    let saved = run::open_run(&out).unwrap();
    let mut h = harness(small_settings(), false);
    wait_for(&mut h, "the digits models", |a| {
        a.session.snapshot.is_some()
    });

    // Not a run: an error, and the window goes on as it was.
    h.state_mut()
        .apply(Action::OpenRun(tmp.path().to_path_buf()));
    h.run_steps(2);
    let errors: Vec<String> = h
        .state()
        .session
        .messages
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("cannot open the run") && e.contains("no run.json")),
        "{errors:?}"
    );
    assert_eq!(h.state().settings.run.dataset, "digits");
    assert_eq!(h.state().session.data.as_ref().unwrap().name, "digits");

    h.state_mut().apply(Action::OpenRun(out.clone()));
    wait_for(&mut h, "the opened run", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step == 40)
            && a.session.data.as_ref().is_some_and(|d| d.name == "moons")
    });
    let app = h.state();
    assert_eq!(app.settings.run.hidden, vec![16]);
    assert_eq!(app.settings.run.dataset, "moons");
    assert_eq!(
        app.session.data.as_ref().unwrap().train.len(),
        saved.manifest.data.train
    );
    let snap = app.session.snapshot.clone().unwrap();
    let models: Vec<&str> = snap.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(models, vec!["ae", "vae"]);
    // The curves are the saved ones: each model's test point at step 40 with its numbers.
    assert_eq!(app.session.history.models.len(), 2, "a curve set per model");
    for m in &app.session.history.models {
        let row = saved
            .losses
            .iter()
            .rfind(|r| r.model == m.name && r.split == "test")
            .unwrap();
        let point = m.test.last().unwrap();
        assert_eq!(
            (point.step, point.values.recon),
            (40.0, row.recon),
            "{}",
            m.name
        );
        assert!(!m.train.is_empty(), "{}", m.name);
    }
    // The run's timeline came with it: replay goes back to its first steps.
    let steps: Vec<u64> = app
        .timeline_bar
        .timeline
        .frames()
        .iter()
        .map(|f| f.step)
        .collect();
    assert!(steps.len() >= 5, "{steps:?}");
    assert!(steps[0] == 0 && steps.last() == Some(&40), "{steps:?}");
    let restored = steps.len();
    assert_eq!(
        app.session.status,
        Status::Paused,
        "an opened run waits for Train"
    );
    assert!(
        app.session
            .messages
            .iter()
            .any(|m| m.text.contains("opened the run"))
    );

    h.get_by_label("Train").click();
    wait_for(&mut h, "training on from step 40", |a| {
        a.session.progress.as_ref().is_some_and(|p| p.step > 45)
            && a.session.snapshot.as_ref().is_some_and(|s| s.step > 40)
    });
    // The epoch goes on from the saved one.
    assert!(h.state().session.progress.as_ref().unwrap().epoch >= 1);
    // The timeline grows like a fresh window's, past the saved file's limit of frames,
    // and its replay still starts at step 0.
    let beyond = restored.max(latentlab::train::timeline::RUN_FILE_FRAMES) + 5;
    wait_for(&mut h, "the timeline growing", |a| {
        a.timeline_bar.timeline.len() > beyond
    });
    let t = &h.state().timeline_bar.timeline;
    assert_eq!(t.frames()[0].step, 0);
    assert_eq!(
        t.budget_bytes(),
        latentlab::train::timeline::DEFAULT_BUDGET_BYTES
    );

    // Save… writes a new run that opens with the window's curves.
    let again = tmp.path().join("again");
    h.state_mut().apply(Action::Save(again.clone()));
    ui::wait_for_message(&mut h, "saved the run in");
    let reopened = run::open_run(&again).unwrap();
    assert!(reopened.manifest.step > 40);
    assert_eq!(reopened.manifest.grid_k, Some(h.state().settings.grid_k));
    assert!(
        reopened
            .losses
            .iter()
            .any(|r| r.split == "test" && r.step == 40.0)
    );
    assert!(again.join("latent.png").is_file());
    // Save… animates the timeline as `latentlab train` does, and run.json lists it.
    let gif = std::fs::read(again.join("latent.gif")).unwrap();
    assert_eq!(&gif[..6], b"GIF89a");
    assert!(
        reopened
            .manifest
            .files
            .iter()
            .any(|f| f.name == "latent.gif" && f.bytes == gif.len() as u64),
        "{:?}",
        reopened.manifest.files
    );
    // Its timeline holds the opened run's frames and the new ones.
    let t = latentlab::train::Timeline::from_bytes(&reopened.extra["timeline.bin"]).unwrap();
    let steps: Vec<u64> = t.frames().iter().map(|f| f.step).collect();
    assert!(steps[0] < 10 && *steps.last().unwrap() > 40, "{steps:?}");
    // Saving over the opened run is refused.
    h.state_mut().apply(Action::Save(out.clone()));
    h.run_steps(2);
    assert!(
        h.state()
            .session
            .messages
            .iter()
            .any(|m| m.is_error && m.text.contains("a saved run is already there"))
    );
}

#[test]
fn a_lesson_step_opens_a_saved_run_beside_the_lesson_file() {
    let tmp = tempfile::tempdir().unwrap();
    cli_run(&tmp.path().join("class-run"));
    let file = tmp.path().join("mine.md");
    std::fs::write(
        &file,
        "---\nname: mine\ntitle: Mine\n---\n## Start\nopen: class-run\nlr: 0.01\ntab: Latent grid\n\nThe trained models.\n",
    )
    .unwrap();
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "the digits models", |a| {
        a.session.snapshot.is_some()
    });
    h.state_mut().apply(Action::OpenLessonFile(file));
    wait_for(&mut h, "the lesson's run", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step >= 40)
            && a.session.data.as_ref().is_some_and(|d| d.name == "moons")
    });
    assert!(h.state().lesson.is_some());
    assert_eq!(h.state().settings.run.hidden, vec![16]);
    // The step's other keys apply to the opened run.
    assert_eq!(h.state().settings.run.lr, 0.01);
    assert_eq!(h.state().tab_titles()[h.state().tab], "Latent grid");
    assert!(
        !h.state().session.messages.iter().any(|m| m.is_error),
        "{:?}",
        h.state().session.messages
    );
}

/// Frames and bytes the timeline holds after `secs` of training.
fn timeline_after(
    h: &mut egui_kittest::Harness<'_, latentlab::app::LatentLabApp>,
    secs: f64,
) -> String {
    let start = std::time::Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        std::thread::sleep(std::time::Duration::from_millis(50));
        h.run_steps(1);
    }
    let t = &h.state().timeline_bar.timeline;
    format!(
        "{} frames, {:.1} MB ({:.2} MB a frame), steps {}..{}, the newest snapshot at step {}",
        t.len(),
        t.bytes() as f64 / 1e6,
        t.bytes() as f64 / 1e6 / t.len().max(1) as f64,
        t.frames().first().map_or(0, |f| f.step),
        t.frames().last().map_or(0, |f| f.step),
        h.state().session.snapshot.as_ref().map_or(0, |s| s.step)
    )
}

/// A measurement, not a test: the timeline of a fresh window (default settings, full
/// digits) and of an opened run after a minute of training.
/// `LATENTLAB_RUN=/tmp/run10 cargo test --release --test window_runs -- --ignored --nocapture`
#[test]
#[ignore]
fn measure_the_timeline_after_a_minute() {
    let secs: f64 = std::env::var("LATENTLAB_SECS").map_or(60.0, |s| s.parse().unwrap());
    let default_window = |start: bool| {
        egui_kittest::Harness::builder()
            .with_size(egui::vec2(1280.0, 720.0))
            .with_max_steps(10_000)
            .build_eframe(move |cc| {
                let mut app = latentlab::app::LatentLabApp::with_settings(
                    &cc.egui_ctx,
                    latentlab::app::Settings::default(),
                    None,
                );
                app.session.start_when_ready = start;
                app
            })
    };
    let mut h = default_window(true);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    println!(
        "fresh window after {secs} s: {}",
        timeline_after(&mut h, secs)
    );
    drop(h);
    let Ok(dir) = std::env::var("LATENTLAB_RUN") else {
        return;
    };
    let saved = run::open_run(Path::new(&dir)).unwrap();
    let mut h = default_window(false);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    h.state_mut().apply(Action::OpenRun(dir.into()));
    wait_for(&mut h, "the opened run", |a| {
        a.session
            .snapshot
            .as_ref()
            .is_some_and(|s| s.step == saved.manifest.step)
    });
    h.run_steps(2);
    println!("opened run: {}", timeline_after(&mut h, 0.0));
    h.get_by_label("Train").click();
    println!(
        "opened run after {secs} s: {}",
        timeline_after(&mut h, secs)
    );
}
