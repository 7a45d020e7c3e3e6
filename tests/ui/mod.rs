//! The window under egui_kittest, shared by the window tests: a harness on small built-in
//! data, and waiting with real time passing for the worker.

use egui_kittest::Harness;
use latentlab::app::{LatentLabApp, Settings};
use latentlab::data::Sizes;
use std::time::{Duration, Instant};

/// Built-in data sets this small train in seconds.
pub const SMALL: Sizes = Sizes {
    train: 3000,
    test: 600,
};

/// The app at 1600x1000 on small data; `autostart` trains as soon as the models are built.
pub fn harness(settings: Settings, autostart: bool) -> Harness<'static, LatentLabApp> {
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(10_000)
        .build_eframe(move |cc| {
            let mut app = LatentLabApp::with_settings(&cc.egui_ctx, settings, Some(SMALL));
            app.session.start_when_ready = autostart;
            app
        })
}

/// The default settings with a smaller network.
pub fn small_settings() -> Settings {
    let mut s = Settings::default();
    s.run.hidden = vec![64, 32];
    s
}

/// Steps the UI (with real time passing for the worker) until `done` holds.
pub fn wait_for(
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

/// The training step the window last heard of.
#[allow(dead_code)] // not every test file counts steps
pub fn steps(app: &LatentLabApp) -> u64 {
    app.session.progress.as_ref().map_or(0, |p| p.step)
}

/// Small settings whose data set is a named pipe in `dir`: it loads only when the test
/// writes it (or opens and closes it), so the window is certainly still loading until then.
/// Returns the settings and the pipe.
#[allow(dead_code)] // not every test file waits on a loading data set
pub fn slow_csv_settings(dir: &std::path::Path) -> (Settings, std::path::PathBuf) {
    let pipe = dir.join("slow.csv");
    let made = std::process::Command::new("mkfifo").arg(&pipe).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", pipe.display());
    let mut settings = small_settings();
    settings.run.dataset = format!("csv:{}", pipe.display());
    (settings, pipe)
}

/// Steps the UI until a message containing `text` shows.
#[allow(dead_code)] // not every test file waits for a message
pub fn wait_for_message(h: &mut Harness<'_, LatentLabApp>, text: &str) {
    wait_for(h, text, |a| {
        a.session.messages.iter().any(|m| m.text.contains(text))
    });
}

/// The default pair on small data, trained past step 50 and then paused: the codes hold
/// still for tests that drag on the plots.
#[allow(dead_code)] // not every test file drags
pub fn trained_then_paused() -> Harness<'static, LatentLabApp> {
    use egui_kittest::kittest::Queryable;
    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "a snapshot", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step > 50)
    });
    h.get_by_label("Pause").click();
    wait_for(&mut h, "pause", |a| {
        a.session.status == latentlab::app::Status::Paused
    });
    h.run_steps(3);
    h
}
