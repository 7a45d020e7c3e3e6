//! Between two pictures of codes that change while a model trains: how far the codes have
//! moved (is a new picture worth its seconds?), and the new picture turned to match the
//! last one (t-SNE and UMAP choose their rotation and mirror freely, and a picture that
//! spins on every update hides what moved).

/// How far `after` moved from `before` (both rows of `dim` values, the same codes in the
/// same order), relative to the spread of `before`: the root-mean-square distance each
/// code moved, over the root-mean-square distance of the codes of `before` from their mean.
///
/// 0 when nothing moved; 1 when the codes moved, on average, as far as they lie from their
/// centre. `None` when the two are not the same codes (other counts or dimension), when
/// either holds a value that is not finite, or when `before` has no spread (all equal, or
/// empty) while `after` differs from it.
pub fn relative_change(before: &[f32], after: &[f32], dim: usize) -> Option<f64> {
    if dim == 0 || before.len() != after.len() || !before.len().is_multiple_of(dim) {
        return None;
    }
    if before.iter().chain(after).any(|v| !v.is_finite()) {
        return None;
    }
    let count = before.len() / dim;
    if count == 0 {
        return Some(0.0);
    }
    let mean: Vec<f64> = (0..dim)
        .map(|j| {
            before
                .iter()
                .skip(j)
                .step_by(dim)
                .map(|&v| f64::from(v))
                .sum::<f64>()
                / count as f64
        })
        .collect();
    let spread: f64 = before
        .iter()
        .enumerate()
        .map(|(i, &v)| (f64::from(v) - mean[i % dim]).powi(2))
        .sum();
    let moved: f64 = before
        .iter()
        .zip(after)
        .map(|(&a, &b)| (f64::from(b) - f64::from(a)).powi(2))
        .sum();
    if moved == 0.0 {
        return Some(0.0);
    }
    (spread > 0.0).then(|| (moved / spread).sqrt())
}

/// Turns, mirrors, scales and shifts `points` as one (a similarity transform) to lie as
/// close as it can to `reference`, point by point in the least-squares sense (Procrustes
/// analysis). Distances between the points keep their ratios, so the picture is the same;
/// only its pose follows the last one. Leaves `points` as they are when the counts differ
/// or either set has no spread.
pub fn align_to(points: &mut [[f32; 2]], reference: &[[f32; 2]]) {
    if points.len() != reference.len() || points.is_empty() {
        return;
    }
    let centre = |ps: &[[f32; 2]]| {
        let n = ps.len() as f64;
        let (x, y) = ps.iter().fold((0.0, 0.0), |(x, y), p| {
            (x + f64::from(p[0]), y + f64::from(p[1]))
        });
        [x / n, y / n]
    };
    let (c, r) = (centre(points), centre(reference));
    // Cross-covariance terms of the centred sets, and the spread of `points`.
    let (mut sxx, mut sxy, mut syx, mut syy, mut spread) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (p, q) in points.iter().zip(reference) {
        let (px, py) = (f64::from(p[0]) - c[0], f64::from(p[1]) - c[1]);
        let (qx, qy) = (f64::from(q[0]) - r[0], f64::from(q[1]) - r[1]);
        sxx += px * qx;
        sxy += px * qy;
        syx += py * qx;
        syy += py * qy;
        spread += px * px + py * py;
    }
    // The best rotation by θ scores a = (sxx + syy)·cos θ + (sxy − syx)·sin θ, at most
    // hypot(sxx + syy, sxy − syx); the best rotation after a mirror (x → −x) scores
    // hypot(syy − sxx, −sxy − syx). The larger wins; the scale is that score over the spread.
    let rotate = ((sxx + syy), (sxy - syx));
    let mirror = ((syy - sxx), (-sxy - syx));
    let (mirrored, (a, b)) = if rotate.0.hypot(rotate.1) >= mirror.0.hypot(mirror.1) {
        (false, rotate)
    } else {
        (true, mirror)
    };
    let score = a.hypot(b);
    if spread <= 0.0 || score <= 0.0 || !score.is_finite() {
        return;
    }
    let (cos, sin) = (a / score, b / score);
    let scale = score / spread;
    for p in points.iter_mut() {
        let mut x = f64::from(p[0]) - c[0];
        let y = f64::from(p[1]) - c[1];
        if mirrored {
            x = -x;
        }
        let (tx, ty) = (cos * x - sin * y, sin * x + cos * y);
        *p = [(scale * tx + r[0]) as f32, (scale * ty + r[1]) as f32];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_is_the_rms_move_over_the_rms_spread() {
        // Two 1-D codes at ±1 (spread: each 1 from the mean); one moves by 0.5:
        // sqrt(0.25 / 2) = 0.3536.
        let change = relative_change(&[-1.0, 1.0], &[-1.0, 1.5], 1).unwrap();
        assert!((change - (0.125f64).sqrt()).abs() < 1e-9, "{change}");
        // Every code shifted by its spread's RMS gives 1; nothing moved gives 0.
        let before = [0.0, 0.0, 2.0, 0.0];
        let after = [1.0, 0.0, 3.0, 0.0];
        assert!((relative_change(&before, &after, 2).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(relative_change(&before, &before, 2), Some(0.0));
        // Not the same codes, or no spread to compare with.
        assert_eq!(relative_change(&before, &after[..2], 2), None);
        assert_eq!(relative_change(&[1.0, 1.0], &[1.0, 2.0], 1), None);
        assert_eq!(relative_change(&[f32::NAN, 1.0], &[1.0, 2.0], 1), None);
    }

    #[test]
    fn a_turned_mirrored_scaled_shifted_copy_is_put_back() {
        let reference: Vec<[f32; 2]> = (0..30)
            .map(|i| {
                let t = i as f32 * 0.7;
                [
                    t.cos() * (1.0 + 0.1 * i as f32),
                    (2.0 * t).sin() + 0.05 * i as f32,
                ]
            })
            .collect();
        for mirrored in [false, true] {
            let (cos, sin) = (0.3f32.cos(), 0.3f32.sin());
            let mut moved: Vec<[f32; 2]> = reference
                .iter()
                .map(|&[x, y]| {
                    let x = if mirrored { -x } else { x };
                    [
                        3.0 * (cos * x - sin * y) + 5.0,
                        3.0 * (sin * x + cos * y) - 2.0,
                    ]
                })
                .collect();
            align_to(&mut moved, &reference);
            for (p, q) in moved.iter().zip(&reference) {
                assert!(
                    (p[0] - q[0]).abs() < 1e-4 && (p[1] - q[1]).abs() < 1e-4,
                    "mirrored {mirrored}: {p:?} vs {q:?}"
                );
            }
        }
        // Other counts: untouched.
        let mut few = vec![[1.0, 2.0]];
        align_to(&mut few, &reference);
        assert_eq!(few, [[1.0, 2.0]]);
    }
}
