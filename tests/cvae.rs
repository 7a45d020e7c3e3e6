//! The conditional VAE (kind `cvae`) end to end on the built-in digits: after a short
//! training, decoding the same codes as each class gives images that a 5-NN classifier on
//! training pixels labels as that class; a checkpoint keeps the class count and decodes the
//! same; `encode` needs `--class`.

mod common;

use latentlab::data::{BatchOrder, Dataset};
use latentlab::model::{Autoencoder, ModelKind, Schedule, batch_tensor, checkpoint};
use latentlab::rng::PortableRng;
use latentlab::train::RunSpec;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// Draws per class, as in the check.
const DRAWS: usize = 100;
/// Training items the 5-NN classifier compares against.
const NEIGHBOURS_FROM: usize = 3000;

/// A cvae built as the command line builds it (`--models cvae --hidden 256,128`, latent 2),
/// trained for `epochs` passes over `ds` at batch 64.
fn trained_cvae(ds: &Dataset, epochs: usize) -> Autoencoder {
    let spec = RunSpec {
        models: vec![ModelKind::Cvae],
        hidden: vec![256, 128],
        ..RunSpec::default()
    };
    let config = spec.train_config(ds).unwrap().models.remove(0);
    assert_eq!(
        config.classes, 10,
        "the class count comes from the data set"
    );
    let mut rng = PortableRng::seed_from_u64(3);
    let model = Autoencoder::new(config, &mut rng).unwrap();
    let mut opt = model.optimizer(3e-3);
    let dim = ds.dim();
    let mut order = BatchOrder::new(ds.train.len(), 64, 5);
    let steps = epochs * ds.train.len() / 64;
    for step in 0..steps {
        let (idx, _) = order.next_batch();
        let labels: Vec<u32> = idx.iter().map(|&i| ds.train.labels[i]).collect();
        let x = batch_tensor(ds.train.gather(idx, dim), dim).unwrap();
        let x = model.input_of(&x, &labels).unwrap();
        let at = Schedule::new(1.0, step as u64);
        model
            .train_step(&mut opt, &x, &mut rng, at)
            .unwrap()
            .unwrap();
    }
    model
}

/// The majority label of the 5 training items nearest `item` in pixel space.
fn knn5(ds: &Dataset, item: &[f32]) -> u32 {
    let dim = ds.dim();
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(6);
    for i in 0..NEIGHBOURS_FROM.min(ds.train.len()) {
        let t = ds.train.item(i, dim);
        let d: f32 = t.iter().zip(item).map(|(a, b)| (a - b) * (a - b)).sum();
        if best.len() < 5 || d < best[4].0 {
            best.push((d, ds.train.labels[i]));
            best.sort_by(|a, b| a.0.total_cmp(&b.0));
            best.truncate(5);
        }
    }
    let mut votes = [0usize; 256];
    for &(_, l) in &best {
        votes[l as usize] += 1;
    }
    // Ties go to the nearest neighbour's label among the tied.
    let top = *votes.iter().max().unwrap();
    best.iter()
        .find(|(_, l)| votes[*l as usize] == top)
        .unwrap()
        .1
}

#[test]
fn decoding_one_code_as_each_class_draws_that_class() {
    let ds = common::digits(10_000, 500);
    let model = trained_cvae(&ds, 2);
    let decoder = model.decoder_snapshot().unwrap();
    let latent = model.config.latent_dim;
    let mut rng = PortableRng::seed_from_u64(11);
    // The same codes for every class: only the class differs.
    let codes: Vec<f32> = (0..DRAWS * latent)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let dim = ds.dim();
    let mut rates = Vec::new();
    for class in 0..10u32 {
        let images = decoder.decode_as(&codes, class).unwrap();
        let hits = images
            .chunks_exact(dim)
            .filter(|im| knn5(&ds, im) == class)
            .count();
        rates.push(hits as f64 / DRAWS as f64);
    }
    eprintln!("5-NN labels the draws of each class as that class: {rates:?}");
    // The same through the command line: `sample --class C` draws 100 codes from the prior
    // and decodes them as class C (u8 IDX images, read back with the IDX reader).
    let dir = tempfile::tempdir().unwrap();
    let ckpt = save(&model, &ds, dir.path());
    let mut cli_rates = Vec::new();
    for class in 0..10u32 {
        let out = dir.path().join(format!("class{class}.idx"));
        let o = common::latentlab(&[
            "sample",
            "--checkpoint",
            ckpt.to_str().unwrap(),
            "--n",
            &DRAWS.to_string(),
            "--class",
            &class.to_string(),
            "--seed",
            &class.to_string(),
            "--format",
            "idx",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let (n, h, w, pixels) = latentlab::data::read_idx_images(&out).unwrap();
        assert_eq!((n, h * w), (DRAWS, dim));
        let hits = pixels
            .chunks_exact(dim)
            .filter(|im| knn5(&ds, im) == class)
            .count();
        cli_rates.push(hits as f64 / DRAWS as f64);
    }
    eprintln!("5-NN on `sample --class C` draws: {cli_rates:?}");
    assert!(
        cli_rates.iter().all(|&r| r >= 0.8),
        "sample --class: {cli_rates:?}"
    );
    // The check: at least 80% of 100 draws per class labelled as that class.
    let at_80 = rates.iter().filter(|&&r| r >= 0.8).count();
    assert_eq!(
        at_80, 10,
        "only {at_80} of 10 classes had >= 80% of their draws labelled as the class: {rates:?}"
    );
}

/// Saves `model` as `dir/cvae.json` (+ weights) for the command line.
fn save(model: &Autoencoder, ds: &Dataset, dir: &std::path::Path) -> std::path::PathBuf {
    let meta = checkpoint::CheckpointMeta {
        format_version: checkpoint::FORMAT_VERSION,
        name: "cvae".into(),
        config: model.config.clone(),
        dataset: "digits".into(),
        item_shape: ds.shape,
        class_names: ds.class_names.clone(),
        epoch: 1,
        step: 10,
        lr: 3e-3,
        seed: 1,
        test_metrics: None,
    };
    checkpoint::save(model, &meta, &dir.join("cvae")).unwrap();
    dir.join("cvae.json")
}

#[test]
fn a_cvae_checkpoint_keeps_its_classes_and_decodes_the_same() {
    let ds = common::digits(640, 100);
    let model = trained_cvae(&ds, 1);
    let dir = tempfile::tempdir().unwrap();
    save(&model, &ds, dir.path());
    let text = std::fs::read_to_string(dir.path().join("cvae.json")).unwrap();
    assert!(text.contains("\"classes\": 10"), "{text}");
    let (back, back_meta) = checkpoint::load(&dir.path().join("cvae.json")).unwrap();
    assert_eq!(back_meta.config.classes, 10);
    let z = [0.3f32, -1.0, 2.0, 0.5];
    let (a, b) = (
        model.decoder_snapshot().unwrap(),
        back.decoder_snapshot().unwrap(),
    );
    for class in [0, 7] {
        assert_eq!(
            a.decode_as(&z, class).unwrap(),
            b.decode_as(&z, class).unwrap()
        );
    }
    assert_ne!(
        b.decode_as(&z, 0).unwrap(),
        b.decode_as(&z, 7).unwrap(),
        "the class reaches the loaded decoder"
    );

    // `encode` needs the image's class for a cvae, and takes it.
    let png = dir.path().join("item.png");
    let item = ds.test.item(0, ds.dim());
    let pixels: Vec<u8> = item.iter().map(|v| (v * 255.0).round() as u8).collect();
    image::GrayImage::from_raw(28, 28, pixels)
        .unwrap()
        .save(&png)
        .unwrap();
    let ckpt = dir.path().join("cvae.json");
    let (ckpt, png) = (ckpt.to_str().unwrap(), png.to_str().unwrap());
    let without = common::latentlab(&["encode", "--checkpoint", ckpt, "--image", png]);
    assert!(!without.status.success());
    assert!(
        common::stderr(&without).contains("needs the image's class: add --class C (0 to 9)"),
        "{}",
        common::stderr(&without)
    );
    let label = ds.test.labels[0].to_string();
    let with = common::latentlab(&[
        "encode",
        "--checkpoint",
        ckpt,
        "--image",
        png,
        "--class",
        &label,
    ]);
    assert!(with.status.success(), "{}", common::stderr(&with));
    let json: serde_json::Value = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(json["model"], "cvae");
    assert!(json["kl"].as_f64().unwrap() > 0.0);
}

#[test]
fn train_writes_cvae_test_rows_and_refuses_conv_and_sets_without_classes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.to_str().unwrap();
    let o = common::latentlab(&[
        "train",
        "--dataset",
        "moons",
        "--models",
        "vae,cvae",
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--batch-size",
        "200",
        "--grid",
        "4",
        "--out",
        out_s,
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let rows = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let test_row = rows
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["model"] == "cvae" && r["split"] == "test")
        .expect("a cvae test row");
    assert!(test_row["elbo"].as_f64().unwrap() < 0.0, "{test_row}");
    assert!(test_row["kl"].as_f64().unwrap() > 0.0, "{test_row}");
    assert!(test_row["active_units"].is_number(), "{test_row}");
    let meta = std::fs::read_to_string(out.join("cvae.json")).unwrap();
    assert!(
        meta.contains("\"classes\": 2"),
        "moons has two classes: {meta}"
    );

    // Refused before anything is written (a fresh folder: --out's own check comes first).
    let other = dir.path().join("other");
    let other = other.to_str().unwrap();
    let conv = common::latentlab(&[
        "train", "--models", "cvae", "--arch", "conv", "--out", other,
    ]);
    assert!(!conv.status.success());
    let e = common::stderr(&conv);
    assert!(
        e.contains("cvae cannot use --arch conv") && e.contains("one-hot"),
        "{e}"
    );

    // A CSV whose items are all of class 0.
    let csv = dir.path().join("one.csv");
    let row = |i: usize| {
        let pixels: Vec<String> = (0..784).map(|j| ((i * 7 + j) % 256).to_string()).collect();
        format!("0,{}\n", pixels.join(","))
    };
    std::fs::write(&csv, (0..20).map(row).collect::<String>()).unwrap();
    let spec = format!("csv:{}", csv.display());
    let one = common::latentlab(&[
        "train",
        "--dataset",
        &spec,
        "--models",
        "cvae",
        "--out",
        other,
    ]);
    assert!(!one.status.success());
    let e = common::stderr(&one);
    assert!(
        e.contains("cvae needs a data set with classes (at least 2; this one has 1)"),
        "{e}"
    );
}
