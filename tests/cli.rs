//! The command line as scripts use it: train writes metrics, checkpoints and figures;
//! eval reads them back; bad input exits non-zero with a one-line message.

use std::path::Path;

mod common;
use common::{latentlab, stderr};

fn assert_png(path: &Path, min_w: u32) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert!(
        img.width() >= min_w,
        "{} is only {} wide",
        path.display(),
        img.width()
    );
    // Not blank: more than a handful of distinct colours.
    let mut seen = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        seen.insert(p.0);
    }
    assert!(
        seen.len() > 20,
        "{} looks blank ({} colours)",
        path.display(),
        seen.len()
    );
}

/// A looping GIF of at least 10 frames, the last one held longer, the frames differing.
fn assert_latent_gif(path: &std::path::Path) {
    use image::AnimationDecoder;
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.windows(11).any(|w| w == b"NETSCAPE2.0"),
        "the GIF loops"
    );
    let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&bytes))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert!(frames.len() >= 10, "{} frames", frames.len());
    let ms = |f: &image::Frame| f.delay().numer_denom_ms().0 / f.delay().numer_denom_ms().1;
    let last = frames.last().unwrap();
    assert!(ms(last) > 4 * ms(&frames[0]), "a pause on the last frame");
    assert_ne!(frames[0].buffer(), last.buffer(), "the codes move");
}

#[test]
fn train_writes_metrics_checkpoints_and_figures_and_eval_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = latentlab(&[
        "train",
        "--dataset",
        "digits",
        "--models",
        "ae,vae,dae",
        "--hidden",
        "64",
        "--epochs",
        "2",
        "--batch-size",
        "256",
        "--out",
        out.to_str().unwrap(),
        "--grid",
        "8",
    ]);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3 * 2 * 2, "models x epochs x splits");
    for l in &lines {
        for key in [
            "model",
            "epoch",
            "split",
            "recon",
            "kl",
            "penalty",
            "loss",
            "elbo",
            "samples_per_sec",
            "step",
            "elapsed_secs",
        ] {
            assert!(l.get(key).is_some(), "missing {key} in {l}");
        }
        let vae = l["model"] == "vae";
        assert_eq!(l["elbo"].is_null(), !vae, "{l}");
        if l["split"] == "test" {
            // Active units for every model; digits have no factors, so no MIG.
            let active = l["active_units"].as_u64().unwrap_or_else(|| panic!("{l}"));
            assert!(active <= 2, "{l}");
            assert!(l["mig"].is_null(), "{l}");
        }
        assert!(
            l["loss"].as_f64().unwrap() > 50.0,
            "per-item nats summed over 784 pixels: {l}"
        );
    }
    let test_loss = |model: &str, epoch: u64| {
        lines
            .iter()
            .find(|l| l["model"] == model && l["epoch"] == epoch && l["split"] == "test")
            .unwrap()["loss"]
            .as_f64()
            .unwrap()
    };
    for m in ["ae", "vae", "dae"] {
        assert!(
            test_loss(m, 2) < test_loss(m, 1),
            "{m} test loss did not fall"
        );
        assert!(
            out.join(format!("{m}.json")).is_file()
                && out.join(format!("{m}.safetensors")).is_file()
        );
    }
    assert_png(&out.join("latent.png"), 1000);
    assert_png(&out.join("grid.png"), 300);
    assert_png(&out.join("recon.png"), 300);
    assert_png(&out.join("samples.png"), 300);
    assert_png(&out.join("losses.png"), 1000);
    assert_latent_gif(&out.join("latent.gif"));

    let o = latentlab(&[
        "eval",
        "--checkpoint",
        out.join("vae.json").to_str().unwrap(),
        "--iw-samples",
        "20",
    ]);
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    let printed = String::from_utf8_lossy(&o.stdout);
    let value = |key: &str| -> f64 {
        let line = printed
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no '{key}' in {printed}"));
        line.split_whitespace()
            .find_map(|w| w.parse().ok())
            .unwrap()
    };
    let (elbo, log_px) = (value("ELBO"), value("log p(x)"));
    assert!(
        log_px >= elbo - 1.0,
        "the importance-weighted bound is at least the ELBO: {log_px} vs {elbo}"
    );
    let last_vae_row = lines
        .iter()
        .find(|l| l["model"] == "vae" && l["epoch"] == 2 && l["split"] == "test")
        .unwrap();
    assert_eq!(
        value("active units") as u64,
        last_vae_row["active_units"].as_u64().unwrap(),
        "eval counts the same active units as the run's last test row"
    );
    let saved = test_loss("vae", 2);
    assert!(
        (value("total loss") - saved).abs() < 3.0,
        "eval agrees with the training run: {} vs {saved}",
        value("total loss")
    );
}

#[test]
fn two_d_points_train_with_a_gaussian_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("moons");
    let o = latentlab(&[
        "train",
        "--dataset",
        "moons",
        "--models",
        "ae,vae,sae,cae",
        "--hidden",
        "32,32",
        "--epochs",
        "3",
        "--eval-every-secs",
        "0.1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_png(&out.join("latent.png"), 1000);
    check_timed_rows(&out.join("metrics.jsonl"), 0.1);
    assert_png(&out.join("samples.png"), 1000);
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let cae: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["model"] == "cae")
        .collect();
    assert!(
        cae.iter().all(|l| l["penalty"].as_f64().unwrap() > 0.0),
        "the contractive penalty is reported"
    );
}

/// `--eval-every-secs`: one test row per model per interval of training time, each with
/// its step, seconds of training and 5-NN accuracy, in order.
fn check_timed_rows(metrics: &Path, every: f64) {
    let text = std::fs::read_to_string(metrics).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let trained = rows
        .iter()
        .filter(|r| r["samples_per_sec"].is_number())
        .map(|r| r["elapsed_secs"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let timed: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["model"] == "ae" && r["samples_per_sec"].is_null())
        .collect();
    assert_eq!(
        timed.len(),
        (trained / every).floor() as usize,
        "{trained} s of training: {timed:?}"
    );
    for (k, r) in timed.iter().enumerate() {
        assert_eq!(r["split"], "test");
        let at = r["elapsed_secs"].as_f64().unwrap();
        assert!(at >= every * (k + 1) as f64, "{r}");
        assert!(
            r["step"].as_u64().unwrap() > 0 && r["knn5_accuracy"].is_number(),
            "{r}"
        );
    }
}

#[test]
fn dataset_sheet_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("digits.png");
    let o = latentlab(&[
        "dataset",
        "digits",
        "--sheet",
        sheet.to_str().unwrap(),
        "--per-class",
        "8",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("60000 train, 10000 test"));
    assert_png(&sheet, 300);
}

#[test]
fn bad_input_exits_non_zero_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--models", "ae,gan", "--out", out],
            "unknown model 'gan'",
        ),
        (
            vec![
                "train",
                "--latent-dim",
                "100",
                "--dataset",
                "moons",
                "--out",
                out,
            ],
            "latent dimension 100 is out of range",
        ),
        (
            vec!["train", "--lr=-1", "--dataset", "moons", "--out", out],
            "learning rate -1 is out of range",
        ),
        (
            vec!["train", "--hidden", "512,abc", "--out", out],
            "'abc' is not a whole number",
        ),
        (
            vec!["train", "--dataset", "idx:/no/such/folder", "--out", out],
            "/no/such/folder",
        ),
        (
            vec!["train", "--dataset", "emnist", "--out", out],
            "unknown data set 'emnist'",
        ),
        (
            vec!["eval", "--checkpoint", "/no/such/model.json"],
            "/no/such/model.json",
        ),
    ];
    for (args, expected) in cases {
        let o = latentlab(&args);
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(
            err.contains(expected),
            "{args:?}: expected '{expected}' in: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one line please: {err}"
        );
    }
    // A corrupt checkpoint.
    let json = dir.path().join("m.json");
    std::fs::write(&json, "{\"format_version\": 1}").unwrap();
    let o = latentlab(&["eval", "--checkpoint", json.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a valid checkpoint"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_run_that_diverges_keeps_the_last_good_weights_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("div");
    // A learning rate of 10 on wide layers sends the VAE's log-variance to infinity within a
    // few steps (steps 2 to 4 for seeds 1 to 5; narrow layers only sometimes diverge).
    let o = latentlab(&[
        "train",
        "--dataset",
        "moons",
        "--models",
        "vae",
        "--lr",
        "10",
        "--hidden",
        "256,256",
        "--epochs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success(),
        "a diverged run must not look like a success"
    );
    let err = stderr(&o);
    assert!(
        err.contains("diverged with a NaN or infinite loss: vae (step"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // The last good weights were saved and evaluate to finite numbers.
    let o = latentlab(&[
        "eval",
        "--checkpoint",
        out.join("vae.json").to_str().unwrap(),
        "--iw-samples",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(
        !printed.contains("NaN") && !printed.contains("inf"),
        "{printed}"
    );
    assert_png(&out.join("latent.png"), 400);
}
