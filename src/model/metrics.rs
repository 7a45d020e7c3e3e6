//! Metrics of a latent space that do not need the model: k-nearest-neighbour accuracy.

/// Accuracy of a k-nearest-neighbour classifier (Euclidean, majority vote) on codes.
/// `k = 0` counts as 1; codes of dimension 0 carry no information and score 0.
pub fn knn_accuracy(
    train: &[f32],
    train_labels: &[u32],
    test: &[f32],
    test_labels: &[u32],
    dim: usize,
    k: usize,
) -> f64 {
    if dim == 0 {
        return 0.0;
    }
    let k = k.max(1);
    let classes = train_labels.iter().max().map_or(1, |m| *m as usize + 1);
    let mut correct = 0usize;
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(k + 1);
    for (q, &label) in test.chunks_exact(dim).zip(test_labels) {
        best.clear();
        for (t, &tl) in train.chunks_exact(dim).zip(train_labels) {
            let d: f32 = q.iter().zip(t).map(|(a, b)| (a - b) * (a - b)).sum();
            if best.len() < k || d < best[best.len() - 1].0 {
                let pos = best.partition_point(|(bd, _)| *bd <= d);
                best.insert(pos, (d, tl));
                best.truncate(k);
            }
        }
        let mut votes = vec![0usize; classes.max(label as usize + 1)];
        for &(_, l) in &best {
            votes[l as usize] += 1;
        }
        let predicted = votes
            .iter()
            .enumerate()
            .max_by_key(|&(c, v)| (*v, usize::MAX - c))
            .map_or(0, |(c, _)| c);
        correct += usize::from(predicted == label as usize);
    }
    correct as f64 / test_labels.len().max(1) as f64
}

/// Burda et al. (2016): latent dimension i is active when Cov_x(E_q[z_i]) exceeds this.
pub const ACTIVE_UNIT_VARIANCE: f64 = 0.01;

/// Bins of each code dimension for the mutual information gap, as disentanglement_lib.
pub const MIG_BINS: usize = 20;

/// The variance over items of each code dimension (population variance: divided by the
/// number of items), for rows of `dim` values. Empty for dimension 0; zeros for no items.
pub fn code_variances(codes: &[f32], dim: usize) -> Vec<f64> {
    if dim == 0 {
        return Vec::new();
    }
    let n = codes.len() / dim;
    let mut mean = vec![0.0f64; dim];
    for row in codes.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let mut var = vec![0.0f64; dim];
    for row in codes.chunks_exact(dim) {
        for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
            let d = f64::from(v) - m;
            *s += d * d;
        }
    }
    var.iter_mut().for_each(|s| *s /= n.max(1) as f64);
    var
}

/// How many code dimensions are active (Burda et al. 2016): the variance over items of the
/// mean code μ_i exceeds [`ACTIVE_UNIT_VARIANCE`]. A dimension with a non-finite value is
/// not counted.
pub fn active_units(codes: &[f32], dim: usize) -> usize {
    code_variances(codes, dim)
        .iter()
        .filter(|&&v| v > ACTIVE_UNIT_VARIANCE)
        .count()
}

/// Each value's bin among `bins` equal-width bins between the values' smallest and largest,
/// 0-based, as `np.digitize(x, np.histogram(x, bins)[1][:-1]) - 1` (disentanglement_lib's
/// `_histogram_discretize`): a value on an inner edge goes to the bin above it, the largest
/// value to the last bin. Equal values (numpy widens the range by ±0.5) share the middle
/// bin. `None` when a value is not finite (numpy refuses those too).
pub fn histogram_bins(values: &[f64], bins: usize) -> Option<Vec<usize>> {
    let bins = bins.max(1);
    if values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    // np.linspace(lo, hi, bins + 1): lo + i·step; its left edges are the first `bins`.
    let step = (hi - lo) / bins as f64;
    let edges: Vec<f64> = (0..bins).map(|i| lo + i as f64 * step).collect();
    Some(
        values
            .iter()
            .map(|&v| edges.partition_point(|&e| e <= v).saturating_sub(1))
            .collect(),
    )
}

/// The plug-in entropy of discrete values, in nats (Σ −p ln p over the values seen).
pub fn discrete_entropy(values: &[usize]) -> f64 {
    mutual_information(values, values)
}

/// The plug-in mutual information of two discrete variables observed together, in nats:
/// Σ p(a, b) ln(p(a, b) / (p(a) p(b))) over the contingency table of the pairs (as
/// scikit-learn's `mutual_info_score`). 0 for no pairs; extra values of the longer list are
/// ignored.
pub fn mutual_information(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let rows = a[..n].iter().max().map_or(0, |m| m + 1);
    let cols = b[..n].iter().max().map_or(0, |m| m + 1);
    let mut joint = vec![0usize; rows * cols];
    let (mut pa, mut pb) = (vec![0usize; rows], vec![0usize; cols]);
    for (&x, &y) in a.iter().zip(b).take(n) {
        joint[x * cols + y] += 1;
        pa[x] += 1;
        pb[y] += 1;
    }
    let n = n as f64;
    let mut mi = 0.0;
    for (x, row) in joint.chunks_exact(cols).enumerate() {
        for (y, &c) in row.iter().enumerate().filter(|(_, c)| **c > 0) {
            let c = c as f64;
            mi += c / n * (c * n / (pa[x] as f64 * pb[y] as f64)).ln();
        }
    }
    mi.max(0.0)
}

/// The mutual information gap (Chen et al. 2018, as disentanglement_lib's `discrete_mig`):
/// each code dimension discretised into [`MIG_BINS`] equal-width bins ([`histogram_bins`]),
/// its mutual information with each factor, and the mean over factors of the gap between
/// the two most informative dimensions divided by the factor's entropy (nats cancel).
///
/// `codes` holds rows of `dim` values; `factors` holds `k` values per row, each the index
/// of the factor's value. A factor that takes one value only (entropy 0, where
/// disentanglement_lib divides by zero) is left out of the mean; with one code dimension
/// the second-best information is 0. `None` when there is no factor with two values, no
/// item or dimension, the lists disagree in length, or a code is not finite.
pub fn mig(codes: &[f32], dim: usize, factors: &[u32], k: usize) -> Option<f64> {
    if dim == 0 || k == 0 {
        return None;
    }
    let n = codes.len() / dim;
    if n == 0 || codes.len() != n * dim || factors.len() != n * k {
        return None;
    }
    let binned: Vec<Vec<usize>> = (0..dim)
        .map(|j| {
            let column: Vec<f64> = codes
                .iter()
                .skip(j)
                .step_by(dim)
                .map(|&v| f64::from(v))
                .collect();
            histogram_bins(&column, MIG_BINS)
        })
        .collect::<Option<_>>()?;
    let mut gaps = Vec::with_capacity(k);
    for f in 0..k {
        let factor: Vec<usize> = factors
            .iter()
            .skip(f)
            .step_by(k)
            .map(|&v| v as usize)
            .collect();
        let entropy = discrete_entropy(&factor);
        if entropy <= 0.0 {
            continue;
        }
        let mut informations: Vec<f64> = binned
            .iter()
            .map(|c| mutual_information(c, &factor))
            .collect();
        informations.sort_by(|a, b| b.total_cmp(a));
        let second = informations.get(1).copied().unwrap_or(0.0);
        gaps.push((informations[0] - second) / entropy);
    }
    (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_on_separated_clusters_is_perfect_and_on_noise_is_chance() {
        let train = [0.0f32, 0.0, 0.1, 0.1, 5.0, 5.0, 5.1, 5.0];
        let labels = [0, 0, 1, 1];
        assert_eq!(
            knn_accuracy(&train, &labels, &[0.05, 0.0, 5.0, 5.1], &[0, 1], 2, 1),
            1.0
        );
        assert_eq!(
            knn_accuracy(&train, &labels, &[0.05, 0.0, 5.0, 5.1], &[1, 0], 2, 1),
            0.0
        );
    }

    #[test]
    fn dimension_zero_and_k_zero_do_not_panic() {
        assert_eq!(knn_accuracy(&[], &[0, 1], &[], &[0, 1], 0, 5), 0.0);
        let train = [0.0f32, 1.0, 10.0];
        assert_eq!(
            knn_accuracy(&train, &[0, 0, 1], &[9.0, 0.2], &[1, 0], 1, 0),
            1.0
        );
    }

    /// Rows of `dim` codes from a function of (item, dimension).
    fn matrix(n: usize, dim: usize, f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        (0..n)
            .flat_map(|i| (0..dim).map(move |j| (i, j)))
            .map(|(i, j)| f(i, j))
            .collect()
    }

    /// A noise value in [0, 1) from an integer hash (no RNG: the same on every machine).
    fn noise(i: usize, salt: usize) -> f32 {
        ((i.wrapping_mul(2_654_435_761).wrapping_add(salt * 40_503) >> 7) % 10_007) as f32
            / 10_007.0
    }

    #[test]
    fn active_units_count_population_variances_above_one_hundredth() {
        // Four items. Dimension 0: ±0.2 (variance 0.04, active); 1: ±0.05 (0.0025); 2:
        // constant; 3: ±0.09, population variance 0.0081 (inactive) but sample variance
        // 0.0108 (it would count if divided by n − 1); 4: ±0.11 (0.0121, active).
        let sign = |i: usize| if i.is_multiple_of(2) { 1.0 } else { -1.0 };
        let codes = matrix(4, 5, |i, j| {
            sign(i) * [0.2, 0.05, 0.0, 0.09, 0.11][j] + j as f32
        });
        let var = code_variances(&codes, 5);
        for (got, want) in var.iter().zip([0.04, 0.0025, 0.0, 0.0081, 0.0121]) {
            assert!((got - want).abs() < 1e-6, "{var:?}");
        }
        assert_eq!(active_units(&codes, 5), 2);
        assert_eq!(active_units(&[], 5), 0);
        assert_eq!(active_units(&codes, 0), 0);
        // A non-finite code does not make a dimension active.
        assert_eq!(active_units(&[f32::NAN, 0.0, 1.0, 0.0], 2), 0);
    }

    #[test]
    fn mutual_information_of_a_hand_table_is_its_closed_form() {
        // a = (0, 0, 1, 1), b = (0, 1, 1, 1): I = H(b) − H(b | a), H(b) = −¼ ln ¼ − ¾ ln ¾,
        // and b given a is a fair coin when a = 0 (ln 2) and certain when a = 1.
        let (a, b) = ([0, 0, 1, 1], [0, 1, 1, 1]);
        let h_b = -(0.25 * 0.25f64.ln() + 0.75 * 0.75f64.ln());
        let closed = h_b - 0.5 * 2f64.ln();
        assert!((closed - 0.215_761_554_3).abs() < 1e-9, "{closed}");
        assert!((mutual_information(&a, &b) - closed).abs() < 1e-12);
        assert!((mutual_information(&b, &a) - closed).abs() < 1e-12);
        // Entropy of three equally likely values; independent variables share nothing.
        assert!((discrete_entropy(&[0, 1, 2, 2, 1, 0]) - 3f64.ln()).abs() < 1e-12);
        assert!(mutual_information(&[0, 0, 1, 1], &[0, 1, 0, 1]).abs() < 1e-12);
        assert_eq!(mutual_information(&[], &[1]), 0.0);
    }

    #[test]
    fn histogram_bins_follow_numpy() {
        // np.digitize(x, np.histogram(x, 4)[1][:-1]) - 1 for x below: edges 0, 1, 2, 3 (and
        // 4); an inner edge belongs to the bin above it, the largest value to the last.
        let x = [0.0, 0.5, 1.0, 2.999, 3.0, 4.0];
        assert_eq!(histogram_bins(&x, 4), Some(vec![0, 0, 1, 2, 3, 3]));
        // Equal values: numpy's range becomes ±0.5 around them, the middle bin.
        assert_eq!(histogram_bins(&[2.0, 2.0], 20), Some(vec![10, 10]));
        assert_eq!(histogram_bins(&[1.0, f64::NAN], 20), None);
    }

    #[test]
    fn one_factor_in_one_dimension_gives_mig_near_one() {
        // Factor (4 values) copied into dimension 0; noise in dimensions 1 and 2.
        let n = 4000;
        let factor: Vec<u32> = (0..n).map(|i| (i % 4) as u32).collect();
        let codes = matrix(n, 3, |i, j| match j {
            0 => factor[i] as f32,
            _ => noise(i, j),
        });
        let m = mig(&codes, 3, &factor, 1).unwrap();
        assert!(m > 0.97, "MIG {m}");
    }

    #[test]
    fn codes_independent_of_the_factors_give_mig_near_zero() {
        // Noise of four kinds: continuous, and three, two and five values. Continuous values
        // taken as categories without binning would each name one item, and so "explain"
        // every factor (MIG 1); the 20 bins keep that bias small.
        let n = 4000;
        let factors: Vec<u32> = (0..n)
            .flat_map(|i| [(i % 3) as u32, ((i / 3) % 5) as u32])
            .collect();
        let codes = matrix(n, 4, |i, j| match j {
            0 => noise(i, 1),
            1 => (noise(i, 6) * 3.0).floor(),
            2 => (noise(i, 7) * 2.0).floor(),
            _ => (noise(i, 8) * 5.0).floor(),
        });
        let m = mig(&codes, 4, &factors, 2).unwrap();
        assert!(m.abs() < 0.03, "MIG {m}");
    }

    #[test]
    fn a_factor_copied_into_two_dimensions_gives_mig_near_zero() {
        let n = 3000;
        let factor: Vec<u32> = (0..n).map(|i| (i % 6) as u32).collect();
        let codes = matrix(n, 3, |i, j| match j {
            0 => factor[i] as f32,
            1 => 2.0 * factor[i] as f32 - 1.0,
            _ => noise(i, 9),
        });
        let m = mig(&codes, 3, &factor, 1).unwrap();
        assert!(m.abs() < 1e-9, "MIG {m}");
    }

    #[test]
    fn mig_matches_disentanglement_lib_on_a_fixed_matrix() {
        // The same matrix in numpy 2.4 with disentanglement_lib's discretisation
        // (np.histogram, np.digitize) and a plug-in mutual information: 0.3808623534170741.
        let (n, dim, k) = (600, 4, 2);
        let f0 = |i: usize| i % 3;
        let f1 = |i: usize| (i * 7 + i / 5) % 5;
        let codes = matrix(n, dim, |i, j| {
            let noise = ((i * 7919 + 13) % 1000) as f64 / 1000.0;
            (match j {
                0 => f0(i) as f64 + 0.3 * noise,
                1 => ((i * 104_729 + 7) % 997) as f64 / 100.0,
                2 => f1(i) as f64 * 0.5 + ((i * 31) % 17) as f64 / 10.0,
                _ => f0(i) as f64 * 0.2 + f1(i) as f64 * 0.1,
            }) as f32
        });
        let factors: Vec<u32> = (0..n).flat_map(|i| [f0(i) as u32, f1(i) as u32]).collect();
        let m = mig(&codes, dim, &factors, k).unwrap();
        assert!((m - 0.380_862_353_417_074_1).abs() < 1e-9, "MIG {m}");
    }

    #[test]
    fn mig_is_none_without_factors_or_codes() {
        assert_eq!(mig(&[1.0, 2.0], 1, &[], 0), None);
        assert_eq!(mig(&[], 1, &[], 1), None);
        // A factor with one value has no entropy to explain.
        assert_eq!(mig(&[1.0, 2.0], 1, &[0, 0], 1), None);
        // Lengths that disagree, and a non-finite code.
        assert_eq!(mig(&[1.0, 2.0], 1, &[0, 1, 0], 1), None);
        assert_eq!(mig(&[1.0, f32::NAN], 1, &[0, 1], 1), None);
        // One dimension: the second-best information is 0, so MIG is I / H = 1 here.
        let one = mig(&[0.0, 1.0, 0.0, 1.0], 1, &[0, 1, 0, 1], 1).unwrap();
        assert!((one - 1.0).abs() < 1e-12, "{one}");
    }
}
