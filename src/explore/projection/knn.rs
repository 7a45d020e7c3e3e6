//! Exact nearest neighbours of codes, and the seeded draws of the projections.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use rand::{RngCore, SeedableRng};

use super::ProjectionError;
use crate::rng::PortableRng;

/// Squared Euclidean distance of two codes, summed in f64 so ties are rare and exact.
pub(super) fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(*x) - f64::from(*y);
            d * d
        })
        .sum()
}

/// The `k` nearest other codes of every code, nearest first, as (index, distance); equal
/// distances go by index. Brute force: n² distances, which for 10,000 codes of 64
/// dimensions is about a second, and exact (an approximate index would be one more crate
/// and one more source of differences between runs).
///
/// Progress goes from `from` to `to` per mille; checks `cancel` after every code.
pub(super) fn nearest(
    codes: &[f32],
    dim: usize,
    k: usize,
    (progress, from, to): (&AtomicU32, u32, u32),
    cancel: &AtomicBool,
) -> Result<Vec<Vec<(usize, f32)>>, ProjectionError> {
    let count = codes.len() / dim;
    let mut out = Vec::with_capacity(count);
    let mut row_distances: Vec<(f64, usize)> = Vec::with_capacity(count);
    for (i, a) in codes.chunks_exact(dim).enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(ProjectionError::Cancelled);
        }
        row_distances.clear();
        row_distances.extend(
            codes
                .chunks_exact(dim)
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(j, b)| (squared_distance(a, b), j)),
        );
        let k = k.min(row_distances.len());
        if k > 0 && k < row_distances.len() {
            row_distances
                .select_nth_unstable_by(k - 1, |x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        }
        let nearest = &mut row_distances[..k];
        nearest.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        out.push(nearest.iter().map(|&(d, j)| (j, d.sqrt() as f32)).collect());
        let done = (i + 1) as u64 * u64::from(to - from) / count.max(1) as u64;
        progress.store(from + done as u32, Ordering::Relaxed);
    }
    Ok(out)
}

/// The seeded draws of the projections: ChaCha8 (the crate's [`PortableRng`]) read as plain
/// words, so the numbers do not depend on `rand`'s distributions.
pub(super) struct Jitter(PortableRng);

impl Jitter {
    /// A stream for `seed`.
    pub(super) fn new(seed: u64) -> Self {
        Self(PortableRng::seed_from_u64(seed))
    }

    /// Uniform in [0, 1).
    pub(super) fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box-Muller).
    pub(super) fn gaussian(&mut self) -> f32 {
        let u = 1.0 - self.uniform(); // (0, 1]
        let v = self.uniform();
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    /// Uniform in 0..n (n > 0); the modulo bias is below n/2⁶⁴.
    pub(super) fn index(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }
}
