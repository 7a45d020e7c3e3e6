//! Training throughput and decode latency.
//!
//! `cargo bench --bench training` (divan). Throughput is reported as items per second.
//! Threads: set RAYON_NUM_THREADS (the repository's .cargo/config.toml sets 1), e.g.
//! `RAYON_NUM_THREADS=2 cargo bench --bench training` for both cores.

use divan::Bencher;
use divan::counter::ItemsCount;
use latentlab::data::{self, Sizes};
use latentlab::model::{Autoencoder, Likelihood, ModelConfig, ModelKind, batch_tensor};
use latentlab::rng::PortableRng;
use rand::SeedableRng;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 128;

fn main() {
    eprintln!(
        "RAYON_NUM_THREADS={}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "(all cores)".into())
    );
    divan::main();
}

fn vae(hidden: &[usize], latent: usize) -> Autoencoder {
    let mut cfg = ModelConfig::new(ModelKind::Vae, 784, Likelihood::Bernoulli);
    cfg.hidden = hidden.to_vec();
    cfg.latent_dim = latent;
    Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(1)).unwrap()
}

/// A VAE and one batch of 128 digits.
fn model_and_batch(hidden: &[usize], latent: usize) -> (Autoencoder, candle_core::Tensor) {
    let ds = data::load_with_sizes(
        "digits",
        1,
        Some(Sizes {
            train: 1024,
            test: 10,
        }),
    )
    .unwrap();
    let idx: Vec<usize> = (0..BATCH).collect();
    (
        vae(hidden, latent),
        batch_tensor(ds.train.gather(&idx, 784), 784).unwrap(),
    )
}

fn train_steps(bencher: Bencher, hidden: &[usize], latent: usize) {
    let (model, x) = model_and_batch(hidden, latent);
    let mut opt = model.optimizer(1e-3);
    let mut rng = PortableRng::seed_from_u64(2);
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        model
            .train_step(&mut opt, &x, &mut rng, latentlab::model::Schedule::START)
            .unwrap();
    });
}

/// One Adam step of a VAE 784-400-20 on a batch of 128.
#[divan::bench(sample_count = 30)]
fn train_step_vae_784_400_20(bencher: Bencher) {
    train_steps(bencher, &[400], 20);
}

/// One Adam step of a VAE 784-512-256-2 (the app's earlier default) on a batch of 128.
#[divan::bench(sample_count = 30)]
fn train_step_vae_784_512_256_2(bencher: Bencher) {
    train_steps(bencher, &[512, 256], 2);
}

/// One Adam step of a VAE 784-128-64-2 (the default) on a batch of 64.
#[divan::bench(sample_count = 30)]
fn train_step_vae_784_128_64_2_batch_64(bencher: Bencher) {
    let model = vae(&[128, 64], 2);
    let ds = latentlab::data::load_with_sizes(
        "digits",
        1,
        Some(latentlab::data::Sizes {
            train: 64,
            test: 10,
        }),
    )
    .unwrap();
    let x = latentlab::model::batch_tensor(ds.train.x.clone(), 784).unwrap();
    let mut opt = model.optimizer(3e-3);
    let mut rng = PortableRng::seed_from_u64(2);
    bencher.counter(ItemsCount::new(64usize)).bench_local(|| {
        model
            .train_step(&mut opt, &x, &mut rng, latentlab::model::Schedule::START)
            .unwrap()
    });
}

/// Decoding latent points with a frozen 2-256-512-784 decoder (the earlier default).
#[divan::bench(args = [1, 400], sample_count = 100)]
fn decode_points(bencher: Bencher, points: usize) {
    decode_with(bencher, &[512, 256], points);
}

/// Decoding latent points with the default 2-64-128-784 decoder, as the window does.
#[divan::bench(args = [1, 400], sample_count = 100)]
fn decode_points_default(bencher: Bencher, points: usize) {
    decode_with(bencher, &[128, 64], points);
}

fn decode_with(bencher: Bencher, hidden: &[usize], points: usize) {
    let snapshot = vae(hidden, 2).decoder_snapshot().unwrap();
    let z: Vec<f32> = (0..points * 2)
        .map(|i| (i as f32 * 0.37).sin() * 2.0)
        .collect();
    bencher
        .counter(ItemsCount::new(points))
        .bench_local(|| snapshot.decode(&z).unwrap());
}

/// Encoding digits with the default 784-128-64-2 encoder snapshot, as the draw panel does
/// on every stroke (plain loops on the UI thread).
#[divan::bench(args = [1, 100], sample_count = 100)]
fn encode_items_default(bencher: Bencher, items: usize) {
    let (model, x) = model_and_batch(&[128, 64], 2);
    let snapshot = model.encoder_snapshot().unwrap();
    let x: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    let x = &x[..items * 784];
    bencher
        .counter(ItemsCount::new(items))
        .bench_local(|| snapshot.encode(x));
}

/// The inspector's numbers for one digit with the default VAE: encode, decode z = μ + σ·ε,
/// recon, KL per dimension.
#[divan::bench(sample_count = 100)]
fn inspect_item_default(bencher: Bencher) {
    let (model, x) = model_and_batch(&[128, 64], 2);
    let (encoder, decoder) = (
        model.encoder_snapshot().unwrap(),
        model.decoder_snapshot().unwrap(),
    );
    let x: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
    let eps = [0.3f32, -1.1];
    bencher.bench_local(|| {
        latentlab::model::inspect(&model.config, &encoder, &decoder, &x[..784], Some(&eps)).unwrap()
    });
}

/// Forward and backward only (no optimiser), to see what the optimiser costs.
#[divan::bench(sample_count = 30)]
fn forward_backward_vae_784_400_20(bencher: Bencher) {
    let (model, x) = model_and_batch(&[400], 20);
    let mut rng = PortableRng::seed_from_u64(2);
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        let t = model.loss_terms(&x, &mut rng).unwrap();
        t.objective(1.0).unwrap().backward().unwrap()
    });
}
