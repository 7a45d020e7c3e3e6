//! A model's scores in the window: its active units (Burda et al. 2016) and, on a data set
//! with known factors, its mutual information gap (Chen et al. 2018), both on the display
//! items of the latest snapshot. The numbers come from `explore::scores`, the same code as
//! the test rows of `metrics.jsonl` (which score the whole test split, so they can differ
//! a little from what the window shows).

use crate::data::Dataset;
use crate::explore::scores::{
    ACTIVE_UNIT_VARIANCE, CodeScores, MIG_BINS, discrete_entropy, histogram_bins,
    mutual_information, score_codes,
};
use crate::train::{ModelSnapshot, Snapshot};

/// The factors of `m`'s display items, `k` per item, with `k`; `None` where `ds` has no
/// factors for every one of those items.
fn display_factors(m: &ModelSnapshot, snap: &Snapshot, ds: &Dataset) -> Option<(Vec<u32>, usize)> {
    let k = ds.factor_names.len();
    let n = m.codes.len().checked_div(m.latent_dim).unwrap_or(0);
    let factors: Vec<u32> = snap
        .display_indices
        .iter()
        .take(n)
        .flat_map(|&t| ds.test.factors_of(t, k).iter().copied())
        .collect();
    // Every item needs all its factors, or the rows of codes and factors would not match.
    (k > 0 && n > 0 && factors.len() == n * k).then_some((factors, k))
}

/// The scores of `m`'s display codes; MIG only where `ds` has factors for those items.
pub fn of_model(m: &ModelSnapshot, snap: &Snapshot, ds: &Dataset) -> CodeScores {
    let (factors, k) = display_factors(m, snap, ds).unwrap_or_default();
    score_codes(&m.codes, m.latent_dim, &factors, k)
}

/// For each code dimension, the factor it says most about and how much: the mutual
/// information of the binned dimension (as MIG bins it) with the factor over the factor's
/// entropy, 0 to 1. Empty on a set without factors; `None` for a dimension that says
/// nothing measurable about any factor.
pub fn dim_factors(m: &ModelSnapshot, snap: &Snapshot, ds: &Dataset) -> Vec<Option<(usize, f64)>> {
    let Some((factors, k)) = display_factors(m, snap, ds) else {
        return Vec::new();
    };
    let d = m.latent_dim;
    let columns: Vec<Vec<usize>> = (0..k)
        .map(|f| {
            factors
                .iter()
                .skip(f)
                .step_by(k)
                .map(|&v| v as usize)
                .collect()
        })
        .collect();
    let entropies: Vec<f64> = columns.iter().map(|c| discrete_entropy(c)).collect();
    (0..d)
        .map(|j| {
            let values: Vec<f64> = m
                .codes
                .iter()
                .skip(j)
                .step_by(d)
                .map(|&v| f64::from(v))
                .collect();
            let bins = histogram_bins(&values, MIG_BINS)?;
            columns
                .iter()
                .zip(&entropies)
                .enumerate()
                .filter(|(_, (_, h))| **h > 0.0)
                .map(|(f, (c, h))| (f, mutual_information(&bins, c) / h))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .filter(|&(_, share)| share > 0.0)
        })
        .collect()
}

/// "7 of 20 active units · MIG 0.23", the line under a model's heading.
pub fn text(s: &CodeScores) -> String {
    let units = format!("{} of {} active units", s.active_units, s.latent_dim);
    match s.mig {
        Some(mig) => format!("{units} · MIG {mig:.2}"),
        None => units,
    }
}

/// What the line means, for its hover text.
pub fn hover(with_mig: bool) -> String {
    let units = format!(
        "Active units (Burda et al. 2016): dimensions whose mean code μ_j varies by more than \
         {ACTIVE_UNIT_VARIANCE} (variance) over the test items shown. A dimension below it \
         is the same for every input: the model does not use it."
    );
    if with_mig {
        format!(
            "{units}\n\nMIG, the mutual information gap (Chen et al. 2018): for each factor of \
             the data, the information about it in the most informative dimension minus that \
             in the second, over the factor's entropy, averaged over the factors (codes cut \
             into 20 bins, as disentanglement_lib). 1: each factor lives in one dimension of \
             its own (disentangled); 0: none does."
        )
    } else {
        units
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{self, Sizes};
    use crate::model::{Autoencoder, Likelihood, ModelConfig, ModelKind};
    use rand::SeedableRng;

    /// A model snapshot of the given codes (`d` values per display item).
    fn model(codes: Vec<f32>, d: usize, dim: usize) -> ModelSnapshot {
        let mut config = ModelConfig::new(ModelKind::Ae, dim, Likelihood::Bernoulli);
        config.hidden = vec![4];
        config.latent_dim = d;
        let mut rng = crate::rng::PortableRng::seed_from_u64(1);
        let ae = Autoencoder::new(config.clone(), &mut rng).unwrap();
        ModelSnapshot {
            name: "ae".into(),
            kind: ModelKind::Ae,
            latent_dim: d,
            decoder: std::sync::Arc::new(ae.decoder_snapshot().unwrap()),
            encoder: Default::default(),
            config,
            codes,
            sigmas: None,
            recon: Vec::new(),
            noisy_inputs: None,
            recon_losses: Vec::new(),
            diverged: false,
        }
    }

    fn snapshot(display_indices: Vec<usize>) -> Snapshot {
        Snapshot {
            step: 1,
            epoch: 0,
            display_labels: vec![0; display_indices.len()],
            display_indices,
            recon_indices: Vec::new(),
            recon_inputs: Vec::new(),
            models: Vec::new(),
        }
    }

    /// Codes that copy each of item `t`'s factors into a dimension of their own, plus one
    /// dimension that never moves, for the display items `shown`.
    fn factor_codes(ds: &Dataset, shown: &[usize]) -> Vec<f32> {
        let k = ds.factor_names.len();
        shown
            .iter()
            .flat_map(|&t| {
                let mut code: Vec<f32> =
                    ds.test.factors_of(t, k).iter().map(|&v| v as f32).collect();
                code.push(0.5);
                code
            })
            .collect()
    }

    #[test]
    fn factors_copied_into_their_own_dimensions_are_the_active_units_and_score_a_high_mig() {
        let ds = data::load_with_sizes(
            "sprites",
            3,
            Some(Sizes {
                train: 4,
                test: 1000,
            }),
        )
        .unwrap();
        let k = ds.factor_names.len();
        let shown: Vec<usize> = (0..ds.test.len()).collect();
        let m = model(factor_codes(&ds, &shown), k + 1, ds.dim());
        let s = of_model(&m, &snapshot(shown), &ds);
        // Every factor varies over 400 sprites; the last dimension is constant.
        assert_eq!((s.active_units, s.latent_dim), (k, k + 1));
        let mig = s.mig.expect("sprites have factors");
        // Each factor's information is all in its own dimension; the second most informative
        // dimension holds only the plug-in estimate's bias on 400 items.
        assert!(mig > 0.6, "MIG {mig}");
        assert!(text(&s).starts_with(&format!("{k} of {} active units · MIG ", k + 1)));
    }

    #[test]
    fn display_items_are_matched_to_their_own_factors() {
        let ds = data::load_with_sizes(
            "sprites",
            3,
            Some(Sizes {
                train: 4,
                test: 1000,
            }),
        )
        .unwrap();
        let k = ds.factor_names.len();
        // The display shows the test items in reverse: each code follows its own item.
        let shown: Vec<usize> = (0..ds.test.len()).rev().collect();
        let m = model(factor_codes(&ds, &shown), k + 1, ds.dim());
        let in_order = of_model(&m, &snapshot(shown), &ds).mig.unwrap();
        // Read against items 0, 1, 2, … instead, the same codes no longer match.
        let forward: Vec<usize> = (0..ds.test.len()).collect();
        let mismatched = of_model(&m, &snapshot(forward), &ds).mig.unwrap();
        assert!(in_order > 0.6, "MIG {in_order}");
        assert!(mismatched < 0.3, "MIG {mismatched} on codes of other items");
    }

    #[test]
    fn each_dimension_names_the_factor_it_copies() {
        let ds = data::load_with_sizes(
            "sprites",
            3,
            Some(Sizes {
                train: 4,
                test: 1000,
            }),
        )
        .unwrap();
        let k = ds.factor_names.len();
        // Dimension j holds factor k-1-j (reversed), and the last dimension is constant.
        let shown: Vec<usize> = (0..ds.test.len()).collect();
        let codes: Vec<f32> = shown
            .iter()
            .flat_map(|&t| {
                let f = ds.test.factors_of(t, k);
                let mut code: Vec<f32> = f.iter().rev().map(|&v| v as f32).collect();
                code.push(0.5);
                code
            })
            .collect();
        let m = model(codes, k + 1, ds.dim());
        let found = dim_factors(&m, &snapshot(shown), &ds);
        assert_eq!(found.len(), k + 1);
        for (j, f) in found.iter().take(k).enumerate() {
            let (factor, share) = f.expect("a copied factor is found");
            assert_eq!(factor, k - 1 - j, "dimension {j}");
            // Shape has 3 values: 20 bins keep it whole; x and y (32 values) lose a little.
            assert!(share > 0.8, "dimension {j}: {share}");
        }
        assert_eq!(found[k], None, "a constant dimension says nothing");
    }

    #[test]
    fn a_set_without_factors_has_no_mig() {
        let ds = data::load_with_sizes("digits", 3, Some(Sizes { train: 4, test: 50 })).unwrap();
        let shown: Vec<usize> = (0..50).collect();
        let codes = shown.iter().flat_map(|&i| [i as f32, 1.0]).collect();
        let s = of_model(&model(codes, 2, ds.dim()), &snapshot(shown), &ds);
        assert_eq!(s.mig, None);
        assert_eq!(text(&s), "1 of 2 active units");
    }
}
