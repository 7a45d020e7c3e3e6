//! `latentlab encode` as a script uses it: one JSON object on stdout for an image of any
//! size or colour, clear errors naming the file otherwise; and the encoder every snapshot
//! carries gives the codes the snapshot shows.

mod common;
use common::{latentlab, stderr};

use latentlab::data::{self, ItemShape, Sizes};
use latentlab::model::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use latentlab::model::{Autoencoder, KnobValue, Likelihood, ModelConfig, ModelKind, batch_tensor};
use latentlab::rng::PortableRng;
use latentlab::train::{TrainCommand, TrainEvent, Trainer};
use rand::SeedableRng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A model of `kind` trained for a few dozen steps on a small digits set, saved as
/// `dir/<kind>.json`; returns that path and the model.
fn trained(kind: ModelKind, dir: &Path, beta: Option<f32>) -> (PathBuf, Autoencoder) {
    let ds = data::load_with_sizes(
        "digits",
        1,
        Some(Sizes {
            train: 640,
            test: 10,
        }),
    )
    .unwrap();
    let mut config = ModelConfig::new(kind, ds.dim(), Likelihood::Bernoulli);
    config.hidden = vec![32];
    config.latent_dim = 3;
    if let Some(b) = beta {
        config.set_knob("beta", KnobValue::Number(b)).unwrap();
    }
    let mut rng = PortableRng::seed_from_u64(1);
    let model = Autoencoder::new(config.clone(), &mut rng).unwrap();
    let mut opt = model.optimizer(3e-3);
    for step in 0..40 {
        let start = (step % 10) * 64 * ds.dim();
        let x = batch_tensor(ds.train.x[start..start + 64 * ds.dim()].to_vec(), ds.dim()).unwrap();
        model
            .train_step(&mut opt, &x, &mut rng, latentlab::model::Schedule::START)
            .unwrap()
            .expect("finite losses");
    }
    let path = dir.join(format!("{kind}.json"));
    checkpoint::save(&model, &meta(config, ds.shape), &path).unwrap();
    (path, model)
}

fn meta(config: ModelConfig, item_shape: ItemShape) -> CheckpointMeta {
    CheckpointMeta {
        format_version: FORMAT_VERSION,
        name: config.kind.name().into(),
        config,
        dataset: "digits".into(),
        item_shape,
        class_names: (0..10).map(|i| i.to_string()).collect(),
        epoch: 1,
        step: 40,
        lr: 3e-3,
        seed: 1,
        test_metrics: None,
    }
}

/// A gray `side`×`side` PNG: a bright vertical bar on black, like a drawn "1".
fn gray_png(dir: &Path, name: &str, side: u32) -> PathBuf {
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let on = (x * 5 / side == 2) && (y * 8 / side) >= 1 && (y * 8 / side) <= 6;
        image::Luma([if on { 255 } else { 0 }])
    });
    let path = dir.join(name);
    img.save(&path).unwrap();
    path
}

/// An RGB `side`×`side` PNG: a coloured ring on a dark blue ground.
fn rgb_png(dir: &Path, name: &str, side: u32) -> PathBuf {
    let c = side as f32 / 2.0;
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        let r = ((x as f32 + 0.5 - c).powi(2) + (y as f32 + 0.5 - c).powi(2)).sqrt();
        if (r - c * 0.6).abs() < c * 0.2 {
            image::Rgb([250, 200, 40])
        } else {
            image::Rgb([10, 20, 90])
        }
    });
    let path = dir.join(name);
    img.save(&path).unwrap();
    path
}

/// Runs `encode` and parses its stdout, which must be exactly one JSON object.
fn encode(checkpoint: &Path, image: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "encode",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = latentlab(&args);
    assert!(o.status.success(), "encode failed: {}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut values = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let v = values.next().expect("a JSON value").expect("valid JSON");
    assert!(
        values.next().is_none(),
        "stdout holds one JSON value: {text}"
    );
    assert!(v.is_object(), "{text}");
    v
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// μ and the reconstruction NLL of decoding z = μ, from the candle model itself.
fn candle_mu_and_recon(model: &Autoencoder, image: &Path) -> (Vec<f32>, f64) {
    let x = batch_tensor(data::load_image_item(image).unwrap(), 784).unwrap();
    let (mu, _) = model.encode(&x).unwrap();
    let recon = model
        .recon_nll(&model.decode_raw(&mu).unwrap(), &x)
        .unwrap();
    let recon = f64::from(recon.to_vec1::<f32>().unwrap()[0]);
    (mu.flatten_all().unwrap().to_vec1().unwrap(), recon)
}

fn assert_near(a: f64, b: f64, tol: f64, what: &str) {
    assert!(
        (a - b).abs() <= tol * b.abs().max(1.0),
        "{what}: {a} vs {b}"
    );
}

#[test]
fn a_vae_prints_mu_sigma_kl_per_dimension_recon_and_elbo() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, model) = trained(ModelKind::Vae, dir.path(), None);
    let image = gray_png(dir.path(), "one.png", 40);
    let out = dir.path().join("recon.png");
    let v = encode(&ckpt, &image, &["--out", out.to_str().unwrap()]);
    assert_eq!(v["model"], "vae");
    let (mu, sigma, per_dim) = (
        floats(&v["mu"]),
        floats(&v["sigma"]),
        floats(&v["kl_per_dim"]),
    );
    assert_eq!((mu.len(), sigma.len(), per_dim.len()), (3, 3, 3));
    // KL(N(μ, σ²) ‖ N(0, 1)) = −ln σ + (σ² + μ²)/2 − ½ per dimension.
    for ((m, s), k) in mu.iter().zip(&sigma).zip(&per_dim) {
        assert!(*s > 0.0);
        assert_near(
            *k,
            -s.ln() + (s * s + m * m) / 2.0 - 0.5,
            1e-5,
            "KL of one dimension",
        );
    }
    let (kl, recon) = (v["kl"].as_f64().unwrap(), v["recon"].as_f64().unwrap());
    assert_near(kl, per_dim.iter().sum(), 1e-9, "kl = Σ kl_per_dim");
    assert_near(v["elbo"].as_f64().unwrap(), -(recon + kl), 1e-9, "elbo");
    assert!(v["weighted_kl"].is_null() && v["penalty"].is_null(), "{v}");
    // The same image through the candle model: μ, and recon decoding z = μ.
    let (want_mu, want_recon) = candle_mu_and_recon(&model, &image);
    for (m, w) in mu.iter().zip(&want_mu) {
        assert_near(*m, f64::from(*w), 1e-5, "μ");
    }
    assert_near(recon, want_recon, 1e-4, "recon decodes z = μ");
    let png = image::open(&out).unwrap().to_luma8();
    assert_eq!(png.dimensions(), (112, 112));
}

#[test]
fn a_beta_vae_also_prints_beta_times_kl() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _) = trained(ModelKind::BetaVae, dir.path(), Some(2.5));
    let v = encode(&ckpt, &gray_png(dir.path(), "one.png", 28), &[]);
    assert_eq!(v["model"], "beta-vae");
    let kl = v["kl"].as_f64().unwrap();
    assert!(kl > 0.0);
    assert_near(v["weighted_kl"].as_f64().unwrap(), 2.5 * kl, 1e-6, "β·KL");
    let recon = v["recon"].as_f64().unwrap();
    assert_near(
        v["elbo"].as_f64().unwrap(),
        -(recon + kl),
        1e-9,
        "elbo uses the plain KL",
    );
}

#[test]
fn an_ae_has_no_posterior_and_small_or_colour_images_are_converted() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, model) = trained(ModelKind::Ae, dir.path(), None);
    for image in [
        gray_png(dir.path(), "tiny.png", 10),
        rgb_png(dir.path(), "ring.png", 50),
    ] {
        let v = encode(&ckpt, &image, &[]);
        assert_eq!(v["model"], "ae");
        for key in [
            "sigma",
            "kl",
            "kl_per_dim",
            "elbo",
            "weighted_kl",
            "penalty",
        ] {
            assert!(v[key].is_null(), "{key} should be null for an AE: {v}");
        }
        let (want_mu, want_recon) = candle_mu_and_recon(&model, &image);
        for (m, w) in floats(&v["mu"]).iter().zip(&want_mu) {
            assert_near(*m, f64::from(*w), 1e-5, "μ");
        }
        assert_near(v["recon"].as_f64().unwrap(), want_recon, 1e-4, "recon");
    }
    // A flat light-gray colour image of 12×9 is the item with every value 200/255.
    let flat = dir.path().join("flat.png");
    image::RgbImage::from_pixel(12, 9, image::Rgb([200, 200, 200]))
        .save(&flat)
        .unwrap();
    let v = encode(&ckpt, &flat, &[]);
    let x = batch_tensor(vec![200.0 / 255.0; 784], 784).unwrap();
    let want: Vec<f32> = model
        .encode(&x)
        .unwrap()
        .0
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    for (m, w) in floats(&v["mu"]).iter().zip(&want) {
        assert_near(*m, f64::from(*w), 1e-5, "μ of a flat gray image");
    }
}

#[test]
fn bad_images_and_checkpoints_exit_non_zero_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _) = trained(ModelKind::Vae, dir.path(), None);
    let ckpt = ckpt.to_str().unwrap();
    let missing = dir.path().join("no_such_digit.png");
    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not an image at all").unwrap();
    for (image, needle) in [
        (&missing, "no_such_digit.png"),
        (&text, "notes.png: not a readable image"),
    ] {
        let o = latentlab(&[
            "encode",
            "--checkpoint",
            ckpt,
            "--image",
            image.to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        assert!(o.stdout.is_empty(), "nothing on stdout after an error");
        assert!(stderr(&o).contains(needle), "{needle}: {}", stderr(&o));
    }
    // A model of 2-D points cannot encode an image.
    let config = ModelConfig::new(ModelKind::Vae, 2, Likelihood::Gaussian);
    let points = Autoencoder::new(config.clone(), &mut PortableRng::seed_from_u64(1)).unwrap();
    let points_ckpt = dir.path().join("points.json");
    checkpoint::save(
        &points,
        &meta(config, ItemShape::Points { dim: 2 }),
        &points_ckpt,
    )
    .unwrap();
    let image = gray_png(dir.path(), "one.png", 28);
    let o = latentlab(&[
        "encode",
        "--checkpoint",
        points_ckpt.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("points.json") && err.contains("2-D points") && err.contains("28×28 gray"),
        "{err}"
    );
    let o = latentlab(&[
        "encode",
        "--checkpoint",
        "nowhere/vae.json",
        "--image",
        image.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success() && stderr(&o).contains("nowhere/vae.json"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_encoder_in_a_snapshot_gives_the_codes_the_snapshot_shows() {
    let ds = common::digits(500, 100);
    let mut cfg = common::config(&ds, &[ModelKind::Ae, ModelKind::Vae], 1, &[32]);
    cfg.display_count = 50;
    let trainer = Trainer::spawn(cfg, ds.clone(), None).unwrap();
    trainer.send(TrainCommand::Start);
    let snap = loop {
        match trainer
            .events()
            .recv_timeout(Duration::from_secs(60))
            .expect("events")
        {
            TrainEvent::Snapshot(s) if s.step > 0 => break s,
            _ => {}
        }
    };
    let items = ds.test.gather(&snap.display_indices, ds.dim());
    for m in &snap.models {
        let (mu, sigma) = m.encoder.encode(&items);
        assert_eq!(mu.len(), m.codes.len(), "{}", m.name);
        for (a, b) in mu.iter().zip(&m.codes) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{}: {a} vs {b}",
                m.name
            );
        }
        assert_eq!(sigma.is_some(), m.sigmas.is_some(), "{}", m.name);
        for (a, b) in sigma
            .unwrap_or_default()
            .iter()
            .zip(m.sigmas.as_deref().unwrap_or_default())
        {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{}: σ {a} vs {b}",
                m.name
            );
        }
    }
}

/// A model of 16×16 colour images: encode reads a colour file at that size, in colour, and
/// gives the μ the candle model gives for the same three planes, and a colour PNG.
#[test]
fn a_colour_model_encodes_a_colour_image_in_colour() {
    let dir = tempfile::tempdir().unwrap();
    let shape = ItemShape::image(3, 16, 16);
    let mut config = ModelConfig::new(ModelKind::Vae, shape.dim(), Likelihood::Bernoulli);
    config.hidden = vec![16];
    config.latent_dim = 2;
    let model = Autoencoder::new(config.clone(), &mut PortableRng::seed_from_u64(3)).unwrap();
    let ckpt = dir.path().join("colour.json");
    checkpoint::save(&model, &meta(config, shape), &ckpt).unwrap();
    let image = rgb_png(dir.path(), "ring.png", 40);
    let out = dir.path().join("recon.png");
    let v = encode(&ckpt, &image, &["--out", out.to_str().unwrap()]);
    // The item as the folder loader makes it: the yellow ring is bright in red and green,
    // dark in blue (on a dark blue ground), so the planes differ.
    let x = data::load_image_as(&image, shape).unwrap();
    let plane = |c: usize| x[c * 256..(c + 1) * 256].iter().sum::<f32>();
    assert!(
        plane(0) > 1.2 * plane(2),
        "red {} blue {}",
        plane(0),
        plane(2)
    );
    let (mu, _) = model
        .encode(&batch_tensor(x, shape.dim()).unwrap())
        .unwrap();
    let want: Vec<f32> = mu.flatten_all().unwrap().to_vec1().unwrap();
    for (m, w) in floats(&v["mu"]).iter().zip(&want) {
        assert_near(*m, f64::from(*w), 1e-5, "μ of the colour item");
    }
    let png = image::open(&out).unwrap();
    assert_eq!(png.color(), image::ColorType::Rgb8);
    assert_eq!((png.width(), png.height()), (64, 64));
}
