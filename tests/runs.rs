//! Saved runs as a user makes and opens them: `latentlab train --out` writes one, it opens
//! with the same models and losses, a second save round-trips, damaged runs say what is
//! wrong, a run is never overwritten silently, and a save killed at any moment leaves a
//! complete run or none.

mod common;

use latentlab::model::{batch_tensor, checkpoint, evaluate};
use latentlab::rng::PortableRng;
use latentlab::train::run::{self, OpenedRun, RunSave, Staging};
use latentlab::train::{Snapshot, TrainCommand, TrainEvent, Trainer};
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn latentlab(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latentlab"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn train(out: &Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    let mut args = common::quick_run_args(out);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    latentlab(&args, env)
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

/// The last test row of `model` in metrics.jsonl.
fn last_test_row(dir: &Path, model: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .rfind(|v| v["model"] == model && v["split"] == "test")
        .unwrap()
}

/// Trains from `run` on a worker (its saved weights, at its saved step) and returns the
/// first snapshot, with the trainer.
fn worker_from(run: &OpenedRun) -> (Trainer, Arc<Snapshot>) {
    let ds = Arc::new(run.load_data().unwrap());
    let mut config = run.manifest.spec.train_config(&ds).unwrap();
    config.start_from = Some(run.start_from());
    let trainer = Trainer::spawn(config, ds, None).unwrap();
    let snap = loop {
        match trainer
            .events()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
            TrainEvent::Snapshot(s) => break s,
            TrainEvent::Error(e) => panic!("{e}"),
            _ => {}
        }
    };
    (trainer, snap)
}

fn wait_saved(trainer: &Trainer) -> Result<PathBuf, String> {
    loop {
        if let TrainEvent::RunSaved(r) = trainer
            .events()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
            return r.map_err(|e| e.to_string());
        }
    }
}

#[test]
fn a_command_line_run_opens_with_the_same_models_and_losses_and_trains_on() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = train(&out, &[], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("run.json"), "{}", text(&o.stdout));
    assert_eq!(
        names(tmp.path()),
        vec!["run"],
        "no temporaries beside the run"
    );
    let run = run::open_run(&out).unwrap();
    let m = &run.manifest;
    assert_eq!((m.step, m.epoch, m.batches_per_epoch), (40, 1, 40));
    assert_eq!(m.spec.hidden, vec![16]);
    assert!(names(&out).contains(&"losses.png".to_string()));
    let ds = run.load_data().unwrap();
    // The reopened models score exactly what the command line printed at the epoch end:
    // the same evaluation (same draws) of the same weights.
    for (entry, path) in m.models.iter().zip(&run.checkpoints) {
        let (model, _) = checkpoint::load(path).unwrap();
        let mut rng = PortableRng::seed_from_u64(m.spec.seed.wrapping_mul(31).wrapping_add(1));
        let now = evaluate(&model, &ds.test, ds.dim(), &mut rng, 0).unwrap();
        let row = last_test_row(&out, &entry.name);
        assert_eq!(row["recon"].as_f64().unwrap(), now.recon, "{}", entry.name);
        assert_eq!(row["loss"].as_f64().unwrap(), now.loss, "{}", entry.name);
        // losses.csv holds the same numbers.
        let csv = run
            .losses
            .iter()
            .rfind(|r| r.model == entry.name && r.split == "test")
            .unwrap();
        assert_eq!(
            (csv.recon, csv.total, csv.step),
            (now.recon, now.loss, 40.0)
        );
    }
    // A worker started from the run shows the saved models at the saved step: the codes
    // of its display items are the checkpoints' codes.
    let (trainer, snap) = worker_from(&run);
    assert_eq!(snap.step, 40);
    for (i, path) in run.checkpoints.iter().enumerate() {
        let (model, _) = checkpoint::load(path).unwrap();
        let x = batch_tensor(ds.test.gather(&snap.display_indices, ds.dim()), ds.dim()).unwrap();
        let codes: Vec<f32> = model
            .encode(&x)
            .unwrap()
            .0
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(codes, snap.models[i].codes, "{}", snap.models[i].name);
    }
    // ... and trains on from there.
    trainer.send(TrainCommand::Step);
    let next = loop {
        if let TrainEvent::Progress(p) = trainer
            .events()
            .recv_timeout(Duration::from_secs(60))
            .unwrap()
        {
            break p;
        }
    };
    assert_eq!(next.step, 41);
}

#[test]
fn save_open_save_round_trips_the_models_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first");
    assert!(train(&first, &[], &[]).status.success());
    let run = run::open_run(&first).unwrap();
    let (trainer, _) = worker_from(&run);
    let second = tmp.path().join("second");
    let staging = Staging::begin(&second, false).unwrap();
    staging
        .write(
            run::LOSSES_CSV,
            &std::fs::read(first.join(run::LOSSES_CSV)).unwrap(),
        )
        .unwrap();
    staging.write("timeline.bin", b"frames").unwrap();
    let save = RunSave {
        staging,
        spec: run.manifest.spec.clone(),
        grid_k: Some(9),
    };
    trainer.send(TrainCommand::SaveRun(Box::new(save)));
    assert_eq!(wait_saved(&trainer).unwrap(), second);
    let again = run::open_run(&second).unwrap();
    assert_eq!(again.manifest.step, run.manifest.step);
    assert_eq!(again.manifest.data, run.manifest.data);
    assert_eq!(again.manifest.spec, run.manifest.spec);
    assert_eq!(again.losses, run.losses);
    assert_eq!(again.extra["timeline.bin"], b"frames");
    for name in ["ae.safetensors", "vae.safetensors"] {
        assert_eq!(
            std::fs::read(first.join(name)).unwrap(),
            std::fs::read(second.join(name)).unwrap(),
            "{name}: the same weights"
        );
    }
    // Saving over the opened run is refused: it stays as it was.
    let staging = Staging::begin(&first, false);
    assert!(
        staging
            .unwrap_err()
            .to_string()
            .contains("a saved run is already there")
    );
    assert_eq!(names(tmp.path()), vec!["first", "second"]);
}

/// `latentlab --open DIR` on a damaged run: non-zero, the message, no window.
fn open_error(dir: &Path) -> String {
    let o = latentlab(&["--open", dir.to_str().unwrap()], &[]);
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(e.starts_with("error: cannot open the run: "), "{e}");
    assert!(!e.contains("window"), "stopped before any window: {e}");
    e
}

fn edit_manifest(dir: &Path, from: &str, to: &str) {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} in {text}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_run_that_cannot_be_opened_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    assert!(train(&good, &[], &[]).status.success());
    let copy = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for f in names(&good) {
            std::fs::copy(good.join(&f), dir.join(&f)).unwrap();
        }
        dir
    };
    let missing = copy("missing");
    std::fs::remove_file(missing.join("vae.safetensors")).unwrap();
    let e = open_error(&missing);
    assert!(
        e.contains("missing/vae.safetensors: missing (run.json lists it)"),
        "{e}"
    );

    let corrupt = copy("corrupt");
    let mut bytes = std::fs::read(corrupt.join("ae.safetensors")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(corrupt.join("ae.safetensors"), bytes).unwrap();
    let e = open_error(&corrupt);
    assert!(
        e.contains("ae.safetensors: its SHA-256 differs from the one in run.json"),
        "{e}"
    );

    let version = copy("version");
    edit_manifest(&version, "\"version\": 1", "\"version\": 99");
    let e = open_error(&version);
    assert!(
        e.contains("run format version 99; this build reads version 1"),
        "{e}"
    );

    let other = copy("other");
    edit_manifest(
        &other,
        "\"seed\": 1,\n    \"train\"",
        "\"seed\": 2,\n    \"train\"",
    );
    let e = open_error(&other);
    assert!(
        e.contains("the data set 'moons' here is not the one the run trained on"),
        "{e}"
    );

    // Its data set renamed: the settings, then the checkpoints, disagree with it.
    let gone = copy("gone");
    edit_manifest(
        &gone,
        "\"name\": \"moons\"",
        "\"name\": \"idx:/no/such/folder\"",
    );
    let e = open_error(&gone);
    assert!(
        e.contains("its settings name the data set 'moons', its data 'idx:/no/such/folder'"),
        "{e}"
    );
    edit_manifest(
        &gone,
        "\"dataset\": \"moons\"",
        "\"dataset\": \"idx:/no/such/folder\"",
    );
    let e = open_error(&gone);
    assert!(
        e.contains("was trained on 'moons', the run on 'idx:/no/such/folder'"),
        "{e}"
    );

    let e = open_error(tmp.path());
    assert!(e.contains("not a saved run (it has no run.json)"), "{e}");
}

#[test]
fn a_second_run_into_the_same_folder_needs_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    assert!(train(&out, &[], &[]).status.success());
    let before = std::fs::read(out.join("run.json")).unwrap();
    let started = Instant::now();
    let o = train(&out, &["--seed", "2"], &[]);
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(
        e.contains("a saved run is already there") && e.contains("--overwrite"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused before training"
    );
    assert_eq!(
        std::fs::read(out.join("run.json")).unwrap(),
        before,
        "untouched"
    );
    assert_eq!(names(tmp.path()), vec!["run"]);
    let o = train(&out, &["--seed", "2", "--overwrite"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("replaced"), "{}", text(&o.stdout));
    assert_eq!(run::open_run(&out).unwrap().manifest.spec.seed, 2);
    assert_eq!(
        names(tmp.path()),
        vec!["run"],
        "the old run and temporaries are gone"
    );
}

/// What a crashed save left at `target`: a complete run (true), nothing (false), or a
/// panic naming what is wrong.
fn complete_or_absent(target: &Path) -> bool {
    if !target.exists() {
        return false;
    }
    match run::open_run(target) {
        Ok(r) => {
            r.load_data().unwrap();
            true
        }
        Err(e) => panic!("a crash left a broken run: {e}"),
    }
}

#[test]
fn a_save_killed_at_any_step_leaves_a_complete_run_or_none() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("run");
    let crash_at = |n: usize| ("LATENTLAB_CRASH_AT_SAVE_STEP", n.to_string());
    // A new run: each crash leaves nothing under the name, or (once it is renamed in) a
    // complete run. The half-written folders are left for the next save to remove.
    let mut crashed = 0;
    for n in 1..100 {
        if target.exists() {
            std::fs::remove_dir_all(&target).unwrap();
        }
        let o = train(&target, &[], &[crash_at(n)]);
        if o.status.success() {
            break;
        }
        let e = text(&o.stderr);
        assert!(
            e.contains(&format!("abort at save step {n}")),
            "step {n}: {e}"
        );
        complete_or_absent(&target);
        crashed += 1;
    }
    assert!(crashed >= 10, "the save has only {crashed} steps");
    assert!(complete_or_absent(&target));
    assert_eq!(
        names(tmp.path()),
        vec!["run"],
        "the good save removed the leftovers"
    );
    // Overwriting: each crash leaves the old run or the new one under the name, never a
    // moment without (the two are swapped in one step).
    let mut crashed = 0;
    for n in 1..100 {
        let o = train(&target, &["--overwrite", "--seed", "3"], &[crash_at(n)]);
        if o.status.success() {
            break;
        }
        let e = text(&o.stderr);
        assert!(
            e.contains(&format!("abort at save step {n}")),
            "step {n}: {e}"
        );
        crashed += 1;
        assert!(
            complete_or_absent(&target),
            "killed at step {n} of an overwrite: no run under the name ({:?})",
            names(tmp.path())
        );
    }
    assert!(crashed >= 10, "the overwrite has only {crashed} steps");
    assert_eq!(run::open_run(&target).unwrap().manifest.spec.seed, 3);
    assert_eq!(names(tmp.path()), vec!["run"]);
}

#[test]
#[cfg(unix)]
fn kill_9_during_saves_leaves_a_complete_run_or_none() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("run");
    assert!(train(&target, &[], &[]).status.success());
    let mut mid_save = 0;
    for round in 0..5u64 {
        let mut args = common::quick_run_args(&target);
        args.extend([
            "--overwrite".into(),
            "--seed".into(),
            (10 + round).to_string(),
        ]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_latentlab"))
            .args(&args)
            .env("LATENTLAB_SLOW_SAVE_MS", "60")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the save to begin (the figures are in the hidden folder), then kill it
        // a while later: a different moment of the save each round.
        let started = Instant::now();
        // This child's hidden folder (others, left by earlier kills, go when it begins).
        let ours = format!(".run.partial-{}-", child.id());
        let saving = || {
            names(tmp.path())
                .iter()
                .any(|n| n.starts_with(&ours) && tmp.path().join(n).join("losses.csv").exists())
        };
        while !saving() {
            assert!(started.elapsed() < Duration::from_secs(60), "no save began");
            std::thread::sleep(Duration::from_millis(5));
        }
        let after_ms = 60 + 350 * round;
        std::thread::sleep(Duration::from_millis(after_ms));
        // A save that ended before the kill tests nothing; most rounds must hit one.
        mid_save += usize::from(child.try_wait().unwrap().is_none());
        child.kill().unwrap();
        child.wait().unwrap();
        let outcome = if complete_or_absent(&target) {
            let seed = run::open_run(&target).unwrap().manifest.spec.seed;
            if seed == 10 + round {
                "the new run"
            } else {
                "the old run"
            }
        } else {
            panic!(
                "kill -9 at +{after_ms} ms left no run under the name: {:?}",
                names(tmp.path())
            );
        };
        eprintln!("kill -9 at +{after_ms} ms into the save: {outcome}");
    }
    assert!(mid_save >= 3, "only {mid_save} kills landed during a save");
    // A last save cleans up after them all.
    let o = train(&target, &["--overwrite"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(names(tmp.path()), vec!["run"]);
}

#[test]
fn overwrite_replaces_a_run_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder of the user's: refused with or without --overwrite, left as it was.
    let mine = tmp.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "my notes").unwrap();
    for extra in [&["--overwrite"][..], &[]] {
        let o = train(&mine, extra, &[]);
        assert!(!o.status.success());
        let e = text(&o.stderr);
        assert!(
            e.contains("replaces only a saved LatentLab run") && e.contains("holds no run.json"),
            "{e}"
        );
        assert!(
            !e.contains("replace it with --overwrite"),
            "no hint to use it: {e}"
        );
        assert!(
            !text(&o.stdout).contains("epoch"),
            "refused before training"
        );
    }
    assert_eq!(names(&mine), vec!["notes.txt"]);
    // A file given as --out, with --overwrite: not replaced, and no hint to add the flag.
    let file = tmp.path().join("file");
    std::fs::write(&file, "data").unwrap();
    let e = text(&train(&file, &["--overwrite"], &[]).stderr);
    assert!(e.contains("it is a file, not a folder"), "{e}");
    assert!(!e.contains("replace it with --overwrite"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"data");
    // A run the user added a file to is no longer only a run: refused too.
    let run = tmp.path().join("run");
    assert!(train(&run, &[], &[]).status.success());
    std::fs::write(run.join("my-notes.md"), "keep me").unwrap();
    let e = text(&train(&run, &["--overwrite"], &[]).stderr);
    assert!(
        e.contains("'my-notes.md', which its run.json does not list"),
        "{e}"
    );
    assert_eq!(std::fs::read(run.join("my-notes.md")).unwrap(), b"keep me");
    // A run of LatentLab alone is replaced.
    std::fs::remove_file(run.join("my-notes.md")).unwrap();
    let o = train(&run, &["--overwrite", "--seed", "4"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(run::open_run(&run).unwrap().manifest.spec.seed, 4);
}

#[test]
#[cfg(unix)]
fn of_two_writers_into_one_folder_one_wins_and_the_other_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("run");
    assert!(train(&target, &[], &[]).status.success());
    let mut args = common::quick_run_args(&target);
    args.extend(["--overwrite".into(), "--seed".into(), "5".into()]);
    let first = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(&args)
        .env("LATENTLAB_SLOW_SAVE_MS", "150")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first is saving (its hidden folder holds its losses) while the second starts.
    let ours = format!(".run.partial-{}-", first.id());
    let started = Instant::now();
    while !names(tmp.path())
        .iter()
        .any(|n| n.starts_with(&ours) && tmp.path().join(n).join("losses.csv").exists())
    {
        assert!(started.elapsed() < Duration::from_secs(60), "no save began");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = train(&target, &["--overwrite", "--seed", "6"], &[]);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(!second.status.success(), "both said they saved");
    let e = text(&second.stderr);
    assert!(
        e.contains("another save into this folder is under way"),
        "{e}"
    );
    assert_eq!(run::open_run(&target).unwrap().manifest.spec.seed, 5);
    assert_eq!(names(tmp.path()), vec!["run"], "the lock is gone too");
}

#[test]
#[cfg(unix)]
fn out_as_a_symbolic_link_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let to_empty = tmp.path().join("to-empty");
    std::os::unix::fs::symlink(&empty, &to_empty).unwrap();
    let dangling = tmp.path().join("dangling");
    std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();
    for link in [&to_empty, &dangling] {
        for extra in [&["--overwrite"][..], &[]] {
            let o = train(link, extra, &[]);
            assert!(!o.status.success());
            let e = text(&o.stderr);
            assert!(e.contains("it is a symbolic link"), "{e}");
            assert!(
                !text(&o.stdout).contains("epoch"),
                "refused before training"
            );
        }
    }
    assert!(names(&empty).is_empty());
    assert_eq!(names(tmp.path()), vec!["dangling", "empty", "to-empty"]);
}
