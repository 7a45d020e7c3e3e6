//! The VQ-VAE (kind `vq-vae`) end to end on the built-in digits: trained beside a VAE from
//! the command line its reconstruction falls and its test items spread over several codebook
//! entries; the codebook survives a checkpoint (in process, and as `eval` reads the saved
//! file); `encode` names the entry and `sample` says it draws entries; a codebook of 0 is
//! refused with its message.

mod common;

use latentlab::data::{BatchOrder, Dataset};
use latentlab::model::{Arch, Autoencoder, ModelKind, Schedule, batch_tensor, checkpoint};
use latentlab::rng::PortableRng;
use latentlab::train::RunSpec;
use rand::SeedableRng;

/// An untrained Bernoulli decoder puts every pixel near ½: 784·ln 2 ≈ 543 nats per item.
const UNTRAINED_RECON: f64 = 784.0 * std::f64::consts::LN_2;

fn rows_of(path: &std::path::Path, model: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["model"] == model && r["split"] == "test")
        .collect()
}

#[test]
fn trained_beside_a_vae_its_recon_falls_and_its_codes_spread() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.to_str().unwrap();
    let o = common::latentlab(&[
        "train",
        "--models",
        "vae,vq-vae",
        "--epochs",
        "2",
        "--grid",
        "4",
        "--out",
        out_s,
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let rows = rows_of(&out.join("metrics.jsonl"), "vq-vae");
    assert_eq!(rows.len(), 2, "one test row per epoch");
    let recon: Vec<f64> = rows.iter().map(|r| r["recon"].as_f64().unwrap()).collect();
    assert!(
        recon[0] < 0.5 * UNTRAINED_RECON && recon[1] < recon[0],
        "recon by epoch {recon:?} (untrained ≈ {UNTRAINED_RECON:.0})"
    );
    let last = &rows[1];
    let in_use = last["codes_in_use"].as_u64().unwrap();
    let perplexity = last["codebook_perplexity"].as_f64().unwrap();
    assert!((2..=64).contains(&in_use), "{last}");
    assert!(perplexity > 1.0 && perplexity <= 64.0, "{last}");
    assert!(
        perplexity <= in_use as f64 + 1e-9,
        "exp(H) ≤ entries used: {last}"
    );
    assert!(last["penalty"].as_f64().unwrap() > 0.0, "{last}");
    assert_eq!(last["kl"].as_f64(), Some(0.0), "{last}");
    assert!(last["elbo"].is_null(), "no bound without a prior: {last}");
    // Other kinds have the fields, null.
    let vae = rows_of(&out.join("metrics.jsonl"), "vae");
    assert!(vae[1]["codes_in_use"].is_null() && vae[1]["codebook_perplexity"].is_null());

    // The saved checkpoint holds the trained codebook: `eval` on the file counts the same
    // entries in use as the run did in memory, and the same perplexity.
    let ckpt = out.join("vq-vae.json");
    let ckpt = ckpt.to_str().unwrap();
    let e = common::latentlab(&["eval", "--checkpoint", ckpt]);
    assert!(e.status.success(), "{}", common::stderr(&e));
    let text = String::from_utf8_lossy(&e.stdout);
    assert!(
        text.contains(&format!("codebook         {in_use} of 64 entries in use")),
        "{text}"
    );
    assert!(
        text.contains(&format!("perplexity       {perplexity:.2} ")),
        "{text}"
    );
    assert!(text.contains("KL               none"), "{text}");

    // `sample` says what it draws; `encode` names the entry.
    let sheet = dir.path().join("s.png");
    let s = common::latentlab(&[
        "sample",
        "--checkpoint",
        ckpt,
        "--n",
        "9",
        "--out",
        sheet.to_str().unwrap(),
    ]);
    assert!(s.status.success(), "{}", common::stderr(&s));
    let said = String::from_utf8_lossy(&s.stdout);
    assert!(
        said.contains("uniformly drawn entries of its 64-entry codebook"),
        "{said}"
    );
    let png = dir.path().join("item.png");
    let ds = common::digits(10, 10);
    let pixels: Vec<u8> = ds
        .test
        .item(0, ds.dim())
        .iter()
        .map(|v| (v * 255.0).round() as u8)
        .collect();
    image::GrayImage::from_raw(28, 28, pixels)
        .unwrap()
        .save(&png)
        .unwrap();
    let enc = common::latentlab(&[
        "encode",
        "--checkpoint",
        ckpt,
        "--image",
        png.to_str().unwrap(),
    ]);
    assert!(enc.status.success(), "{}", common::stderr(&enc));
    let json: serde_json::Value = serde_json::from_slice(&enc.stdout).unwrap();
    assert!(json["code"].as_u64().unwrap() < 64, "{json}");
    assert!(json["code_distance"].as_f64().unwrap() >= 0.0, "{json}");
    assert!(json["kl"].is_null(), "{json}");
}

/// A vq-vae built as the command line builds it, trained `steps` steps at batch 64.
fn trained(ds: &Dataset, arch: Arch, steps: usize) -> Autoencoder {
    let spec = RunSpec {
        models: vec![ModelKind::VqVae],
        hidden: vec![64],
        arch,
        ..RunSpec::default()
    };
    let config = spec.train_config(ds).unwrap().models.remove(0);
    let mut rng = PortableRng::seed_from_u64(3);
    let model = Autoencoder::new(config, &mut rng).unwrap();
    let mut opt = model.optimizer(3e-3);
    let dim = ds.dim();
    let mut order = BatchOrder::new(ds.train.len(), 64, 5);
    for step in 0..steps {
        let (idx, _) = order.next_batch();
        let x = batch_tensor(ds.train.gather(idx, dim), dim).unwrap();
        let at = Schedule::new(1.0, step as u64);
        model
            .train_step(&mut opt, &x, &mut rng, at)
            .unwrap()
            .expect("finite losses");
    }
    model
}

#[test]
fn a_checkpoint_round_trips_the_codebook_for_mlp_and_conv() {
    let ds = common::digits(640, 100);
    for arch in [Arch::Mlp, Arch::Conv] {
        let model = trained(&ds, arch, 30);
        let dir = tempfile::tempdir().unwrap();
        let meta = checkpoint::CheckpointMeta {
            format_version: checkpoint::FORMAT_VERSION,
            name: "vq-vae".into(),
            config: model.config.clone(),
            dataset: "digits".into(),
            item_shape: ds.shape,
            class_names: ds.class_names.clone(),
            epoch: 1,
            step: 30,
            lr: 3e-3,
            seed: 1,
            test_metrics: None,
        };
        checkpoint::save(&model, &meta, &dir.path().join("vq")).unwrap();
        let (back, _) = checkpoint::load(&dir.path().join("vq.json")).unwrap();
        let (a, b) = (
            model.decoder_snapshot().unwrap(),
            back.decoder_snapshot().unwrap(),
        );
        let book = a
            .codebook
            .clone()
            .expect("a vq-vae's snapshot has its codebook");
        assert_eq!(book.len(), 64, "{arch}");
        assert_eq!(b.codebook, a.codebook, "{arch}");
        assert_eq!(
            back.encoder_snapshot().unwrap().codebook,
            a.codebook,
            "{arch}"
        );
        // The codebook trained away from its start (uniform in ±1) and every entry decodes
        // the same after loading.
        let fresh = Autoencoder::new(model.config.clone(), &mut PortableRng::seed_from_u64(3))
            .unwrap()
            .decoder_snapshot()
            .unwrap();
        assert_ne!(fresh.codebook, a.codebook, "{arch}");
        assert_eq!(
            a.decode(&book.entries).unwrap(),
            b.decode(&book.entries).unwrap(),
            "{arch}"
        );
    }
}

#[test]
fn a_codebook_of_zero_or_a_fraction_is_refused_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();
    for (value, message) in [
        ("0", "codebook 0 is out of range (2 to 4096)"),
        ("2.5", "codebook 2.5 is not a whole number"),
    ] {
        let o = common::latentlab(&[
            "train",
            "--models",
            "vq-vae",
            "--codebook",
            value,
            "--out",
            out,
        ]);
        assert!(!o.status.success(), "--codebook {value}");
        let e = common::stderr(&o);
        assert!(e.contains(message), "--codebook {value}: {e}");
    }
    assert!(!dir.path().join("run").exists(), "nothing written");
}
