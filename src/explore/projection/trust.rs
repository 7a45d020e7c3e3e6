//! Trustworthiness (Venna & Kaski 2001), as scikit-learn's `manifold.trustworthiness`.

use super::{ProjectionError, check_codes, knn::squared_distance};

/// How far the `k` nearest neighbours of each point on the plane are its neighbours among
/// the codes: 1 when every one is among its `k` nearest codes, lower as they come from
/// further away.
///
/// T(k) = 1 − 2/(n·k·(2n − 3k − 1)) · Σᵢ Σ_{j ∈ Uᵢ} max(0, r(i, j) − k), where Uᵢ are the k
/// nearest points of i on the plane and r(i, j) is the rank of j among the codes by
/// distance from i (1 for the nearest). Needs k < n/2, as scikit-learn. O(n²·d): 10,000
/// codes of 16 dimensions take a few seconds.
pub fn trustworthiness(
    codes: &[f32],
    dim: usize,
    points: &[[f32; 2]],
    k: usize,
) -> Result<f64, ProjectionError> {
    let count = check_codes(codes, dim)?;
    if count != points.len() {
        return Err(ProjectionError::Mismatch {
            codes: count,
            points: points.len(),
        });
    }
    if k == 0 || 2 * k >= count {
        return Err(ProjectionError::NeighboursTooMany { k, count });
    }
    if let Some(row) = points
        .iter()
        .position(|p| !p[0].is_finite() || !p[1].is_finite())
    {
        return Err(ProjectionError::NonFinite { row });
    }
    let rows: Vec<&[f32]> = codes.chunks_exact(dim).collect();
    let mut penalty = 0u64;
    let mut on_plane: Vec<(f64, usize)> = Vec::with_capacity(count);
    let mut among_codes: Vec<f64> = vec![0.0; count];
    for i in 0..count {
        on_plane.clear();
        on_plane.extend((0..count).filter(|&j| j != i).map(|j| {
            let (dx, dy) = (
                f64::from(points[i][0]) - f64::from(points[j][0]),
                f64::from(points[i][1]) - f64::from(points[j][1]),
            );
            (dx * dx + dy * dy, j)
        }));
        on_plane.select_nth_unstable_by(k - 1, |x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        for (j, d) in among_codes.iter_mut().enumerate() {
            *d = if j == i {
                f64::INFINITY
            } else {
                squared_distance(rows[i], rows[j])
            };
        }
        for &(_, j) in &on_plane[..k] {
            let dj = among_codes[j];
            // Rank among the codes: 1 + how many codes are strictly nearer (ties by index,
            // as a stable sort would order them).
            let rank = 1 + among_codes
                .iter()
                .enumerate()
                .filter(|&(l, &d)| d < dj || (d == dj && l < j))
                .count();
            penalty += rank.saturating_sub(k) as u64;
        }
    }
    let (n, k) = (count as f64, k as f64);
    Ok(1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * penalty as f64)
}
