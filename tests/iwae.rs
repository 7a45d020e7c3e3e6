//! The importance-weighted autoencoder (kind `iwae`) end to end: trained beside a VAE on the
//! built-in digits its test rows keep the importance-weighted log p(x), its loss is −L_k
//! (below the one-sample ELBO's recon + KL, above −log p(x)), a new k reaches the running
//! model at once, a checkpoint keeps k, and the command line refuses a bad k with its message.

mod common;

use common::{config, digits};
use latentlab::model::{KnobValue, ModelKind};
use latentlab::train::{EpochSummary, ModelEpoch, TrainCommand, TrainEvent, Trainer};
use std::time::Duration;

fn iwae_of(s: &EpochSummary) -> &ModelEpoch {
    s.models.iter().find(|m| m.kind == ModelKind::Iwae).unwrap()
}

/// What the k samples gain on a split's numbers: −ELBO − (−L_k), in nats per item.
fn gain(m: &latentlab::model::Metrics) -> f64 {
    m.recon + m.kl - m.loss
}

#[test]
fn vae_and_iwae_on_digits_report_log_px_and_the_iwae_takes_a_new_k_at_once() {
    let ds = digits(3_000, 300);
    let mut cfg = config(&ds, &[ModelKind::Vae, ModelKind::Iwae], 3, &[128, 64]);
    cfg.iw_samples = 200;
    let trainer = Trainer::spawn(cfg, ds, None).unwrap();
    assert!(trainer.send(TrainCommand::Start));
    let mut summaries: Vec<EpochSummary> = Vec::new();
    loop {
        match trainer
            .events()
            .recv_timeout(Duration::from_secs(300))
            .expect("worker went silent")
        {
            TrainEvent::EpochSummary(s) => {
                if s.epoch == 1 {
                    // Live: the running iwae trains on the one-sample bound from now on.
                    assert!(trainer.send(TrainCommand::SetKnob {
                        key: "k".into(),
                        value: KnobValue::Number(1.0),
                    }));
                }
                summaries.push(s);
            }
            TrainEvent::Finished { .. } => break,
            TrainEvent::Error(e) => panic!("worker error: {e}"),
            _ => {}
        }
    }
    assert_eq!(summaries.len(), 3);
    for s in &summaries {
        for m in &s.models {
            let log_px = m
                .test
                .log_px
                .unwrap_or_else(|| panic!("{}: no log_px", m.name));
            assert!(log_px.is_finite() && log_px < 0.0, "{}: {log_px}", m.name);
            assert_eq!(m.test.iw_samples, Some(200));
            let elbo = m.test.elbo.unwrap();
            // Independent of the reported loss: log p(x) by 200 samples is at least the ELBO.
            assert!(
                log_px > elbo,
                "{}: log p(x) {log_px} vs ELBO {elbo}",
                m.name
            );
        }
    }
    let first = iwae_of(&summaries[0]);
    // k = 5 (the default) in epoch 1: the loss is −L_5, a few nats below recon + KL, on the
    // training batches and on the test set; and still no better than −log p(x) by 200
    // samples (L_5 ≤ L_200 on average).
    assert!(
        gain(&first.train) > 1.0,
        "train gain {}",
        gain(&first.train)
    );
    assert!(gain(&first.test) > 1.0, "test gain {}", gain(&first.test));
    let log_px = first.test.log_px.unwrap();
    assert!(
        -first.test.loss < log_px + 0.2,
        "L_5 {} vs log p(x) {log_px}",
        -first.test.loss
    );
    // k = 1 from epoch 2 on: −L_1 is the ELBO with a sampled KL, so over epoch 3's batches the
    // loss and recon + KL agree (no gain left).
    let last = iwae_of(&summaries[2]);
    assert!(
        gain(&last.train).abs() < 0.5,
        "train gain at k = 1: {} (epoch 1 at k = 5: {})",
        gain(&last.train),
        gain(&first.train)
    );
    // The VAE's loss is its recon + KL.
    let vae = summaries[2]
        .models
        .iter()
        .find(|m| m.kind == ModelKind::Vae)
        .unwrap();
    assert!(gain(&vae.test).abs() < 1e-9, "{}", gain(&vae.test));
}

#[test]
fn train_keeps_k_in_the_checkpoint_and_refuses_a_bad_k() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.to_str().unwrap();
    let args = |k: &str| -> Vec<String> {
        [
            "train",
            "--dataset",
            "moons",
            "--models",
            "vae,iwae",
            "--k",
            k,
            "--hidden",
            "16",
            "--epochs",
            "1",
            "--batch-size",
            "200",
            "--iw-samples",
            "50",
            "--grid",
            "4",
            "--out",
            out_s,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |k: &str| {
        let a = args(k);
        common::latentlab(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let o = run("7");
    assert!(o.status.success(), "{}", common::stderr(&o));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("iwae.json")).unwrap()).unwrap();
    assert_eq!(meta["config"]["k"], 7.0, "{meta}");
    let rows = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let test_row = rows
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["model"] == "iwae" && r["split"] == "test")
        .expect("an iwae test row");
    assert!(
        test_row["log_px"].as_f64().unwrap().is_finite(),
        "{test_row}"
    );
    let ckpt = out.join("iwae.json");
    let e = common::latentlab(&[
        "eval",
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--iw-samples",
        "20",
    ]);
    assert!(e.status.success(), "{}", common::stderr(&e));

    for (k, message) in [
        ("0", "k 0 is out of range (1 to 100)"),
        ("1000", "k 1000 is out of range (1 to 100)"),
        ("2.5", "k 2.5 is not a whole number"),
        ("abc", "invalid value 'abc' for '--k <X>'"),
    ] {
        let fresh = dir.path().join(format!("bad-{k}"));
        let mut a = args(k);
        *a.last_mut().unwrap() = fresh.to_str().unwrap().to_string();
        let o = common::latentlab(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(!o.status.success(), "k {k} was accepted");
        let err = common::stderr(&o);
        assert!(err.contains(message), "k {k}: {err}");
        assert!(!fresh.exists(), "k {k}: nothing is written");
    }
}
