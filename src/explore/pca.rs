//! A 2-D PCA view of codes whose plane stays put from one snapshot to the next.
//!
//! The covariance is diagonalised exactly (cyclic Jacobi, so the axes are orthonormal
//! whatever the spectrum); [`Pca2::fit_aligned`] then chooses, among directions that
//! explain nearly as much variance, the ones closest to the previous plane, so an
//! isotropic VAE's view neither jumps nor flips while it trains.

/// Directions whose variance is within this fraction of the second axis's count as
/// interchangeable when aligning to a previous plane (sampling noise in the eigenvalues of
/// a few thousand codes is a few per cent).
pub const ALIGN_TOLERANCE: f64 = 0.2;

/// A projected previous axis shorter than this means the previous plane lies outside the
/// candidate directions; the leading eigenvectors are used instead.
const MIN_OVERLAP: f64 = 0.3;

/// A 2-D PCA projection of codes: the mean and the two leading directions.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca2 {
    /// Mean code.
    pub mean: Vec<f32>,
    /// Unit-length, orthogonal first and second principal directions (the second is zero
    /// when codes have a single dimension; both are empty for dimension 0).
    pub axes: [Vec<f32>; 2],
}

/// One eigenpair of the covariance: variance and unit direction.
type Eigen = (f64, Vec<f64>);

impl Pca2 {
    /// Fits the two leading principal directions of `codes` (rows of `dim` values), each
    /// with its largest component positive.
    pub fn fit(codes: &[f32], dim: usize) -> Self {
        Self::fit_aligned(codes, dim, None)
    }

    /// Like [`Pca2::fit`], but oriented like `previous` (when it has the same dimension):
    /// signs follow it, and within a (near-)degenerate set of directions
    /// (see [`ALIGN_TOLERANCE`]) the plane is the one closest to it.
    pub fn fit_aligned(codes: &[f32], dim: usize, previous: Option<&Pca2>) -> Self {
        let (mean, cov) = covariance(codes, dim);
        let eig = symmetric_eigen(cov, dim);
        let previous = previous
            .filter(|p| p.mean.len() == dim && p.axes.iter().all(|a| a.len() == dim) && dim >= 2);
        let axes: [Vec<f64>; 2] = match previous {
            Some(p) => {
                let prev = p
                    .axes
                    .clone()
                    .map(|a| a.iter().map(|&v| f64::from(v)).collect());
                aligned_axes(&eig, &prev)
            }
            None => [0, 1].map(|i| eig.get(i).map_or(vec![0.0; dim], |e| canonical(&e.1))),
        };
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            axes: axes.map(|a| a.iter().map(|&x| x as f32).collect()),
        }
    }

    /// Turns each axis around when the same items (rows of `codes`, paired by index with
    /// `previous`, their coordinates in the last view) would now come out mirrored along
    /// it. Axis signs follow the previous *axes* in [`Pca2::fit_aligned`], but while a
    /// model trains its codes move too, and the user sees the items: this keeps the
    /// clusters where they were. Does nothing unless there is one previous point per row.
    pub fn orient_like(&mut self, codes: &[f32], previous: &[[f32; 2]]) {
        let dim = self.mean.len();
        if dim == 0 || codes.len() != previous.len() * dim {
            return;
        }
        let mut agreement = [0.0f64; 2];
        for (row, old) in codes.chunks_exact(dim).zip(previous) {
            let new = self.project(row);
            for k in 0..2 {
                agreement[k] += f64::from(new[k]) * f64::from(old[k]);
            }
        }
        for (axis, a) in self.axes.iter_mut().zip(agreement) {
            if a < 0.0 {
                axis.iter_mut().for_each(|v| *v = -*v);
            }
        }
    }

    /// Projects one code onto the two axes.
    pub fn project(&self, code: &[f32]) -> [f32; 2] {
        let mut out = [0.0f32; 2];
        for (o, axis) in out.iter_mut().zip(&self.axes) {
            *o = code
                .iter()
                .zip(&self.mean)
                .zip(axis)
                .map(|((c, m), a)| (c - m) * a)
                .sum();
        }
        out
    }

    /// The code at projected coordinates `p` (on the plane through the mean).
    pub fn unproject(&self, p: [f32; 2]) -> Vec<f32> {
        self.mean
            .iter()
            .zip(self.axes[0].iter().zip(&self.axes[1]))
            .map(|(m, (a, b))| m + p[0] * a + p[1] * b)
            .collect()
    }
}

/// Mean and covariance (row-major `dim`×`dim`, divided by n) of rows of `dim` values.
fn covariance(codes: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0f64; dim];
    let mut cov = vec![0.0f64; dim * dim];
    if dim == 0 {
        return (mean, cov);
    }
    let n = (codes.len() / dim).max(1) as f64;
    for row in codes.chunks_exact(dim) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += f64::from(*v) / n;
        }
    }
    for row in codes.chunks_exact(dim) {
        let d: Vec<f64> = row
            .iter()
            .zip(&mean)
            .map(|(&v, m)| f64::from(v) - m)
            .collect();
        for i in 0..dim {
            for j in 0..dim {
                cov[i * dim + j] += d[i] * d[j] / n;
            }
        }
    }
    (mean, cov)
}

/// Eigenpairs of a symmetric matrix by cyclic Jacobi rotations, largest variance first.
/// The directions are the columns of a product of rotations: orthonormal by construction.
fn symmetric_eigen(mut a: Vec<f64>, dim: usize) -> Vec<Eigen> {
    let mut v = vec![0.0f64; dim * dim];
    for i in 0..dim {
        v[i * dim + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..dim)
            .flat_map(|i| (0..dim).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * dim + j].powi(2))
            .sum();
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..dim {
            for q in p + 1..dim {
                jacobi_rotate(&mut a, &mut v, dim, p, q);
            }
        }
    }
    let mut eig: Vec<Eigen> = (0..dim)
        .map(|k| {
            let col: Vec<f64> = (0..dim).map(|i| v[i * dim + k]).collect();
            (
                a[k * dim + k],
                normalized(col).unwrap_or_else(|| unit(dim, k)),
            )
        })
        .collect();
    eig.sort_by(|x, y| y.0.total_cmp(&x.0));
    eig
}

/// One rotation in the (p, q) plane that zeroes `a[p][q]`: A ← JᵀAJ, V ← VJ.
fn jacobi_rotate(a: &mut [f64], v: &mut [f64], dim: usize, p: usize, q: usize) {
    let apq = a[p * dim + q];
    if apq == 0.0 {
        return;
    }
    let theta = (a[q * dim + q] - a[p * dim + p]) / (2.0 * apq);
    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..dim {
        let (kp, kq) = (a[k * dim + p], a[k * dim + q]);
        a[k * dim + p] = c * kp - s * kq;
        a[k * dim + q] = s * kp + c * kq;
    }
    for k in 0..dim {
        let (pk, qk) = (a[p * dim + k], a[q * dim + k]);
        a[p * dim + k] = c * pk - s * qk;
        a[q * dim + k] = s * pk + c * qk;
    }
    for k in 0..dim {
        let (kp, kq) = (v[k * dim + p], v[k * dim + q]);
        v[k * dim + p] = c * kp - s * kq;
        v[k * dim + q] = s * kp + c * kq;
    }
}

/// The two axes closest to `prev` among the directions the spectrum allows: the leading
/// eigenvector when it clearly dominates, otherwise any unit vector spanned by the
/// near-leading eigenvectors; the second axis likewise among those near the second.
fn aligned_axes(eig: &[Eigen], prev: &[Vec<f64>; 2]) -> [Vec<f64>; 2] {
    let (l0, l1) = (eig[0].0, eig[1].0);
    let separated = l1 < (1.0 - ALIGN_TOLERANCE) * l0;
    let floor = (1.0 - ALIGN_TOLERANCE) * l1 - 1e-12 * l0.abs();
    let pool: Vec<&[f64]> = eig
        .iter()
        .enumerate()
        .filter(|(i, (l, _))| *l >= floor && !(separated && *i == 0))
        .map(|(_, (_, v))| v.as_slice())
        .collect();
    let a0 = if separated {
        None
    } else {
        closest_in(&pool, &prev[0], None)
    }
    .unwrap_or_else(|| sign_aligned(&eig[0].1, &prev[0]));
    let a1 = closest_in(&pool, &prev[1], Some(&a0)).unwrap_or_else(|| {
        // Any eigenvector with a large part orthogonal to a0 exists when dim ≥ 2.
        eig.iter()
            .map(|(_, e)| minus_projection(e, &a0))
            .find(|w| dot(w, w) > 0.25)
            .and_then(normalized)
            .map_or_else(|| eig[1].1.clone(), |w| sign_aligned(&w, &prev[1]))
    });
    [a0, a1]
}

/// The unit vector in span(`pool`) (orthogonal to `orth`) closest to `target`, or `None`
/// when `target` is nearly orthogonal to that span.
fn closest_in(pool: &[&[f64]], target: &[f64], orth: Option<&[f64]>) -> Option<Vec<f64>> {
    let mut v = vec![0.0f64; target.len()];
    for e in pool {
        let c = dot(e, target);
        for (vi, ei) in v.iter_mut().zip(e.iter()) {
            *vi += c * ei;
        }
    }
    if let Some(a) = orth {
        v = minus_projection(&v, a);
    }
    if dot(&v, &v).sqrt() < MIN_OVERLAP {
        return None;
    }
    normalized(v)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `v` minus its component along the unit vector `a`.
fn minus_projection(v: &[f64], a: &[f64]) -> Vec<f64> {
    let c = dot(v, a);
    v.iter().zip(a).map(|(x, y)| x - c * y).collect()
}

/// `v` scaled to unit length, or `None` if it is (nearly) zero.
fn normalized(v: Vec<f64>) -> Option<Vec<f64>> {
    let norm = dot(&v, &v).sqrt();
    (norm > 1e-9).then(|| v.iter().map(|x| x / norm).collect())
}

fn unit(dim: usize, k: usize) -> Vec<f64> {
    (0..dim).map(|i| f64::from(u8::from(i == k))).collect()
}

/// `v` or `-v`, whichever points along `reference`.
fn sign_aligned(v: &[f64], reference: &[f64]) -> Vec<f64> {
    let s = if dot(v, reference) < 0.0 { -1.0 } else { 1.0 };
    v.iter().map(|x| s * x).collect()
}

/// `v` or `-v`, whichever has its largest-magnitude component (the first of equals) positive.
fn canonical(v: &[f64]) -> Vec<f64> {
    let big = v
        .iter()
        .fold(0.0f64, |b, &x| if x.abs() > b.abs() { x } else { b });
    let s = if big < 0.0 { -1.0 } else { 1.0 };
    v.iter().map(|x| s * x).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::PortableRng;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    /// `n` rows of N(0, diag(std²)) rotated by a fixed mixing of neighbouring axes.
    fn cloud(n: usize, std: &[f32], seed: u64) -> Vec<f32> {
        let mut rng = PortableRng::seed_from_u64(seed);
        let d = std.len();
        let mut out = Vec::with_capacity(n * d);
        for _ in 0..n {
            let g: Vec<f32> = std
                .iter()
                .map(|s| s * Distribution::<f32>::sample(&StandardNormal, &mut rng))
                .collect();
            // A rotation by 0.6 rad in each (i, i+1) plane, applied in turn.
            let mut x = g;
            for i in 0..d.saturating_sub(1) {
                let (c, s) = (0.6f32.cos(), 0.6f32.sin());
                let (a, b) = (x[i], x[i + 1]);
                x[i] = c * a - s * b;
                x[i + 1] = s * a + c * b;
            }
            out.extend(x.iter().map(|v| v + 0.5));
        }
        out
    }

    fn dot32(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn assert_orthonormal(p: &Pca2, what: &str) {
        for a in &p.axes {
            assert!(
                (dot32(a, a) - 1.0).abs() < 1e-5,
                "{what}: |axis|² = {}",
                dot32(a, a)
            );
        }
        let c = dot32(&p.axes[0], &p.axes[1]);
        assert!(c.abs() < 1e-5, "{what}: axes not orthogonal, cos = {c}");
    }

    #[test]
    fn pca_finds_the_long_axis() {
        // Points spread along (1, 1, 0) with a little spread along (1, -1, 0).
        let mut codes = Vec::new();
        for i in 0..100 {
            let t = i as f32 / 10.0 - 5.0;
            let s = if i % 2 == 0 { 0.1 } else { -0.1 };
            codes.extend_from_slice(&[t + s, t - s, 1.0]);
        }
        let pca = Pca2::fit(&codes, 3);
        let a = &pca.axes[0];
        assert!(
            (a[0].abs() - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3
                && (a[0] - a[1]).abs() < 1e-3,
            "{a:?}"
        );
        let b = &pca.axes[1];
        assert!((b[0] + b[1]).abs() < 1e-3 && b[2].abs() < 1e-3, "{b:?}");
        let p = pca.project(&codes[..3]);
        let back = pca.unproject(p);
        for (x, y) in back.iter().zip(&codes[..3]) {
            assert!((x - y).abs() < 1e-3);
        }
    }

    #[test]
    fn axes_are_orthonormal_principal_directions() {
        let std = [3.0, 2.0, 1.0, 0.5, 0.2];
        let codes = cloud(4000, &std, 1);
        let pca = Pca2::fit(&codes, 5);
        assert_orthonormal(&pca, "fit");
        // Each axis is an eigenvector: C a = (aᵀ C a) a, with C a = mean of d (d·a).
        let rows: Vec<&[f32]> = codes.chunks_exact(5).collect();
        let mut variances = [0.0f32; 2];
        for (k, axis) in pca.axes.iter().enumerate() {
            let mut ca = [0.0f64; 5];
            for row in &rows {
                let proj = pca.project(row)[k];
                for (c, (x, m)) in ca.iter_mut().zip(row.iter().zip(&pca.mean)) {
                    *c += f64::from((x - m) * proj) / rows.len() as f64;
                }
            }
            let var = ca
                .iter()
                .zip(axis)
                .map(|(c, &a)| c * f64::from(a))
                .sum::<f64>();
            let resid: f64 = ca
                .iter()
                .zip(axis)
                .map(|(c, &a)| (c - var * f64::from(a)).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!(
                resid < 1e-3 * var,
                "axis {k}: |Ca - λa| = {resid}, λ = {var}"
            );
            variances[k] = var as f32;
        }
        assert!((variances[0] / 9.0 - 1.0).abs() < 0.1, "{variances:?}");
        assert!((variances[1] / 4.0 - 1.0).abs() < 0.1, "{variances:?}");
        // Aligned to planes that are not principal, the axes stay orthonormal.
        let other = Pca2::fit(&cloud(500, &[1.0, 1.0, 1.0, 3.0, 2.0], 2), 5);
        let skew = Pca2 {
            mean: vec![0.0; 5],
            axes: [vec![0.6, 0.0, 0.8, 0.0, 0.0], vec![0.0, 0.6, 0.0, 0.0, 0.8]],
        };
        for prev in [&pca, &other, &skew] {
            let iso = cloud(2000, &[1.0; 5], 3);
            assert_orthonormal(&Pca2::fit_aligned(&iso, 5, Some(prev)), "isotropic");
            assert_orthonormal(&Pca2::fit_aligned(&codes, 5, Some(prev)), "anisotropic");
        }
    }

    /// Largest move of a fixed point's projected coordinates over `rounds` refits on fresh
    /// samples, each aligned to the previous fit (or not).
    fn largest_move(std: &[f32], rounds: u64, aligned: bool) -> f32 {
        let d = std.len();
        let point: Vec<f32> = (0..d).map(|i| 0.5 + (i as f32 * 0.9).sin()).collect();
        let mut prev = Pca2::fit(&cloud(3000, std, 100), d);
        let mut worst = 0.0f32;
        for r in 0..rounds {
            let codes = cloud(3000, std, 101 + r);
            let next = Pca2::fit_aligned(&codes, d, aligned.then_some(&prev));
            let (a, b) = (prev.project(&point), next.project(&point));
            worst = worst.max(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt());
            prev = next;
        }
        worst
    }

    #[test]
    fn isotropic_cloud_refitted_on_fresh_samples_stays_aligned() {
        for std in [
            vec![1.0f32; 4],
            vec![1.0; 8],
            vec![2.5, 1.0, 1.0, 1.0, 1.0, 0.3],
        ] {
            let moved = largest_move(&std, 8, true);
            assert!(moved < 0.15, "{std:?}: projected point moved by {moved}");
        }
        // Without alignment the same refits do jump: the situation above is real.
        let unaligned = largest_move(&[1.0; 4], 8, false);
        assert!(unaligned > 0.5, "plain refits moved only {unaligned}");
    }

    #[test]
    fn signs_never_flip_between_fits_of_the_same_data() {
        let codes = cloud(2000, &[3.0, 1.5, 0.5], 4);
        let first = Pca2::fit(&codes, 3);
        let reversed: Vec<f32> = codes.chunks_exact(3).rev().flatten().copied().collect();
        let close = |a: &Pca2, b: &Pca2| {
            a.axes
                .iter()
                .zip(&b.axes)
                .all(|(x, y)| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-4))
        };
        assert!(
            close(&first, &Pca2::fit(&reversed, 3)),
            "row order flipped an axis"
        );
        let mut prev = first.clone();
        for _ in 0..5 {
            let next = Pca2::fit_aligned(&codes, 3, Some(&prev));
            assert!(close(&prev, &next), "{:?} → {:?}", prev.axes, next.axes);
            prev = next;
        }
        // A previous view with flipped axes is followed, not overridden.
        let mut flipped = first.clone();
        for a in &mut flipped.axes {
            a.iter_mut().for_each(|v| *v = -*v);
        }
        assert!(close(
            &flipped,
            &Pca2::fit_aligned(&codes, 3, Some(&flipped))
        ));
    }

    /// The items' coordinates in a view.
    fn view(p: &Pca2, codes: &[f32]) -> Vec<[f32; 2]> {
        codes
            .chunks_exact(p.mean.len())
            .map(|c| p.project(c))
            .collect()
    }

    /// `codes` with their coordinates (a, b) in the plane of `p` moved to `f(a, b)`.
    fn move_in_plane(codes: &[f32], p: &Pca2, f: impl Fn(f32, f32) -> (f32, f32)) -> Vec<f32> {
        let dim = p.mean.len();
        let mut out = Vec::with_capacity(codes.len());
        for row in codes.chunks_exact(dim) {
            let [a, b] = p.project(row);
            let (a2, b2) = f(a, b);
            out.extend(
                (0..dim).map(|i| row[i] + (a2 - a) * p.axes[0][i] + (b2 - b) * p.axes[1][i]),
            );
        }
        out
    }

    #[test]
    fn the_items_keep_their_orientation_when_the_codes_turn() {
        // The encoder's code space turns between two snapshots: first by 120° in the plane
        // of the two long axes (the principal axes come out pointing against the previous
        // ones), then mirrored along the second axis. The items' layout is the same, so the
        // view must be too.
        let before = cloud(1000, &[3.0, 1.5, 0.3], 5);
        let (c, s) = ((120f32).to_radians().cos(), (120f32).to_radians().sin());
        let first = Pca2::fit(&before, 3);
        let old = view(&first, &before);
        let turned = move_in_plane(&before, &first, |a, b| (c * a - s * b, s * a + c * b));
        let mirrored = move_in_plane(&before, &first, |a, b| (a, -b));
        for (what, codes) in [("turned by 120°", &turned), ("mirrored", &mirrored)] {
            let mut next = Pca2::fit_aligned(codes, 3, Some(&first));
            next.orient_like(codes, &old);
            let new = view(&next, codes);
            // The new view is a signed copy of the old coordinates (PCA of a turned cloud
            // has the same axes up to sign); each axis must agree with the old one.
            for k in 0..2 {
                let agree: f32 = old.iter().zip(&new).map(|(o, n)| o[k] * n[k]).sum();
                let size: f32 = old.iter().map(|o| o[k] * o[k]).sum();
                assert!(
                    agree > 0.99 * size,
                    "{what}: axis {k} agrees {agree} of {size}"
                );
            }
        }
        // Without an earlier view, or with one of other items, nothing changes.
        let mut same = Pca2::fit_aligned(&mirrored, 3, Some(&first));
        let plain = same.clone();
        same.orient_like(&mirrored, &old[1..]);
        assert_eq!(same, plain);
    }

    #[test]
    fn low_dimensions_do_not_panic() {
        let empty = Pca2::fit(&[1.0, 2.0], 0);
        assert!(empty.mean.is_empty() && empty.axes[0].is_empty());
        assert_eq!(empty.project(&[]), [0.0, 0.0]);
        let line = Pca2::fit(&[1.0, 2.0, 3.0], 1);
        assert_eq!(line.axes, [vec![1.0], vec![0.0]]);
        assert_eq!(line.project(&[3.0]), [1.0, 0.0]);
        let none = Pca2::fit(&[], 3);
        assert_orthonormal(&none, "no codes");
    }
}
