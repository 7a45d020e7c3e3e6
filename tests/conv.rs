//! `--arch conv` end to end: a conv VAE learns the built-in digits, a conv checkpoint saves
//! and loads, the command line refuses what conv cannot take, and files written before
//! architectures existed load as mlp.

mod common;

use common::{digits, latentlab, stderr};
use latentlab::model::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use latentlab::model::{Arch, Autoencoder, ModelKind, batch_tensor, evaluate};
use latentlab::rng::PortableRng;
use latentlab::train::RunSpec;
use rand::SeedableRng;
use std::path::Path;

fn conv_spec(kinds: &[ModelKind]) -> RunSpec {
    RunSpec {
        models: kinds.to_vec(),
        arch: Arch::Conv,
        latent_dim: 4,
        lr: 1e-3,
        ..RunSpec::default()
    }
}

#[test]
fn a_conv_vae_learns_the_digits() {
    let ds = digits(1024, 256);
    let config = conv_spec(&[ModelKind::Vae]).train_config(&ds).unwrap();
    let cfg = config.models[0].clone();
    assert_eq!(
        (cfg.arch, cfg.hidden.as_slice()),
        (Arch::Conv, &[256, 256][..])
    );
    let model = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(1)).unwrap();
    let test_loss = |model: &Autoencoder| {
        evaluate(model, &ds.test, 784, &mut PortableRng::seed_from_u64(2), 0)
            .unwrap()
            .loss
    };
    let before = test_loss(&model);
    let mut opt = model.optimizer(1e-3);
    let mut rng = PortableRng::seed_from_u64(3);
    for step in 0..160 {
        let idx: Vec<usize> = (0..64).map(|i| (step * 64 + i) % 1024).collect();
        let x = batch_tensor(ds.train.gather(&idx, 784), 784).unwrap();
        model
            .train_step(&mut opt, &x, &mut rng, latentlab::model::Schedule::START)
            .unwrap()
            .unwrap();
    }
    let after = test_loss(&model);
    // At the start the decoder says ½ for every pixel: 784·ln 2 ≈ 543 nats.
    assert!(before > 500.0, "{before}");
    assert!(after < 0.6 * before, "test loss {before} → {after}");

    // Saved and loaded, it decodes the same.
    let dir = tempfile::tempdir().unwrap();
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        name: "vae".into(),
        config: model.config.clone(),
        dataset: "digits".into(),
        item_shape: ds.shape,
        class_names: ds.class_names.clone(),
        epoch: 0,
        step: 160,
        lr: 1e-3,
        seed: 1,
        test_metrics: None,
    };
    checkpoint::save(&model, &meta, &dir.path().join("vae")).unwrap();
    let (loaded, loaded_meta) = checkpoint::load(&dir.path().join("vae.json")).unwrap();
    assert_eq!(loaded_meta.config.arch, Arch::Conv);
    let z = [0.3f32, -1.0, 0.5, 2.0];
    let a = model.decoder_snapshot().unwrap().decode(&z).unwrap();
    let b = loaded.decoder_snapshot().unwrap().decode(&z).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 784);
}

#[test]
fn files_written_before_architectures_load_as_mlp() {
    // Written by `latentlab train --dataset moons --models vae --hidden 4 --epochs 1` at
    // d896ef6, before `arch` existed.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/before-arch");
    let (model, meta) = checkpoint::load(&dir.join("vae.json")).unwrap();
    assert_eq!(meta.config.arch, Arch::Mlp);
    assert_eq!(meta.config.image, None);
    assert_eq!(
        model
            .decoder_snapshot()
            .unwrap()
            .decode(&[0.0, 0.0])
            .unwrap()
            .len(),
        2
    );
    let spec: RunSpec =
        serde_json::from_str(&std::fs::read_to_string(dir.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec.arch, Arch::Mlp);
    assert_eq!(spec.hidden, vec![4]);
}

#[test]
fn the_command_line_refuses_what_conv_cannot_take() {
    let out = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["train", "--epochs", "1", "--out"];
        let path = out.path().join("run");
        all.push(path.to_str().unwrap());
        all.extend_from_slice(args);
        latentlab(&all)
    };
    let points = run(&["--dataset", "moons", "--arch", "conv"]);
    assert!(!points.status.success());
    assert!(
        stderr(&points).contains("needs image items"),
        "{}",
        stderr(&points)
    );
    let cae = run(&["--models", "cae", "--arch", "conv"]);
    assert!(!cae.status.success());
    assert!(
        stderr(&cae).contains("contractive penalty"),
        "{}",
        stderr(&cae)
    );
    let typo = run(&["--arch", "cnn"]);
    assert!(!typo.status.success());
    assert!(
        stderr(&typo).contains("--arch: unknown architecture 'cnn'"),
        "{}",
        stderr(&typo)
    );
}

/// A saved timeline keeps a conv model's layers: its frames decode and encode colour items
/// of the model's own shape (weights within f16's precision).
#[test]
fn a_timeline_of_a_conv_model_decodes_after_saving() {
    use latentlab::model::{ImageDims, Likelihood, ModelConfig};
    use latentlab::train::{ModelSnapshot, Snapshot, Timeline};
    use std::sync::Arc;
    let mut cfg = ModelConfig::new(ModelKind::Vae, 3 * 32 * 32, Likelihood::Bernoulli);
    cfg.arch = Arch::Conv;
    cfg.image = Some(ImageDims {
        channels: 3,
        height: 32,
        width: 32,
    });
    cfg.hidden = vec![16];
    cfg.latent_dim = 2;
    let model = Autoencoder::new(cfg.clone(), &mut PortableRng::seed_from_u64(1)).unwrap();
    let decoder = model.decoder_snapshot().unwrap();
    let snapshot = Snapshot {
        step: 1,
        epoch: 0,
        display_indices: vec![0],
        display_labels: vec![0],
        recon_indices: vec![],
        recon_inputs: vec![],
        models: vec![ModelSnapshot {
            name: "vae".into(),
            kind: ModelKind::Vae,
            latent_dim: 2,
            decoder: Arc::new(model.decoder_snapshot().unwrap()),
            encoder: Arc::new(model.encoder_snapshot().unwrap()),
            config: cfg,
            codes: vec![0.1, 0.2],
            sigmas: Some(vec![1.0, 1.0]),
            recon: vec![],
            noisy_inputs: None,
            recon_losses: vec![],
            diverged: false,
        }],
    };
    let mut timeline = Timeline::default();
    timeline.push(&snapshot);
    let back = Timeline::from_bytes(&timeline.to_bytes().unwrap()).unwrap();
    let shown = back.frames()[0].unpack();
    let z = [0.5f32, -1.5];
    let want = decoder.decode(&z).unwrap();
    let got = shown.models[0].decoder.decode(&z).unwrap();
    assert_eq!(got.len(), 3 * 32 * 32);
    let worst = want
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-2, "{worst}");
    assert_eq!(shown.models[0].encoder.input_dim(), 3 * 32 * 32);
    let (mu, _) = shown.models[0].encoder.encode(&vec![0.5; 3 * 32 * 32]);
    assert_eq!(mu.len(), 2);
}
