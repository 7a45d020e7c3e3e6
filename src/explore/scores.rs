//! Scores of a set of codes: active units (Burda et al. 2016) and the mutual information
//! gap (Chen et al. 2018). The arithmetic lives in `model::metrics`, below the trainer,
//! so test rows in `metrics.jsonl` carry the same numbers; this is where the window and
//! the `codes` command take them from.

pub use crate::model::metrics::{
    ACTIVE_UNIT_VARIANCE, MIG_BINS, active_units, code_variances, discrete_entropy, histogram_bins,
    mig, mutual_information,
};

/// What a set of codes scores.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeScores {
    /// Dimensions of the codes.
    pub latent_dim: usize,
    /// Dimensions whose codes vary by more than [`ACTIVE_UNIT_VARIANCE`].
    pub active_units: usize,
    /// MIG against the factors; `None` without factors.
    pub mig: Option<f64>,
}

/// The scores of `codes` (rows of `latent_dim` values) against `factors` (`k` values per
/// row; `k = 0` for a set without factors).
pub fn score_codes(codes: &[f32], latent_dim: usize, factors: &[u32], k: usize) -> CodeScores {
    CodeScores {
        latent_dim,
        active_units: active_units(codes, latent_dim),
        mig: mig(codes, latent_dim, factors, k),
    }
}
