//! One training step, candle's autograd against the hand-written backward pass.
//!
//! `cargo bench --bench backward` (divan, one thread: .cargo/config.toml sets
//! RAYON_NUM_THREADS=1). Throughput is reported as items per second.

use divan::Bencher;
use divan::counter::ItemsCount;
use latentlab::data::{self, Sizes};
use latentlab::model::backward::train_step_manual;
use latentlab::model::{
    Autoencoder, Likelihood, ModelConfig, ModelKind, batch_tensor, flush_subnormals,
};
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

/// A model of `kind` with the given hidden sizes and code, and one batch of 128 digits.
fn model_and_batch(
    kind: ModelKind,
    hidden: &[usize],
    latent: usize,
) -> (Autoencoder, candle_core::Tensor) {
    let mut cfg = ModelConfig::new(kind, 784, Likelihood::Bernoulli);
    cfg.hidden = hidden.to_vec();
    cfg.latent_dim = latent;
    let model = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(1)).unwrap();
    let sizes = Sizes {
        train: 1024,
        test: 10,
    };
    let ds = data::load_with_sizes("digits", 1, Some(sizes)).unwrap();
    let idx: Vec<usize> = (0..BATCH).collect();
    (
        model,
        batch_tensor(ds.train.gather(&idx, 784), 784).unwrap(),
    )
}

/// Steps of one model, by autograd or by hand.
fn steps(bencher: Bencher, kind: ModelKind, hidden: &[usize], latent: usize, manual: bool) {
    let (model, x) = model_and_batch(kind, hidden, latent);
    let mut opt = model.optimizer(1e-3);
    let mut rng = PortableRng::seed_from_u64(2);
    // As `Autoencoder::train_step` does on every step (this thread runs every sample).
    flush_subnormals();
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        if manual {
            train_step_manual(
                &model,
                &mut opt,
                &x,
                &mut rng,
                latentlab::model::Schedule::START,
            )
            .unwrap()
        } else {
            model
                .train_step_autograd(&mut opt, &x, &mut rng, latentlab::model::Schedule::START)
                .unwrap()
        }
    });
}

/// VAE 784-400-20, batch 128: the PyTorch examples/vae model.
#[divan::bench(args = ["autograd", "manual"], sample_count = 30)]
fn step_vae_784_400_20(bencher: Bencher, path: &str) {
    steps(bencher, ModelKind::Vae, &[400], 20, path == "manual");
}

/// VAE 784-512-256-2, batch 128.
#[divan::bench(args = ["autograd", "manual"], sample_count = 30)]
fn step_vae_784_512_256_2(bencher: Bencher, path: &str) {
    steps(bencher, ModelKind::Vae, &[512, 256], 2, path == "manual");
}

/// AE 784-512-256-2, batch 128.
#[divan::bench(args = ["autograd", "manual"], sample_count = 30)]
fn step_ae_784_512_256_2(bencher: Bencher, path: &str) {
    steps(bencher, ModelKind::Ae, &[512, 256], 2, path == "manual");
}

/// Contractive AE 784-400-20, batch 128: the Jacobian penalty's gradient by hand (through
/// the first layer's Gram matrix) against autograd through the Jacobian product.
#[divan::bench(args = ["autograd", "manual"], sample_count = 10)]
fn step_cae_784_400_20(bencher: Bencher, path: &str) {
    steps(bencher, ModelKind::Cae, &[400], 20, path == "manual");
}

/// Contractive AE 784-128-64-2 (the default sizes), batch 128.
#[divan::bench(args = ["autograd", "manual"], sample_count = 30)]
fn step_cae_784_128_64_2(bencher: Bencher, path: &str) {
    steps(bencher, ModelKind::Cae, &[128, 64], 2, path == "manual");
}
