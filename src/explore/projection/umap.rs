//! A compact UMAP (McInnes, Healy & Melville 2018), following umap-learn's defaults: 15
//! neighbours, min_dist 0.1, spread 1, 500 epochs, 5 negative samples per positive one,
//! learning rate 1 falling linearly to 0. Written here because no crate fits: `umap-rs`
//! draws its negative samples from an unseeded generator and needs its neighbours found
//! elsewhere, `annembed` needs a system BLAS. The neighbours are exact, the start is the
//! PCA plane (umap-learn's `init="pca"`), and the optimisation runs on one thread in a fixed
//! order with a seeded stream, so a seed gives one picture.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::{ProjectionError, knn, seeded_start};

/// Neighbours of each code in the fuzzy graph.
const NEIGHBOURS: usize = 15;
/// Optimisation epochs (umap-learn uses 500 up to 10,000 codes).
const EPOCHS: usize = 500;
/// Negative samples per positive one.
const NEGATIVE_RATE: f64 = 5.0;
/// The curve 1/(1 + a·d^(2b)) fitted to min_dist 0.1, spread 1 (umap-learn's
/// `find_ab_params(1.0, 0.1)`).
const CURVE_A: f64 = 1.576_943_460_405_378;
/// See [`CURVE_A`].
const CURVE_B: f64 = 0.895_060_878_122_785_9;
/// umap-learn's clip of each gradient component.
const CLIP: f64 = 4.0;
/// Share of the progress bar given to the neighbour search (per mille).
const KNN_SHARE: u32 = 300;

/// One directed edge of the fuzzy graph and its sampling schedule.
struct Edge {
    head: usize,
    tail: usize,
    epochs_per_sample: f64,
    next_sample: f64,
    epochs_per_negative: f64,
    next_negative: f64,
}

/// UMAP of `codes` (at least [`super::MIN_POINTS`] finite rows, not all equal).
pub(super) fn run(
    codes: &[f32],
    dim: usize,
    seed: u64,
    progress: &AtomicU32,
    cancel: &AtomicBool,
) -> Result<Vec<[f32; 2]>, ProjectionError> {
    let count = codes.len() / dim;
    let neighbours = knn::nearest(codes, dim, NEIGHBOURS, (progress, 0, KNN_SHARE), cancel)?;
    let mut edges = fuzzy_edges(&neighbours);
    // umap-learn's start: the plane scaled to ±10, with a jitter of 1e-4 (seeded here).
    let mut points: Vec<[f64; 2]> = seeded_start(codes, dim, 10.0, 1e-5, seed)
        .into_iter()
        .map(|[x, y]| [f64::from(x), f64::from(y)])
        .collect();
    let mut rng = knn::Jitter::new(seed ^ 0x756d_6170); // "umap": apart from the start's stream
    for epoch in 0..EPOCHS {
        if cancel.load(Ordering::Relaxed) {
            return Err(ProjectionError::Cancelled);
        }
        let alpha = 1.0 - epoch as f64 / EPOCHS as f64;
        sgd_epoch(
            &mut points,
            &mut edges,
            epoch as f64,
            alpha,
            count,
            &mut rng,
        );
        let done = (epoch as u32 + 1) * (1000 - KNN_SHARE) / EPOCHS as u32;
        progress.store(KNN_SHARE + done, Ordering::Relaxed);
    }
    Ok(points.iter().map(|&[x, y]| [x as f32, y as f32]).collect())
}

/// The fuzzy simplicial set of the neighbour lists, as directed edges in both directions
/// with umap-learn's sampling schedule (edges below max/EPOCHS dropped).
fn fuzzy_edges(neighbours: &[Vec<(usize, f32)>]) -> Vec<Edge> {
    // Membership strengths exp(-(d - ρ)/σ), one row at a time.
    let mut directed: Vec<((usize, usize), f64)> = Vec::new();
    for (i, row) in neighbours.iter().enumerate() {
        let distances: Vec<f64> = row.iter().map(|&(_, d)| f64::from(d)).collect();
        let (rho, sigma) = smooth_distances(&distances);
        for (&(j, _), d) in row.iter().zip(&distances) {
            let w = if d - rho <= 0.0 || sigma <= 0.0 {
                1.0
            } else {
                (-(d - rho) / sigma).exp()
            };
            directed.push(((i.min(j), i.max(j)), w));
        }
    }
    // Fuzzy union: w(i,j) = a + b - a·b where both directions exist.
    directed.sort_by_key(|x| x.0);
    let mut undirected: Vec<((usize, usize), f64)> = Vec::with_capacity(directed.len());
    for (key, w) in directed {
        match undirected.last_mut() {
            Some((last, v)) if *last == key => *v = *v + w - *v * w,
            _ => undirected.push((key, w)),
        }
    }
    let largest = undirected.iter().fold(0.0f64, |m, e| m.max(e.1));
    let floor = largest / EPOCHS as f64;
    let mut edges = Vec::with_capacity(2 * undirected.len());
    for ((i, j), w) in undirected {
        if w < floor || w <= 0.0 || i == j {
            continue;
        }
        let per_sample = largest / w;
        for (head, tail) in [(i, j), (j, i)] {
            edges.push(Edge {
                head,
                tail,
                epochs_per_sample: per_sample,
                next_sample: per_sample,
                epochs_per_negative: per_sample / NEGATIVE_RATE,
                next_negative: per_sample / NEGATIVE_RATE,
            });
        }
    }
    edges
}

/// ρ (the nearest non-zero distance) and σ such that Σ exp(-(d - ρ)/σ) = log2(k), by
/// bisection as umap-learn's `smooth_knn_dist` (local connectivity 1, 64 steps).
fn smooth_distances(distances: &[f64]) -> (f64, f64) {
    let rho = distances.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
    let target = (distances.len().max(2) as f64).log2();
    let (mut lo, mut hi, mut sigma) = (0.0f64, f64::INFINITY, 1.0f64);
    for _ in 0..64 {
        let sum: f64 = distances
            .iter()
            .map(|&d| {
                let x = d - rho;
                if x > 0.0 { (-x / sigma).exp() } else { 1.0 }
            })
            .sum();
        if (sum - target).abs() < 1e-5 {
            break;
        }
        if sum > target {
            hi = sigma;
            sigma = (lo + hi) / 2.0;
        } else {
            lo = sigma;
            sigma = if hi.is_finite() {
                (lo + hi) / 2.0
            } else {
                sigma * 2.0
            };
        }
    }
    // umap-learn's floor: 1e-3 of the mean distance.
    let mean = distances.iter().sum::<f64>() / distances.len().max(1) as f64;
    let floor = if rho > 0.0 {
        1e-3 * mean
    } else {
        1e-3 * mean.max(f64::MIN_POSITIVE)
    };
    (rho, sigma.max(floor))
}

/// One epoch of umap-learn's `optimize_layout_euclidean` (move_other = true).
fn sgd_epoch(
    points: &mut [[f64; 2]],
    edges: &mut [Edge],
    epoch: f64,
    alpha: f64,
    count: usize,
    rng: &mut knn::Jitter,
) {
    let (a, b) = (CURVE_A, CURVE_B);
    for edge in edges.iter_mut() {
        if edge.next_sample > epoch + 1.0 {
            continue;
        }
        let (i, j) = (edge.head, edge.tail);
        let delta = [points[i][0] - points[j][0], points[i][1] - points[j][1]];
        let d2 = delta[0] * delta[0] + delta[1] * delta[1];
        if d2 > 0.0 {
            let coeff = -2.0 * a * b * d2.powf(b - 1.0) / (a * d2.powf(b) + 1.0);
            for k in 0..2 {
                let g = (coeff * delta[k]).clamp(-CLIP, CLIP) * alpha;
                points[i][k] += g;
                points[j][k] -= g;
            }
        }
        edge.next_sample += edge.epochs_per_sample;
        let negatives = ((epoch + 1.0 - edge.next_negative) / edge.epochs_per_negative)
            .floor()
            .max(0.0) as usize;
        for _ in 0..negatives {
            let other = rng.index(count);
            if other == i {
                continue;
            }
            let delta = [
                points[i][0] - points[other][0],
                points[i][1] - points[other][1],
            ];
            let d2 = delta[0] * delta[0] + delta[1] * delta[1];
            if d2 <= 0.0 {
                continue;
            }
            let coeff = 2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0));
            for k in 0..2 {
                points[i][k] += (coeff * delta[k]).clamp(-CLIP, CLIP) * alpha;
            }
        }
        edge.next_negative += negatives as f64 * edge.epochs_per_negative;
    }
}
