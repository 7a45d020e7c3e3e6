//! Seconds and trustworthiness (k = 10) of PCA, t-SNE and UMAP on 2,000 and 10,000 codes.
//!
//! `cargo run --release --example projection` uses synthetic clustered codes: 10 clusters
//! in 16 dimensions, centres N(0, 2²) per dimension, each cluster an anisotropic Gaussian
//! (per-dimension spread 0.3 to 1.2), seeded. `cargo run --release --example projection --
//! vectors.tsv` uses real codes instead (one code per line, tab-separated, as `latentlab
//! codes` writes), the first 2,000 and 10,000 of them. `-- --checkpoint F.json` encodes
//! 10,000 test items of the built-in digits (seed 1) with a saved model and uses their μ.

use std::sync::atomic::{AtomicBool, AtomicU32};
use std::time::Instant;

use latentlab::explore::projection::{Projection, project, trustworthiness};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// Dimension of the synthetic codes.
const DIM: usize = 16;
/// Clusters of the synthetic codes.
const CLUSTERS: usize = 10;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (codes, dim, source) = match args.first().map(String::as_str) {
        Some("--checkpoint") => {
            let path = args
                .get(1)
                .ok_or_else(|| anyhow::anyhow!("--checkpoint FILE"))?;
            let (codes, dim) = digit_codes(path)?;
            (
                codes,
                dim,
                format!("μ of 10,000 test digits through {path}"),
            )
        }
        Some(path) => {
            let (codes, dim) = read_tsv(path)?;
            (codes, dim, path.to_string())
        }
        None => (synthetic(10_000, 1), DIM, "synthetic clusters".to_string()),
    };
    println!("codes: {source}, dimension {dim}");
    println!("| codes | method | seconds | trustworthiness (k = 10) |");
    println!("|---:|---|---:|---:|");
    for count in [2_000, 10_000] {
        let count = count.min(codes.len() / dim);
        let codes = &codes[..count * dim];
        for method in Projection::ALL {
            let started = Instant::now();
            let points = project(
                codes,
                dim,
                method,
                1,
                &AtomicU32::new(0),
                &AtomicBool::new(false),
            )?;
            let secs = started.elapsed().as_secs_f64();
            let trust = trustworthiness(codes, dim, &points, 10)?;
            println!("| {count} | {} | {secs:.1} | {trust:.3} |", method.title());
        }
    }
    Ok(())
}

/// `count` codes from the synthetic mixture, clusters in turn.
fn synthetic(count: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let normal = |rng: &mut rand_chacha::ChaCha8Rng| rng.sample::<f32, _>(StandardNormal);
    let centres: Vec<Vec<f32>> = (0..CLUSTERS)
        .map(|_| (0..DIM).map(|_| 2.0 * normal(&mut rng)).collect())
        .collect();
    let spreads: Vec<Vec<f32>> = (0..CLUSTERS)
        .map(|_| (0..DIM).map(|_| rng.random_range(0.3..1.2)).collect())
        .collect();
    let mut codes = Vec::with_capacity(count * DIM);
    for i in 0..count {
        let c = i % CLUSTERS;
        for d in 0..DIM {
            codes.push(centres[c][d] + spreads[c][d] * normal(&mut rng));
        }
    }
    codes
}

/// μ of 10,000 test items of the built-in digits (seed 1) through a checkpoint's encoder.
fn digit_codes(path: &str) -> anyhow::Result<(Vec<f32>, usize)> {
    use latentlab::data;
    use latentlab::model::checkpoint;
    let (model, _) = checkpoint::load(std::path::Path::new(path))?;
    let encoder = model.encoder_snapshot()?;
    let sizes = data::Sizes {
        train: 1,
        test: 10_000,
    };
    let set = data::load_with_sizes("digits", 1, Some(sizes))?;
    let (mu, _) = encoder.encode(&set.test.x);
    let dim = mu.len() / set.test.len().max(1);
    Ok((mu, dim))
}

/// Codes from a tab-separated file, one per line; returns them and their dimension.
fn read_tsv(path: &str) -> anyhow::Result<(Vec<f32>, usize)> {
    let text = std::fs::read_to_string(path)?;
    let mut codes = Vec::new();
    let mut dim = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: Vec<f32> = line
            .split('\t')
            .map(|v| v.trim().parse())
            .collect::<Result<_, _>>()?;
        anyhow::ensure!(
            dim == 0 || row.len() == dim,
            "rows of different lengths in {path}"
        );
        dim = row.len();
        codes.extend(row);
    }
    anyhow::ensure!(dim > 0, "no codes in {path}");
    Ok((codes, dim))
}
