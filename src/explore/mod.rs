//! Pure functions shared by the window and the figures: latent grids (inverse normal
//! CDF), interpolation, PCA and colours.

pub mod colors;

/// Inverse of the standard normal CDF (Acklam's rational approximation, refined by one
/// Newton step; absolute error below 1e-9 on (0, 1)).
pub fn inverse_normal_cdf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383_577_518_672_69e2,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let p_low = 0.02425;
    let x = if p < p_low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - p_low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Newton step on Φ(x) - p.
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// The standard normal CDF, Φ(x) = erfc(-x/√2)/2.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' erfcc, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Which part of latent space a plot shows, on two chosen axes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GridSpan {
    /// Quantiles of the prior N(0, 1) per axis: cell centres at Φ⁻¹((i + ½)/k) (VAE).
    Prior,
    /// A box in code space: ((x_min, x_max), (y_min, y_max)) (AE: its codes' range).
    Range((f32, f32), (f32, f32)),
}

/// The coordinates along one axis of a k-cell grid, low to high.
pub fn grid_axis(k: usize, span: GridSpan, axis: usize) -> Vec<f32> {
    (0..k)
        .map(|i| {
            let t = (i as f64 + 0.5) / k as f64;
            match span {
                GridSpan::Prior => inverse_normal_cdf(t) as f32,
                GridSpan::Range(x, y) => {
                    let (lo, hi) = if axis == 0 { x } else { y };
                    lo + (hi - lo) * t as f32
                }
            }
        })
        .collect()
}

/// Codes for a k×k grid, row by row from the top (highest y) so it reads like a plot.
/// Dimensions `dims.0` and `dims.1` vary; every other one is held at `base`.
pub fn grid_codes(k: usize, span: GridSpan, base: &[f32], dims: (usize, usize)) -> Vec<f32> {
    let xs = grid_axis(k, span, 0);
    let ys = grid_axis(k, span, 1);
    let mut out = Vec::with_capacity(k * k * base.len());
    for &y in ys.iter().rev() {
        for &x in &xs {
            let mut z = base.to_vec();
            z[dims.0] = x;
            if dims.1 < z.len() {
                z[dims.1] = y;
            }
            out.extend_from_slice(&z);
        }
    }
    out
}

/// The range of codes on two dimensions, widened by 5% on each side.
pub fn code_range(
    codes: &[f32],
    latent_dim: usize,
    dims: (usize, usize),
) -> ((f32, f32), (f32, f32)) {
    let mut r = [(f32::INFINITY, f32::NEG_INFINITY); 2];
    for row in codes.chunks_exact(latent_dim.max(1)) {
        for (k, &d) in [dims.0, dims.1].iter().enumerate() {
            if let Some(&v) = row.get(d).filter(|v| v.is_finite()) {
                r[k] = (r[k].0.min(v), r[k].1.max(v));
            }
        }
    }
    let widen = |(lo, hi): (f32, f32)| {
        if lo > hi {
            return (-3.0, 3.0);
        }
        let pad = ((hi - lo) * 0.05).max(1e-3);
        (lo - pad, hi + pad)
    };
    (widen(r[0]), widen(r[1]))
}

/// `steps` points on the straight line from `a` to `b`, both ends included.
pub fn interpolate(a: &[f32], b: &[f32], steps: usize) -> Vec<f32> {
    let steps = steps.max(2);
    (0..steps)
        .flat_map(|i| {
            let t = i as f32 / (steps - 1) as f32;
            a.iter().zip(b).map(move |(x, y)| x + (y - x) * t)
        })
        .collect()
}

/// A 2-D PCA projection of codes: the mean and the two leading directions.
#[derive(Clone, Debug, PartialEq)]
pub struct Pca2 {
    /// Mean code.
    pub mean: Vec<f32>,
    /// Unit-length first and second principal directions.
    pub axes: [Vec<f32>; 2],
}

impl Pca2 {
    /// Fits by power iteration with deflation on the covariance matrix.
    pub fn fit(codes: &[f32], dim: usize) -> Self {
        let n = (codes.len() / dim.max(1)).max(1);
        let mut mean = vec![0.0f64; dim];
        for row in codes.chunks_exact(dim) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v) / n as f64;
            }
        }
        let mut cov = vec![0.0f64; dim * dim];
        for row in codes.chunks_exact(dim) {
            for i in 0..dim {
                let di = f64::from(row[i]) - mean[i];
                for j in 0..dim {
                    cov[i * dim + j] += di * (f64::from(row[j]) - mean[j]) / n as f64;
                }
            }
        }
        let mut axes: [Vec<f32>; 2] = [vec![0.0; dim], vec![0.0; dim]];
        for (a, axis) in axes.iter_mut().enumerate() {
            let mut v: Vec<f64> = (0..dim)
                .map(|i| 1.0 + (i as f64 * 0.618).sin() * 0.5 + a as f64 * i as f64)
                .collect();
            let mut lambda = 0.0;
            for _ in 0..200 {
                let mut w = vec![0.0f64; dim];
                for i in 0..dim {
                    for j in 0..dim {
                        w[i] += cov[i * dim + j] * v[j];
                    }
                }
                let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
                if norm < 1e-12 {
                    break;
                }
                lambda = norm;
                v = w.iter().map(|x| x / norm).collect();
            }
            // Deflate so the next iteration finds the next direction.
            for i in 0..dim {
                for j in 0..dim {
                    cov[i * dim + j] -= lambda * v[i] * v[j];
                }
            }
            *axis = v.iter().map(|&x| x as f32).collect();
        }
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            axes,
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
            .enumerate()
            .map(|(i, m)| m + p[0] * self.axes[0][i] + p[1] * self.axes[1][i])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_normal_cdf_known_values() {
        for (p, x) in [
            (0.5, 0.0),
            (0.975, 1.959_963_984_540_054),
            (0.841_344_746_068_543, 1.0),
            (0.001, -3.090_232_306_167_813),
        ] {
            let got = inverse_normal_cdf(p);
            assert!((got - x).abs() < 1e-6, "Φ⁻¹({p}) = {got}, expected {x}");
        }
        for p in [1e-6, 0.01, 0.3, 0.77, 0.999] {
            assert!((normal_cdf(inverse_normal_cdf(p)) - p).abs() < 1e-7);
        }
    }

    #[test]
    fn prior_grid_is_symmetric_and_top_row_first() {
        let axis = grid_axis(5, GridSpan::Prior, 0);
        assert!(axis[2].abs() < 1e-6);
        assert!((axis[0] + axis[4]).abs() < 1e-6);
        assert!((axis[4] - inverse_normal_cdf(0.9) as f32).abs() < 1e-6);
        let codes = grid_codes(
            3,
            GridSpan::Range((0.0, 3.0), (0.0, 3.0)),
            &[9.0, 9.0, 7.0],
            (0, 1),
        );
        assert_eq!(&codes[..3], &[0.5, 2.5, 7.0], "first cell: left, top");
        assert_eq!(
            &codes[codes.len() - 3..],
            &[2.5, 0.5, 7.0],
            "last cell: right, bottom"
        );
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
    fn interpolation_hits_both_ends() {
        let v = interpolate(&[0.0, 10.0], &[1.0, 0.0], 3);
        assert_eq!(v, vec![0.0, 10.0, 0.5, 5.0, 1.0, 0.0]);
    }
}
