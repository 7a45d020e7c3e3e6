//! Pure functions shared by the window and the figures: latent grids (inverse normal
//! CDF), interpolation, PCA, the KL per latent dimension and colours.

pub mod colors;
mod kl;
mod pca;
pub mod projection;
pub mod scores;
pub mod traversal;

pub use kl::mean_kl_per_dim;
pub use pca::{ALIGN_TOLERANCE, Pca2};

/// Inverse of the standard normal CDF, Φ⁻¹(p): Acklam's rational approximation (relative
/// error 1.2e-9) refined by one Halley step on Φ(x) = p with an accurate [`normal_cdf`].
/// Upper-half arguments use Φ⁻¹(p) = -Φ⁻¹(1 - p), where 1 - p is exact, so both tails
/// keep full precision. Absolute error below 1e-14 on (0, 1) (the tests check 22 points
/// from 1e-300 to 1 - 2⁻⁵² against 17-digit reference values); ±∞ at 0 and 1.
pub fn inverse_normal_cdf(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p > 0.5 {
        return -lower_quantile(1.0 - p);
    }
    lower_quantile(p)
}

/// Φ⁻¹(p) for p in (0, 0.5]: Acklam's start and one Halley step (cubic convergence).
fn lower_quantile(p: f64) -> f64 {
    let x = acklam_lower(p);
    let e = normal_cdf(x) - p;
    // e / φ(x); overflows only for p below about 1e-320, where Acklam's value stays.
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    if !u.is_finite() {
        return x;
    }
    x - u / (1.0 + x * u / 2.0)
}

/// Acklam's rational approximation of Φ⁻¹(p) for p in (0, 0.5].
fn acklam_lower(p: f64) -> f64 {
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
    const P_LOW: f64 = 0.02425;
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The standard normal CDF, Φ(x) = erfc(-x/√2)/2, with relative error below 1e-13 for
/// every x where Φ(x) is a normal f64 (x > -37.5); 1 - Φ(x) for large x is not resolved.
pub fn normal_cdf(x: f64) -> f64 {
    // e^(-x²/2) from x itself: going through the rounded x/√2 would cost x²·2⁻⁵³ relative.
    0.5 * erfc(-x / std::f64::consts::SQRT_2, exp_minus_half_square(x))
}

/// Complementary error function given `gauss` = e^(-x²); relative error below 1e-13.
///
/// Below 1.5 it is 1 - erf(x) with erf from its all-positive series
/// erf(x) = 2/√π · e^(-x²) · Σ 2ⁿ x^(2n+1) / (1·3···(2n+1)), which has no cancellation;
/// above, the continued fraction erfc(x) = e^(-x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + ...)))),
/// evaluated backwards from a fixed depth. Negative x use erfc(x) = 2 - erfc(-x).
fn erfc(x: f64, gauss: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x, gauss);
    }
    let two_over_sqrt_pi = std::f64::consts::FRAC_2_SQRT_PI;
    if x < 1.5 {
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= 2.0 * x * x / (2 * n + 1) as f64;
            sum += term;
            if term <= 1e-17 * sum {
                break;
            }
        }
        return 1.0 - two_over_sqrt_pi * gauss * sum;
    }
    const DEPTH: usize = 100;
    let mut f = x;
    for n in (1..=DEPTH).rev() {
        f = x + (n as f64 / 2.0) / f;
    }
    0.5 * two_over_sqrt_pi * gauss / f
}

/// e^(-x²/2) without the rounding of x² (which costs x²·2⁻⁵³ relative, 1e-13 at x = 37):
/// x = h + l with h on a 1/16 grid, so h² is exact and x² = h² + l·(x + h).
fn exp_minus_half_square(x: f64) -> f64 {
    let h = (x * 16.0).trunc() / 16.0;
    let l = x - h;
    (-0.5 * h * h).exp() * (-0.5 * l * (x + h)).exp()
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
            if let Some(v) = z.get_mut(dims.0) {
                *v = x;
            }
            if let Some(v) = z.get_mut(dims.1) {
                *v = y;
            }
            out.extend_from_slice(&z);
        }
    }
    out
}

/// A float the axis-span rule works in: the window plots in f64, the figures in f32, and
/// each keeps its own literals so neither's numbers move.
pub trait SpanFloat:
    Copy
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Neg<Output = Self>
{
    /// The share of the range added on each side (5%).
    const PAD: Self;
    /// The least padding, so a single value still gets a span.
    const MIN_PAD: Self;
    /// The prior's ±3σ: the span of no codes, and the least span of a VAE's.
    const PRIOR: Self;
    /// The larger of two values.
    fn larger(self, other: Self) -> Self;
    /// The smaller of two values.
    fn smaller(self, other: Self) -> Self;
}

macro_rules! span_float {
    ($t:ty) => {
        impl SpanFloat for $t {
            const PAD: Self = 0.05;
            const MIN_PAD: Self = 1e-3;
            const PRIOR: Self = 3.0;
            fn larger(self, other: Self) -> Self {
                self.max(other)
            }
            fn smaller(self, other: Self) -> Self {
                self.min(other)
            }
        }
    };
}
span_float!(f32);
span_float!(f64);

/// The one axis-span rule of scatters and figures: the codes' range `(lo, hi)` (lo > hi when
/// there are none) widened by 5% on each side, ±3 when there are no codes, and at least ±3
/// for a variational model (its prior's ±3σ square).
pub fn axis_span<T: SpanFloat>((lo, hi): (T, T), variational: bool) -> (T, T) {
    let (lo, hi) = if lo > hi {
        (-T::PRIOR, T::PRIOR)
    } else {
        let pad = ((hi - lo) * T::PAD).larger(T::MIN_PAD);
        (lo - pad, hi + pad)
    };
    if variational {
        (lo.smaller(-T::PRIOR), hi.larger(T::PRIOR))
    } else {
        (lo, hi)
    }
}

/// The range of codes on two dimensions, widened by 5% on each side ([`axis_span`] of a
/// non-variational model).
pub fn code_range(
    codes: &[f32],
    latent_dim: usize,
    dims: (usize, usize),
) -> ((f32, f32), (f32, f32)) {
    let (x, y) = code_extent(codes, latent_dim, dims);
    (axis_span(x, false), axis_span(y, false))
}

/// The smallest and largest finite code on two dimensions; (∞, −∞) where there is none.
pub fn code_extent(
    codes: &[f32],
    latent_dim: usize,
    dims: (usize, usize),
) -> ((f32, f32), (f32, f32)) {
    let mut r = [(f32::INFINITY, f32::NEG_INFINITY); 2];
    // Dimension 0: no rows, so the default box below.
    for row in codes
        .chunks_exact(latent_dim.max(1))
        .filter(|_| latent_dim > 0)
    {
        for (k, &d) in [dims.0, dims.1].iter().enumerate() {
            if let Some(&v) = row.get(d).filter(|v| v.is_finite()) {
                r[k] = (r[k].0.min(v), r[k].1.max(v));
            }
        }
    }
    (r[0], r[1])
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ⁻¹(p) for the exact binary value of each f64 p, to 17 digits (mpmath, 60 digits:
    /// root of ln Φ(x) = ln p, checked |Φ(x)/p - 1| < 1e-30; upper half as -Φ⁻¹(1 - p)).
    #[allow(clippy::excessive_precision)] // the 17 digits mpmath printed, kept verbatim
    const QUANTILES: [(f64, f64); 22] = [
        (1e-300, -37.047_096_299_361_199),
        (1e-100, -21.273_453_560_965_324),
        (1e-20, -9.262_340_089_798_407_6),
        (1e-10, -6.361_340_902_404_056_2),
        (1e-06, -4.753_424_308_822_899),
        (0.0001, -3.719_016_485_455_680_6),
        (0.001, -3.090_232_306_167_813_5),
        (0.01, -2.326_347_874_040_841_1),
        (0.02425, -1.972_961_051_311_884_8),
        (0.024_250_1, -1.972_959_296_012_62),
        (0.1, -1.281_551_565_544_600_4),
        (0.3, -0.524_400_512_708_040_82),
        (0.5, 0.0),
        (0.6, 0.253_347_103_135_799_74),
        (0.77, 0.738_846_849_185_213_69),
        (0.9, 1.281_551_565_544_600_6),
        (0.97575, 1.972_961_051_311_885),
        (0.975, 1.959_963_984_540_053_9),
        (0.999, 3.090_232_306_167_813_3),
        (0.999_999, 4.753_424_308_817_087_8),
        (0.999_999_999, 5.997_807_019_601_637_4),
        (1.0 - f64::EPSILON, 8.125_890_664_701_906_9),
    ];

    #[test]
    fn inverse_normal_cdf_matches_reference_quantiles_to_1e_14() {
        let mut worst = 0.0f64;
        for (p, x) in QUANTILES {
            let got = inverse_normal_cdf(p);
            worst = worst.max((got - x).abs());
            assert!((got - x).abs() < 1e-14, "Φ⁻¹({p:e}) = {got}, expected {x}");
        }
        eprintln!("worst absolute error of Φ⁻¹: {worst:e}");
        assert_eq!(inverse_normal_cdf(0.0), f64::NEG_INFINITY);
        assert_eq!(inverse_normal_cdf(1.0), f64::INFINITY);
    }

    /// Φ(x) to 17 digits (mpmath, 40 digits).
    #[allow(clippy::excessive_precision)] // the 17 digits mpmath printed, kept verbatim
    const CDF: [(f64, f64); 16] = [
        (-37.5, 4.605_353_009_581_954_8e-308),
        (-20.0, 2.753_624_118_606_233_7e-89),
        (-8.0, 6.220_960_574_271_784_1e-16),
        (-5.0, 2.866_515_718_791_939_1e-7),
        (-3.5, 0.000_232_629_079_035_525_04),
        (-2.0, 0.022_750_131_948_179_207),
        (-1.0, 0.158_655_253_931_457_05),
        (-0.5, 0.308_537_538_725_986_9),
        (-0.1, 0.460_172_162_722_971_02),
        (0.0, 0.5),
        (0.3, 0.617_911_422_188_952_63),
        (1.0, 0.841_344_746_068_542_95),
        (1.7, 0.955_434_537_241_456_96),
        (2.5, 0.993_790_334_674_223_86),
        (4.0, 0.999_968_328_758_166_88),
        (7.0, 0.999_999_999_998_720_19),
    ];

    #[test]
    fn normal_cdf_matches_reference_values_relatively() {
        for (x, phi) in CDF {
            let got = normal_cdf(x);
            assert!(
                ((got - phi) / phi).abs() < 1e-13,
                "Φ({x}) = {got:e}, expected {phi:e}"
            );
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
    fn dimension_zero_gives_neutral_results() {
        assert_eq!(
            code_range(&[1.0, 2.0, 3.0], 0, (0, 1)),
            ((-3.0, 3.0), (-3.0, 3.0))
        );
        assert!(grid_codes(3, GridSpan::Prior, &[], (0, 1)).is_empty());
        // A base shorter than the chosen dimensions keeps its values.
        assert_eq!(grid_codes(1, GridSpan::Prior, &[7.0], (2, 3)), vec![7.0]);
        let pca = Pca2::fit(&[1.0, 2.0], 0);
        assert_eq!(pca.project(&[]), [0.0, 0.0]);
        assert!(pca.unproject([1.0, 2.0]).is_empty());
    }

    #[test]
    fn the_axis_span_is_the_padded_range_and_at_least_the_prior_for_a_vae() {
        // 5% of the range on each side: 0..10 → -0.5..10.5.
        assert_eq!(axis_span((0.0f64, 10.0), false), (-0.5, 10.5));
        assert_eq!(axis_span((0.0f32, 10.0), false), (-0.5, 10.5));
        // A VAE's axes reach the prior's ±3 at least, and further where codes do.
        assert_eq!(axis_span((0.0f64, 10.0), true), (-3.0, 10.5));
        assert_eq!(axis_span((-1.0f64, 1.0), true), (-3.0, 3.0));
        // One value: a span of ±0.001; no values: ±3.
        assert_eq!(axis_span((2.0f64, 2.0), false), (1.999, 2.001));
        assert_eq!(
            axis_span((f64::INFINITY, f64::NEG_INFINITY), false),
            (-3.0, 3.0)
        );
        assert_eq!(
            code_extent(&[1.0, 5.0, -2.0, f32::NAN, 3.0, 4.0], 2, (0, 1)),
            ((-2.0, 3.0), (4.0, 5.0))
        );
    }

    #[test]
    fn interpolation_hits_both_ends() {
        let v = interpolate(&[0.0, 10.0], &[1.0, 0.0], 3);
        assert_eq!(v, vec![0.0, 10.0, 0.5, 5.0, 1.0, 0.0]);
    }
}
