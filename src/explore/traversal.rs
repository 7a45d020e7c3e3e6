//! Latent traversals: each dimension of z walked from −3 to +3 with the others held, the
//! dimensions sorted by how much the model uses them, and which are active units (Burda et
//! al. 2016). Shared by the window's Traversals tab and `traversals.png`.

use super::mean_kl_per_dim;

/// Columns of a row: the steps from −3 to +3.
pub const STEPS: [f32; 7] = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0];

/// A dimension whose mean code varies less than this over the items is inactive
/// (Burda et al. 2016: active when Cov_x(E_q[z_i]) > 0.01): the one threshold of the
/// scores, so the tab and `metrics.jsonl` count the same units.
pub use super::scores::ACTIVE_UNIT_VARIANCE as ACTIVE_VARIANCE;

/// One dimension's row: which dimension, how much it is used, whether it is active.
#[derive(Clone, Debug, PartialEq)]
pub struct DimRow {
    /// The dimension (0-based).
    pub dim: usize,
    /// Mean KL in nats (variational kinds), or `None`.
    pub kl: Option<f64>,
    /// Variance of the mean code over the items.
    pub variance: f64,
    /// Cov_x(E_q[z_i]) > 0.01.
    pub active: bool,
}

/// Mean and variance of each dimension of `codes` (`d` values per item).
pub fn code_moments(codes: &[f32], d: usize) -> Vec<(f64, f64)> {
    let n = codes.len().checked_div(d).unwrap_or(0);
    (0..d)
        .map(|i| {
            if n == 0 {
                return (0.0, 0.0);
            }
            let values = || codes.chunks_exact(d).map(|c| f64::from(c[i]));
            let mean = values().sum::<f64>() / n as f64;
            let var = values().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            (mean, var)
        })
        .collect()
}

/// The rows of a model (its codes `d` values per item, and σ for a variational one), most
/// used first: by mean KL for the variational kinds, by the
/// codes' variance for the others; ties keep the dimensions' order.
pub fn dim_rows(codes: &[f32], sigmas: Option<&[f32]>, d: usize) -> Vec<DimRow> {
    let moments = code_moments(codes, d);
    let kl = sigmas
        .map(|s| mean_kl_per_dim(codes, s, d))
        .filter(|kl| kl.len() == d);
    let mut rows: Vec<DimRow> = (0..d)
        .map(|i| DimRow {
            dim: i,
            kl: kl.as_ref().map(|kl| kl[i]),
            variance: moments[i].1,
            active: moments[i].1 > ACTIVE_VARIANCE,
        })
        .collect();
    rows.sort_by(|a, b| {
        let used = |r: &DimRow| r.kl.unwrap_or(r.variance);
        used(b).total_cmp(&used(a)).then(a.dim.cmp(&b.dim))
    });
    rows
}

/// The codes of a model's traversal: for each row, `base` with that dimension set to its
/// centre plus each step times its scale (1 for the prior's σ; the codes' standard
/// deviation for the others), row after row.
pub fn traversal_codes(base: &[f32], rows: &[DimRow], scales: &[f32]) -> Vec<f32> {
    let mut codes = Vec::with_capacity(rows.len() * STEPS.len() * base.len());
    for r in rows {
        for t in STEPS {
            let mut z = base.to_vec();
            z[r.dim] += t * scales[r.dim];
            codes.extend(z);
        }
    }
    codes
}

/// A model's traversal: its rows, and the codes to decode (row after row, [`STEPS`] each)
/// around `around` (or the centre: the origin for a variational model, the codes' mean
/// otherwise), in steps of the prior's σ (variational) or each dimension's spread.
pub fn plan(
    codes: &[f32],
    sigmas: Option<&[f32]>,
    d: usize,
    variational: bool,
    around: Option<&[f32]>,
) -> (Vec<DimRow>, Vec<f32>) {
    let rows = dim_rows(codes, sigmas, d);
    let moments = code_moments(codes, d);
    let base: Vec<f32> = match around.filter(|a| a.len() == d) {
        Some(code) => code.to_vec(),
        None if variational => vec![0.0; d],
        None => moments.iter().map(|&(mean, _)| mean as f32).collect(),
    };
    let scales: Vec<f32> = if variational {
        vec![1.0; d]
    } else {
        moments
            .iter()
            .map(|&(_, v)| v.sqrt().max(1e-3) as f32)
            .collect()
    };
    let walk = traversal_codes(&base, &rows, &scales);
    (rows, walk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_and_active_units_follow_burda() {
        // Dimension 0 copies a spread-out value, dimension 1 barely moves (variance
        // 0.0025 < 0.01), dimension 2 is constant: one active unit.
        let codes: Vec<f32> = (0..4)
            .flat_map(|i| {
                let x = i as f32;
                [x, 0.1 * (x % 2.0), 5.0]
            })
            .collect();
        let m = code_moments(&codes, 3);
        // Closed forms: values 0,1,2,3 have mean 1.5 and variance 1.25; 0,0.1,0,0.1 mean
        // 0.05 and variance 0.0025.
        assert!((m[0].0 - 1.5).abs() < 1e-9 && (m[0].1 - 1.25).abs() < 1e-9);
        assert!((m[1].0 - 0.05).abs() < 1e-7 && (m[1].1 - 0.0025).abs() < 1e-7);
        assert!((m[2].0 - 5.0).abs() < 1e-9 && m[2].1.abs() < 1e-12);
    }

    #[test]
    fn a_traversal_moves_one_dimension_per_row_by_its_scale() {
        let rows = [
            DimRow {
                dim: 1,
                kl: None,
                variance: 4.0,
                active: true,
            },
            DimRow {
                dim: 0,
                kl: None,
                variance: 0.0,
                active: false,
            },
        ];
        let codes = traversal_codes(&[10.0, 20.0], &rows, &[0.5, 2.0]);
        assert_eq!(codes.len(), 2 * STEPS.len() * 2);
        // Row one walks z2 from 20 − 3·2 to 20 + 3·2, z1 stays 10.
        let first: Vec<[f32; 2]> = codes[..14].chunks(2).map(|c| [c[0], c[1]]).collect();
        assert_eq!(first[0], [10.0, 14.0]);
        assert_eq!(first[3], [10.0, 20.0]);
        assert_eq!(first[6], [10.0, 26.0]);
        // Row two walks z1 by 0.5 a step.
        assert_eq!(&codes[14..16], &[8.5, 20.0]);
        assert_eq!(&codes[26..28], &[11.5, 20.0]);
    }
}
