//! A kind's penalty, the term it adds to the loss (the sparse AE's L1, the contractive
//! AE's Jacobian, the VQ-VAE's commitment): its types, apart from the kind table so that a
//! kind's own file (`vq.rs`) can define its penalty without importing the table that lists
//! it.

use super::snapshot::EncoderSnapshot;
use super::{Autoencoder, ModelConfig};
use candle_core::{Result, Tensor};

/// Everything the loss of a kind's penalty can look at, for one batch.
pub struct PenaltyInput<'a> {
    /// The model.
    pub model: &'a Autoencoder,
    /// The input the encoder saw (corrupted for a denoiser).
    pub input: &'a Tensor,
    /// The code mean μ, (batch, latent).
    pub mu: &'a Tensor,
}

/// A penalty per row, shape (batch,), in the loss's units.
pub type PenaltyFn = fn(&PenaltyInput<'_>) -> Result<Tensor>;
/// The same penalty for one item on plain numbers: the config, the frozen encoder, the item
/// and its code mean μ. What the inspector shows.
pub type ItemPenaltyFn = fn(&ModelConfig, &EncoderSnapshot, &[f32], &[f32]) -> f64;

/// A penalty's gradient on the hand-written backward pass: the shapes `model::backward`
/// knows, each with its own exhaustive arm there. Penalties of any other shape set
/// `Penalty::manual` to `None` and train through autograd.
#[derive(Clone, Copy)]
pub enum ManualPenalty {
    /// `weight · Σ f(μᵢ)` over the code's entries (the sparse AE's L1).
    OfCode(CodePenalty),
    /// `weight · ‖∂μ/∂x‖²_F` of the ReLU encoder (the contractive AE), exact for fixed ReLU
    /// masks, as the tensor loss computes it; its gradient is `backward::jacobian`.
    EncoderJacobian {
        /// The weight λ, from the kind's knobs.
        weight: fn(&ModelConfig) -> f32,
    },
}

/// `weight · Σ f(μᵢ)` over the code's entries, with `f`'s derivative.
#[derive(Clone, Copy)]
pub struct CodePenalty {
    /// The weight, from the kind's knobs.
    pub weight: fn(&ModelConfig) -> f32,
    /// `f` of one code entry.
    pub value: fn(f32) -> f64,
    /// `f'` of one code entry (where `f` has a kink, the side candle's autograd takes).
    pub derivative: fn(f32) -> f32,
}

/// A kind's penalty, every way it is computed: in training, on the manual path and in the
/// inspector.
#[derive(Clone, Copy)]
pub struct Penalty {
    /// How the inspector and captions name it ("sparsity·‖μ‖₁").
    pub label: &'static str,
    /// Per row on tensors: training through autograd and evaluation.
    pub loss: PenaltyFn,
    /// For one item on plain numbers: the inspector.
    pub of_item: ItemPenaltyFn,
    /// Its gradient on the hand-written path, or `None`: the kind trains through autograd.
    pub manual: Option<ManualPenalty>,
}
