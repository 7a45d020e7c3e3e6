//! The KL term of a variational kind's objective, as its knobs choose it at one step of
//! training: β·KL (the VAE, β = 1, and the β-VAE), free bits (Kingma et al. 2016, "Improved
//! variational inference with inverse autoregressive flow": Σ_j max(λ, KL_j)) or a capacity
//! target (Burgess et al. 2018, "Understanding disentangling in β-VAE": γ·|KL − C|, C
//! rising over training).
//!
//! Only what training minimises changes: every loss a model reports (curves, `losses.csv`,
//! `metrics.jsonl`, the inspector) is still the reconstruction and the true KL per item.
//! The hand-written backward pass weighs each dimension's KL gradient by
//! [`KlTerm::dim_weights`]; autograd differentiates [`KlTerm::objective`].

use super::kinds::unused_because;
use super::{LossTerms, ModelConfig};
use candle_core::{Result, Tensor};

/// Where the objective's schedules stand at one training step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// The KL warm-up's factor, 0 to 1 (1 without warm-up); it scales the whole KL term.
    pub kl_scale: f64,
    /// Training steps taken before this one: the capacity's ramp counts them.
    pub steps_done: u64,
}

impl Schedule {
    /// The first step of a run without warm-up.
    pub const START: Schedule = Schedule {
        kl_scale: 1.0,
        steps_done: 0,
    };

    /// The step after `steps_done` steps, with the warm-up's factor `kl_scale`.
    pub fn new(kl_scale: f64, steps_done: u64) -> Self {
        Self {
            kl_scale,
            steps_done,
        }
    }
}

/// The KL term of the objective at one step, per item in nats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KlTerm {
    /// `weight · KL`: β (β-VAE) or 1, times the warm-up. Today's VAE and β-VAE.
    Weighted {
        /// The KL's weight.
        weight: f64,
    },
    /// `weight · Σ_j max(floor, KL_j)`, KL_j the batch mean of dimension j's KL: no
    /// gradient pushes a dimension whose KL is below the floor further down.
    FreeBits {
        /// The warm-up's factor (times β, were a kind to have both).
        weight: f64,
        /// λ, nats per dimension.
        floor: f64,
    },
    /// `weight · |KL − target|`, KL the batch mean: the KL is pulled towards the target from
    /// either side.
    Capacity {
        /// γ times the warm-up's factor.
        weight: f64,
        /// C at this step, nats.
        target: f64,
    },
}

impl KlTerm {
    /// The KL term of `config`'s objective at `at`. A knob at 0 is off: capacity 0 and
    /// free bits 0 give exactly the `Weighted` term of a kind without them.
    pub fn of(config: &ModelConfig, at: Schedule) -> Self {
        let knob = |key: &str| config.kind.knob(key).map(|_| f64::from(config.number(key)));
        if let Some(c_max) = knob("capacity").filter(|&c| c > 0.0) {
            let gamma = knob("gamma").unwrap_or(0.0);
            return KlTerm::Capacity {
                weight: gamma * at.kl_scale,
                target: capacity_at(c_max, knob("capacity_steps").unwrap_or(0.0), at),
            };
        }
        let weight = kl_weight(config) * at.kl_scale;
        match knob("free_bits").filter(|&f| f > 0.0) {
            Some(floor) => KlTerm::FreeBits { weight, floor },
            None => KlTerm::Weighted { weight },
        }
    }

    /// The term's value from the batch-mean KL `kl` (nats per item) and each dimension's
    /// batch-mean KL `kl_dims` (they sum to `kl`).
    pub fn value(&self, kl: f64, kl_dims: &[f64]) -> f64 {
        match *self {
            KlTerm::Weighted { weight } => weight * kl,
            KlTerm::FreeBits { weight, floor } => {
                weight * kl_dims.iter().map(|&k| k.max(floor)).sum::<f64>()
            }
            KlTerm::Capacity { weight, target } => weight * (kl - target).abs(),
        }
    }

    /// ∂term/∂KL_j for each dimension j: the weight of dimension j's KL gradient. At a kink
    /// the side autograd takes (candle's |x|' is +1 at 0); a dimension exactly at the floor
    /// gets 0 (candle splits it in halves; a tie of two floats does not happen in training).
    pub fn dim_weights(&self, kl: f64, kl_dims: &[f64]) -> Vec<f64> {
        match *self {
            KlTerm::Weighted { weight } => vec![weight; kl_dims.len()],
            KlTerm::FreeBits { weight, floor } => kl_dims
                .iter()
                .map(|&k| if k > floor { weight } else { 0.0 })
                .collect(),
            KlTerm::Capacity { weight, target } => {
                let sign = if kl - target >= 0.0 { 1.0 } else { -1.0 };
                vec![weight * sign; kl_dims.len()]
            }
        }
    }

    /// The batch mean of the objective on tensors, for autograd: `terms` per item and, for
    /// free bits, the KL of each item and dimension `kl_dims` (batch, latent).
    pub fn objective(&self, terms: &LossTerms<Tensor>, kl_dims: Option<&Tensor>) -> Result<Tensor> {
        let rest = || (&terms.recon + &terms.penalty)?.mean_all();
        match *self {
            KlTerm::Weighted { weight } => terms.objective(weight),
            KlTerm::FreeBits { weight, floor } => {
                let Some(kl_dims) = kl_dims else {
                    candle_core::bail!("free bits need the KL of each dimension")
                };
                let floored = kl_dims.mean(0)?.maximum(floor)?.sum_all()?;
                rest()? + (floored * weight)?
            }
            KlTerm::Capacity { weight, target } => {
                let gap = (terms.kl.mean_all()? - target)?.abs()?;
                rest()? + (gap * weight)?
            }
        }
    }
}

/// C after `at.steps_done` steps: `c_max · min(1, steps_done / steps)` (C_max at once if
/// `steps` is 0).
pub fn capacity_at(c_max: f64, steps: f64, at: Schedule) -> f64 {
    if steps > 0.0 {
        c_max * (at.steps_done as f64 / steps).min(1.0)
    } else {
        c_max
    }
}

/// True if `config`'s objective weighs its KL by β: its kind has β and no knob switches β
/// off (capacity above 0 does: see [`super::kinds::KNOB_SWITCHES`]).
pub fn uses_beta(config: &ModelConfig) -> bool {
    config.kind.knob("beta").is_some()
        && unused_because("beta", |key| config.knobs.get(key).cloned()).is_none()
}

/// The KL weight of the reported total loss (recon + weight·KL + penalty) and of the
/// `Weighted` term: β while the objective uses it, else 1.
pub fn kl_weight(config: &ModelConfig) -> f64 {
    if uses_beta(config) {
        f64::from(config.number("beta"))
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests;
