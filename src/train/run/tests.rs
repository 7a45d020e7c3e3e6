use super::*;
use crate::data::ItemShape;
use crate::model::checkpoint::{CheckpointMeta, FORMAT_VERSION, to_bytes};
use crate::model::{Autoencoder, Likelihood, ModelConfig};
use rand::SeedableRng;

/// A tiny AE checkpoint as (json, weights) bytes.
fn checkpoint() -> (Vec<u8>, Vec<u8>) {
    let mut cfg = ModelConfig::new(ModelKind::Ae, 2, Likelihood::Gaussian);
    cfg.hidden = vec![5];
    cfg.latent_dim = RunSpec::default().latent_dim;
    let m = Autoencoder::new(cfg.clone(), &mut crate::rng::PortableRng::seed_from_u64(3)).unwrap();
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        name: "ae".into(),
        config: cfg,
        dataset: "moons".into(),
        item_shape: ItemShape::Points { dim: 2 },
        class_names: vec!["a".into()],
        epoch: 1,
        step: 10,
        lr: 1e-3,
        seed: 1,
        test_metrics: None,
    };
    to_bytes(&m, &meta).unwrap()
}

fn manifest() -> Manifest {
    Manifest {
        format: RUN_FORMAT.into(),
        version: RUN_VERSION,
        written_by: "test".into(),
        spec: RunSpec {
            dataset: "moons".into(),
            models: vec![ModelKind::Ae],
            hidden: vec![5],
            batch_size: 1,
            ..RunSpec::default()
        },
        grid_k: Some(7),
        data: DataInfo {
            name: "moons".into(),
            seed: 1,
            train: 10,
            test: 5,
            fingerprint: "0".repeat(64),
            factor_names: Vec::new(),
        },
        models: vec![ModelEntry {
            name: "ae".into(),
            kind: ModelKind::Ae,
            checkpoint: "ae".into(),
        }],
        step: 10,
        epoch: 1,
        batches_per_epoch: 10,
        elapsed_secs: 1.5,
        files: Vec::new(),
    }
}

/// Saves a small run as `target` (with `extra` beside the checkpoint) and returns where.
fn save(target: &Path, overwrite: bool, extra: &[u8]) -> Result<PathBuf, RunError> {
    let s = Staging::begin(target, overwrite)?;
    let (json, weights) = checkpoint();
    s.write("ae.json", &json)?;
    s.write("ae.safetensors", &weights)?;
    s.write("timeline.bin", extra)?;
    s.write(LOSSES_CSV, write_loss_rows(&[]).as_bytes())?;
    commit(&s, manifest())
}

fn names(dir: &Path) -> Vec<String> {
    let mut n: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    n.sort();
    n
}

#[test]
fn a_saved_run_opens_with_its_files_and_leaves_nothing_else_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("run");
    save(&target, false, b"frames").unwrap();
    assert_eq!(names(tmp.path()), vec!["run"], "no temporaries beside it");
    assert_eq!(
        names(&target),
        vec![
            "ae.json",
            "ae.safetensors",
            "losses.csv",
            "run.json",
            "timeline.bin"
        ]
    );
    let run = open_run(&target).unwrap();
    assert_eq!(run.manifest.grid_k, Some(7));
    assert_eq!(run.manifest.files.len(), 4);
    let sha = &run
        .manifest
        .files
        .iter()
        .find(|f| f.name == "timeline.bin")
        .unwrap()
        .sha256;
    // SHA-256("frames"), computed independently (sha256sum).
    assert_eq!(
        sha,
        "594cfd2607d4f09e1ce6241203e418cacfed545063792bc5eab7afaadbf0c4e0"
    );
    assert_eq!(
        run.extra.get("timeline.bin").map(Vec::as_slice),
        Some(&b"frames"[..])
    );
    assert_eq!(run.checkpoints, vec![target.join("ae.json")]);
}

#[test]
fn a_second_save_into_a_run_is_refused_unless_overwriting() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("run");
    save(&target, false, b"one").unwrap();
    let e = save(&target, false, b"two").unwrap_err().to_string();
    assert!(e.contains("a saved run is already there"), "{e}");
    assert_eq!(
        names(tmp.path()),
        vec!["run"],
        "the refused save left nothing"
    );
    assert_eq!(open_run(&target).unwrap().extra["timeline.bin"], b"one");
    save(&target, true, b"two").unwrap();
    assert_eq!(open_run(&target).unwrap().extra["timeline.bin"], b"two");
    assert_eq!(names(tmp.path()), vec!["run"], "the old run is gone");
    // A folder with other files in it is not taken over silently either.
    let other = tmp.path().join("photos");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("cat.jpg"), b"x").unwrap();
    let e = save(&other, false, b"x").unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    // An empty folder is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    save(&empty, false, b"x").unwrap();
}

#[test]
fn leftovers_of_a_crashed_save_are_cleaned_and_a_run_left_aside_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("run");
    save(&target, false, b"old").unwrap();
    // As a crash between the two renames of an overwrite leaves it: the old run aside,
    // a finished new one still hidden, nothing under the name. PID 0 is never a writer.
    std::fs::rename(&target, tmp.path().join(".run.old-0-1")).unwrap();
    std::fs::create_dir(tmp.path().join(".run.partial-0-2")).unwrap();
    std::fs::write(tmp.path().join(".run.partial-0-2/ae.json"), b"half").unwrap();
    std::fs::create_dir(tmp.path().join(".other.partial-0-3")).unwrap();
    let e = save(&target, false, b"new").unwrap_err().to_string();
    assert!(e.contains("a saved run is already there"), "{e}");
    assert_eq!(names(tmp.path()), vec![".other.partial-0-3", "run"]);
    assert_eq!(open_run(&target).unwrap().extra["timeline.bin"], b"old");
}

#[test]
fn damaged_runs_are_refused_with_the_file_and_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("run");
    let err = |dir: &Path| open_run(dir).unwrap_err().to_string();
    save(&target, false, b"frames").unwrap();
    std::fs::write(target.join("timeline.bin"), b"framez").unwrap();
    let e = err(&target);
    assert!(
        e.contains("timeline.bin") && e.contains("SHA-256 differs"),
        "{e}"
    );
    std::fs::write(target.join("timeline.bin"), b"frames!").unwrap();
    assert!(err(&target).contains("it is 7 bytes, run.json says 6"));
    std::fs::remove_file(target.join("timeline.bin")).unwrap();
    let e = err(&target);
    assert!(e.contains("timeline.bin: missing"), "{e}");
    let json = std::fs::read_to_string(target.join(MANIFEST)).unwrap();
    std::fs::write(
        target.join(MANIFEST),
        json.replace("\"version\": 1", "\"version\": 99"),
    )
    .unwrap();
    let e = err(&target);
    assert!(
        e.contains("run format version 99; this build reads version 1"),
        "{e}"
    );
    std::fs::remove_file(target.join(MANIFEST)).unwrap();
    let e = err(&target);
    assert!(e.contains("not a saved run (it has no run.json)"), "{e}");
    assert!(err(&tmp.path().join("nowhere")).contains("there is no such folder"));
}

#[test]
fn loss_rows_round_trip_and_a_bad_line_is_named() {
    let rows = vec![
        LossRow {
            step: 12.5,
            epoch: 0,
            model: "vae".into(),
            kind: ModelKind::Vae,
            split: "train".into(),
            recon: 101.25,
            kl: 0.1 + 0.2,
            total: 1e-300,
        },
        LossRow {
            step: 40.0,
            epoch: 1,
            model: "beta-vae".into(),
            kind: ModelKind::BetaVae,
            split: "test".into(),
            recon: 99.0,
            kl: 3.0,
            total: 105.0,
        },
    ];
    let text = write_loss_rows(&rows);
    assert!(
        text.starts_with(
            "step,epoch,model,kind,split,recon,kl,total\n12.5,0,vae,vae,train,101.25,"
        )
    );
    assert_eq!(parse_losses_csv(&text).unwrap(), rows);
    let bad = text.replace("40,1,beta-vae", "40,x,beta-vae");
    assert!(
        parse_losses_csv(&bad)
            .unwrap_err()
            .to_string()
            .contains("line 3: epoch 'x'")
    );
    assert!(
        parse_losses_csv("a,b\n")
            .unwrap_err()
            .to_string()
            .contains("line 1")
    );
}

#[test]
fn names_with_folders_are_not_file_names_of_a_run() {
    assert!(plain_name("vae.json"));
    for bad in ["", ".", "..", "a/b", "../x", "/etc/passwd", "a\\b"] {
        assert!(!plain_name(bad), "{bad}");
    }
}
