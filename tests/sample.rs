//! `latentlab sample` as a script uses it: IDX files an IDX reader reads back with N items
//! of the model's size (the decoder's probabilities as u8), PNG sheets, and clear refusals.

mod common;
use common::{latentlab, stderr};

use latentlab::data::{ItemShape, read_idx_images};
use latentlab::model::checkpoint::{self, CheckpointMeta, FORMAT_VERSION};
use latentlab::model::inspect::draw_eps;
use latentlab::model::{Autoencoder, Likelihood, ModelConfig, ModelKind};
use latentlab::rng::PortableRng;
use rand::SeedableRng;
use std::path::{Path, PathBuf};

/// An untrained VAE of `shape` items saved as `dir/<name>.json`.
fn saved(dir: &Path, name: &str, shape: ItemShape) -> (PathBuf, Autoencoder) {
    let mut config = ModelConfig::new(ModelKind::Vae, shape.dim(), Likelihood::Bernoulli);
    config.hidden = vec![16];
    config.latent_dim = 2;
    let model = Autoencoder::new(config.clone(), &mut PortableRng::seed_from_u64(3)).unwrap();
    let meta = CheckpointMeta {
        format_version: FORMAT_VERSION,
        name: "vae".into(),
        config,
        dataset: "digits".into(),
        item_shape: shape,
        class_names: (0..10).map(|i| i.to_string()).collect(),
        epoch: 1,
        step: 1,
        lr: 1e-3,
        seed: 1,
        test_metrics: None,
    };
    let path = dir.join(format!("{name}.json"));
    checkpoint::save(&model, &meta, &path).unwrap();
    (path, model)
}

fn run(args: &[&str]) -> std::process::Output {
    latentlab(&[&["sample"], args].concat())
}

#[test]
fn idx_samples_read_back_as_n_items_of_the_models_size_with_its_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, model) = saved(dir.path(), "grey", ItemShape::image(1, 28, 28));
    let out = dir.path().join("samples-idx3-ubyte");
    let args = [
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "7",
        "--seed",
        "4",
    ];
    let o = run(&[
        &args[..],
        &["--format", "idx", "--out", out.to_str().unwrap()],
    ]
    .concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], &[0, 0, 8, 3], "MNIST image magic");
    let (n, h, w, pixels) = read_idx_images(&out).unwrap();
    assert_eq!((n, h, w, pixels.len()), (7, 28, 28, 7 * 784));
    // The same draws decoded by the candle model itself, not the snapshot the CLI uses.
    let mut rng = PortableRng::seed_from_u64(4);
    let z: Vec<f32> = (0..7).flat_map(|_| draw_eps(&mut rng, 2)).collect();
    let z = candle_core::Tensor::from_vec(z, (7, 2), &candle_core::Device::Cpu).unwrap();
    let probs = candle_nn::ops::sigmoid(&model.decode_raw(&z).unwrap()).unwrap();
    let probs: Vec<f32> = probs.flatten_all().unwrap().to_vec1().unwrap();
    for (i, (got, want)) in pixels.iter().zip(&probs).enumerate() {
        assert!(
            (got - want).abs() <= 0.6 / 255.0,
            "pixel {i}: {got} vs {want}"
        );
    }
    // Another seed, other images; the same seed, the same file.
    let again = dir.path().join("again");
    let o = run(&[
        &args[..],
        &["--format", "idx", "--out", again.to_str().unwrap()],
    ]
    .concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
    let other = dir.path().join("other");
    let o = run(&[
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "7",
        "--seed",
        "5",
        "--format",
        "idx",
        "--out",
        other.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(std::fs::read(&other).unwrap(), bytes);
    // The default format is a PNG sheet.
    let png = dir.path().join("sheet.png");
    let o = run(&[
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--n",
        "9",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(image::open(&png).is_ok(), "a PNG");
}

#[test]
fn class_colour_idx_and_bad_counts_are_refused_with_their_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (grey, _) = saved(dir.path(), "grey", ItemShape::image(1, 28, 28));
    let (colour, _) = saved(dir.path(), "colour", ItemShape::image(3, 16, 16));
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let refused = |args: &[&str], message: &str| {
        let o = run(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
        assert!(!Path::new(out).exists(), "{args:?} wrote a file");
    };
    let g = grey.to_str().unwrap();
    refused(
        &[
            "--checkpoint",
            g,
            "--n",
            "4",
            "--class",
            "3",
            "--format",
            "idx",
            "--out",
            out,
        ],
        "only a cvae takes --class (vae has no classes)",
    );
    refused(
        &[
            "--checkpoint",
            colour.to_str().unwrap(),
            "--n",
            "4",
            "--format",
            "idx",
            "--out",
            out,
        ],
        "holds grey images only",
    );
    refused(
        &["--checkpoint", g, "--n", "0", "--out", out],
        "out of range",
    );
    refused(
        &["--checkpoint", g, "--n", "10001", "--out", out],
        "out of range",
    );
    refused(
        &["--checkpoint", g, "--n", "4", "--out", out],
        "must end in .png",
    );
    // A colour model's samples as a PNG sheet are fine.
    let sheet = dir.path().join("colour.png");
    let sheet = sheet.to_str().unwrap();
    let c = colour.to_str().unwrap();
    let o = run(&["--checkpoint", c, "--n", "4", "--out", sheet]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(image::open(sheet).is_ok(), "a PNG");
}
