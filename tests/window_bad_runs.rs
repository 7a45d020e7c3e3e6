//! A bad saved run opened in the window (Open run…, as the file dialog hands it over):
//! the window shows why in its message line, nothing spins on, and the models it had go on
//! training. Each run here is a good one from `latentlab train` with one thing damaged and
//! its hashes made true again, so only the checks past the manifest can refuse it.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use latentlab::app::{Action, LatentLabApp, Status};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod bad_run;
mod common;
mod ui;
use bad_run::{run_copy, set};
use ui::{harness, small_settings, wait_for};

/// A good run of `latentlab train` in `dir` (the moons, an AE and a VAE, 40 steps).
fn good_run(dir: &Path) -> PathBuf {
    let good = dir.join("good");
    let args = common::quick_run_args(&good);
    let o = common::latentlab(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", common::stderr(&o));
    good
}

/// The window's models as (name, kind, hidden sizes), to see that they are the same ones.
fn models(app: &LatentLabApp) -> Vec<String> {
    let snap = app.session.snapshot.as_ref().expect("a snapshot");
    snap.models
        .iter()
        .map(|m| format!("{} {:?}", m.name, m.kind))
        .collect()
}

/// Steps the window for `secs` of real time.
fn run_for(h: &mut Harness<'_, LatentLabApp>, secs: f64) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs_f64(secs) {
        std::thread::sleep(Duration::from_millis(20));
        h.run_steps(1);
    }
}

/// Opens `dir` as Open run… does and checks what the window shows: the error on screen
/// (`expected` in it), no spinner, the same settings, data and models, and training going on.
fn opens_with_error(h: &mut Harness<'_, LatentLabApp>, dir: &Path, expected: &str) {
    let before_models = models(h.state());
    let before_hidden = h.state().settings.run.hidden.clone();
    h.state_mut().apply(Action::OpenRun(dir.to_path_buf()));
    // A run whose data set loads in the background answers when it arrives.
    wait_for(h, &format!("the answer about {}", dir.display()), |a| {
        !a.runs.is_opening()
    });
    h.run_steps(3);
    let app = h.state();
    let errors: Vec<&str> = app
        .session
        .messages
        .iter()
        .filter(|m| m.is_error)
        .map(|m| m.text.as_str())
        .collect();
    let shown = format!("cannot open the run {}", dir.display());
    assert!(
        errors
            .last()
            .is_some_and(|e| e.starts_with("cannot open the run") && e.contains(expected)),
        "{}: expected an error with {expected:?}, the window has {errors:?}",
        dir.display()
    );
    // On screen, in the message line, not only in the app's state.
    assert!(
        h.query_by_label_contains(expected).is_some(),
        "{}: {expected:?} is not on screen",
        dir.display()
    );
    assert!(
        h.query_by_label_contains("Building the models").is_none()
            && h.query_by_label_contains("Loading the data set").is_none(),
        "{shown}: a spinner is showing"
    );
    assert!(!app.session.is_building(), "{shown}: still building");
    assert!(app.runs.opened.is_none(), "{shown}: marked as opened");
    assert_eq!(app.settings.run.dataset, "digits", "{shown}");
    assert_eq!(app.settings.run.hidden, before_hidden, "{shown}");
    assert_eq!(app.controls.draft.run.hidden, before_hidden, "{shown}");
    assert_eq!(app.session.data.as_ref().unwrap().name, "digits", "{shown}");
    assert_eq!(models(app), before_models, "{shown}");
    // The models it had train on.
    let step = ui::steps(app);
    wait_for(h, &format!("training on after {}", dir.display()), |a| {
        a.session.status == Status::Running
            && ui::steps(a) > step + 5
            && a.session.snapshot.as_ref().is_some_and(|s| s.step > step)
    });
    // Dismissed, so the next case's message is the only one on screen.
    while !h.state().session.messages.is_empty() {
        h.state_mut().apply(Action::DismissMessage(0));
    }
    h.run_steps(2);
}

#[test]
fn a_bad_run_opened_in_the_window_is_refused_on_screen_and_training_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let good = good_run(root);
    let none = |_: &Path| {};
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();
    let mut bad = |name: &str,
                   files: &dyn Fn(&Path),
                   edit: &dyn Fn(&mut serde_json::Value),
                   expected: &'static str| {
        cases.push((run_copy(root, &good, name, files, edit), expected));
    };
    bad(
        "lr",
        &none,
        &set("/spec/lr", 1e9.into()),
        "learning rate 1000000000 is out of range",
    );
    bad(
        "step",
        &none,
        &set("/step", 100_000_000_000_000u64.into()),
        "is more training than a run can be reopened at",
    );
    bad(
        "elapsed",
        &none,
        &set("/elapsed_secs", 1e300.into()),
        "elapsed_secs 1e300 is not a time of training",
    );
    bad(
        "train",
        &none,
        &set("/data/train", 1_000_000_000u64.into()),
        "claims 1000000000 train and",
    );
    bad(
        "swapped",
        &|d: &Path| {
            std::fs::copy(d.join("vae.safetensors"), d.join("ae.safetensors")).unwrap();
        },
        &|_: &mut serde_json::Value| {},
        "with this description does not have",
    );
    bad(
        "corrupt",
        &|d: &Path| {
            let path = d.join("ae.safetensors");
            let mut bytes = std::fs::read(&path).unwrap();
            bytes.truncate(bytes.len() / 2);
            std::fs::write(&path, bytes).unwrap();
        },
        &|_: &mut serde_json::Value| {},
        "ae.safetensors",
    );
    // Past every check of the files: refused only when the data set, loaded in the
    // background, does not hash to the saved fingerprint.
    bad(
        "fingerprint",
        &none,
        &set("/data/fingerprint", "0".repeat(64).into()),
        "fingerprint",
    );

    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "the digits models training", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step > 20)
    });
    checked(h, |h| {
        for (dir, expected) in &cases {
            opens_with_error(h, dir, expected);
        }
        // And the good run still opens after all that.
        h.state_mut().apply(Action::OpenRun(good.clone()));
        wait_for(h, "the good run", |a| {
            a.session.snapshot.as_ref().is_some_and(|s| s.step == 40)
                && a.session.data.as_ref().is_some_and(|d| d.name == "moons")
        });
        run_for(h, 0.2);
        assert!(
            !h.state().session.messages.iter().any(|m| m.is_error),
            "{:?}",
            h.state().session.messages
        );
    });
}

/// Runs `checks` on the window; if one fails, the window is leaked rather than dropped, so
/// a worker stuck where it cannot be stopped (a replay that never ends) does not hang the
/// test in the harness's drop and hide the failure.
fn checked(
    mut h: Harness<'static, LatentLabApp>,
    checks: impl FnOnce(&mut Harness<'static, LatentLabApp>),
) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| checks(&mut h)));
    if let Err(panic) = outcome {
        std::mem::forget(h);
        std::panic::resume_unwind(panic);
    }
}

/// `n` rows of `label,784 pixels` (labels 0 to 9, pixels a pattern of the row).
fn csv_rows(n: usize) -> String {
    (0..n)
        .map(|i| {
            let pixels: Vec<String> = (0..784)
                .map(|j| ((i * 7 + j * 13) % 256).to_string())
                .collect();
            format!("{},{}\n", i % 10, pixels.join(","))
        })
        .collect()
}

/// A checkpoint damaged while the run's data set loads (a large data set takes that long;
/// a named pipe here holds the load until the test lets it go): every check of the open
/// passed on the files as they were, and the worker, which reads the checkpoints again,
/// refuses them. The window says why, shows no spinner and keeps the models it had.
#[test]
fn a_checkpoint_damaged_while_the_run_loads_leaves_the_window_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("items.csv");
    let rows = csv_rows(300);
    std::fs::write(&data, &rows).unwrap();
    let run = tmp.path().join("run");
    let spec = format!("csv:{}", data.display());
    let o = common::latentlab(&[
        "train",
        "--dataset",
        &spec,
        "--models",
        "ae,vae",
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--batch-size",
        "50",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    // The data set becomes a pipe: the open's background load waits on it.
    std::fs::remove_file(&data).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&data).status();
    assert!(made.is_ok_and(|s| s.success()));

    let mut h = harness(small_settings(), true);
    wait_for(&mut h, "the digits models training", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| s.step > 20)
    });
    checked(h, |h| {
        let before_models = models(h.state());
        h.state_mut().apply(Action::OpenRun(run.clone()));
        h.run_steps(2);
        assert!(
            h.state().runs.is_opening(),
            "{:?}",
            h.state().session.messages
        );
        // Now the checkpoint changes under it, and the data set arrives.
        std::fs::copy(run.join("vae.safetensors"), run.join("ae.safetensors")).unwrap();
        let writer = std::thread::spawn(move || std::fs::write(&data, rows).unwrap());
        wait_for(h, "an answer about the run", |a| {
            !a.runs.is_opening() && a.session.messages.iter().any(|m| m.is_error)
        });
        writer.join().unwrap();
        run_for(h, 1.0);
        let app = h.state();
        let errors: Vec<&str> = app
            .session
            .messages
            .iter()
            .filter(|m| m.is_error)
            .map(|m| m.text.as_str())
            .collect();
        assert!(
            errors.iter().any(|e| e.contains("ae.safetensors")),
            "{errors:?}"
        );
        assert!(
            h.query_by_label_contains("ae.safetensors").is_some(),
            "the error is not on screen"
        );
        assert!(
            h.query_by_label_contains("Building the models").is_none()
                && h.query_by_label_contains("Loading the data set").is_none(),
            "a spinner is showing (messages: {errors:?})"
        );
        // What the window shows is what the worker trains: the digits models it had.
        assert_eq!(app.settings.run.dataset, "digits", "the settings changed");
        assert_eq!(
            app.session.data.as_ref().map(|d| d.name.as_str()),
            Some("digits"),
            "the data set changed"
        );
        assert!(app.session.snapshot.is_some(), "no models shown");
        assert_eq!(models(app), before_models);
        let step = ui::steps(app);
        wait_for(h, "training on", |a| {
            a.session
                .snapshot
                .as_ref()
                .is_some_and(|s| s.step > step + 5)
        });
    });
}
