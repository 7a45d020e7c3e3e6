//! `--arch conv` throughput: one Adam step of the conv VAE of Burgess et al. 2018 at 64×64,
//! batch 64, latent 10, on random binary blobs made here (the same kind of items
//! `benches/peer/conv_torch.py` trains PyTorch's twin on without `--idx`), and the frozen
//! decoder's latency for one code and for a 20×20 grid.
//!
//! `cargo bench --bench conv`; to compare with PyTorch pin both to one core, alternating:
//! `taskset -c 1 cargo bench --bench conv -- train_step` and
//! `taskset -c 1 python3 benches/peer/conv_torch.py --epochs 2`.

use divan::Bencher;
use divan::counter::ItemsCount;
use latentlab::model::{Arch, Autoencoder, ImageDims, Likelihood, ModelConfig, ModelKind};
use latentlab::rng::PortableRng;
use rand::{Rng, SeedableRng};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIDE: usize = 64;
const BATCH: usize = 64;
const LATENT: usize = 10;

fn main() {
    // As the binary does (`src/main.rs`): candle's products and element-wise ops on this one
    // thread. Without it candle's own pool spins a second thread, which on one pinned core
    // (`taskset -c 1`) takes turns with the step: measured, 190 items/s against 355.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: set before any other thread exists.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    // As the binary does (`MIMALLOC_PURGE_DELAY=10` in the environment shows the cost of not).
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        latentlab::model::keep_freed_memory();
    }
    divan::main();
}

/// `n` binary 64×64 images, each one to three filled ellipses at random places.
fn blobs(n: usize, rng: &mut PortableRng) -> Vec<f32> {
    let mut out = vec![0f32; n * SIDE * SIDE];
    for img in out.chunks_exact_mut(SIDE * SIDE) {
        for _ in 0..rng.random_range(1..4) {
            let s = SIDE as f32;
            let (cy, cx) = (rng.random::<f32>() * s, rng.random::<f32>() * s);
            let (ry, rx) = (
                rng.random::<f32>() * s / 4.0 + 2.0,
                rng.random::<f32>() * s / 4.0 + 2.0,
            );
            for (i, px) in img.iter_mut().enumerate() {
                let (y, x) = ((i / SIDE) as f32, (i % SIDE) as f32);
                if ((y - cy) / ry).powi(2) + ((x - cx) / rx).powi(2) <= 1.0 {
                    *px = 1.0;
                }
            }
        }
    }
    out
}

fn conv_vae() -> Autoencoder {
    let mut cfg = ModelConfig::new(ModelKind::Vae, SIDE * SIDE, Likelihood::Bernoulli);
    cfg.arch = Arch::Conv;
    cfg.image = Some(ImageDims {
        channels: 1,
        height: SIDE,
        width: SIDE,
    });
    cfg.hidden = latentlab::model::arch::DENSE.to_vec();
    cfg.latent_dim = LATENT;
    cfg.validate().unwrap();
    Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(1)).unwrap()
}

/// One Adam step of the 64×64 conv VAE on a batch of 64.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn train_step_conv_vae_64x64_batch_64(bencher: Bencher) {
    let model = conv_vae();
    let mut rng = PortableRng::seed_from_u64(2);
    let batches: Vec<candle_core::Tensor> = (0..4)
        .map(|_| latentlab::model::batch_tensor(blobs(BATCH, &mut rng), SIDE * SIDE).unwrap())
        .collect();
    let mut opt = model.optimizer(1e-3);
    let mut i = 0;
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        i += 1;
        model
            .train_step(
                &mut opt,
                &batches[i % batches.len()],
                &mut rng,
                latentlab::model::Schedule::START,
            )
            .unwrap()
    });
}

/// The frozen decoder (plain loops, as the window runs it): one code, and a 20×20 grid.
#[divan::bench(args = [1, 400], sample_count = 10)]
fn snapshot_decode_64x64(bencher: Bencher, codes: usize) {
    let snap = conv_vae().decoder_snapshot().unwrap();
    let mut rng = PortableRng::seed_from_u64(3);
    let z: Vec<f32> = (0..codes * LATENT)
        .map(|_| rng.random_range(-2.0..2.0))
        .collect();
    bencher
        .counter(ItemsCount::new(codes))
        .bench_local(|| snap.decode(&z).unwrap());
}
