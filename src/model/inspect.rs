//! The ELBO of one item, term by term, from frozen snapshots: what the inspector shows
//! beside a drawn or pinned item, and what `latentlab encode` prints.
//!
//! Plain slices and plain loops, no candle and no locks: call [`inspect`] from the UI thread
//! on every stroke with the snapshots of a `ModelSnapshot`, once per model.
//!
//! ```
//! # use latentlab::model::{Autoencoder, ModelConfig, ModelKind, Likelihood, inspect};
//! # use rand::SeedableRng;
//! # let mut rng = latentlab::rng::PortableRng::seed_from_u64(1);
//! # let config = ModelConfig::new(ModelKind::Vae, 784, Likelihood::Bernoulli);
//! # let model = Autoencoder::new(config.clone(), &mut rng).unwrap();
//! # let (encoder, decoder) = (model.encoder_snapshot().unwrap(), model.decoder_snapshot().unwrap());
//! let drawn = vec![0.0f32; 784];
//! let eps = inspect::draw_eps(&mut rng, encoder.latent_dim()); // "draw another ε"
//! let report = inspect::inspect(&config, &encoder, &decoder, &drawn, Some(&eps)).unwrap();
//! assert_eq!(report.recon_image.len(), 784);
//! assert!(report.neg_elbo.unwrap() >= report.recon_nats);
//! ```

use super::loss::POINT_SIGMA;
use super::snapshot::{DecoderSnapshot, EncoderSnapshot};
use super::{Likelihood, ModelConfig};
use crate::rng::PortableRng;
use rand_distr::{Distribution, StandardNormal};

/// One item seen by one model: its code, its reconstruction and every term of its loss,
/// in nats. `None` marks a term the kind does not have.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemReport {
    /// Code mean μ (the code itself for non-variational kinds), `latent_dim` values.
    pub mu: Vec<f32>,
    /// Posterior σ per dimension (variational kinds).
    pub sigma: Option<Vec<f32>>,
    /// The ε given, if the kind is variational; `z = μ + σ·ε`.
    pub eps: Option<Vec<f32>>,
    /// The code decoded: `μ + σ·ε`, or μ when there is no ε or no σ; a vq-vae's nearest
    /// codebook entry to μ.
    pub z: Vec<f32>,
    /// A vq-vae's nearest codebook entry to μ: its index and the Euclidean distance
    /// ‖μ − e‖; `None` for kinds without a codebook.
    pub code: Option<(usize, f64)>,
    /// The decoding of `z` in data space (pixels in [0, 1] for a Bernoulli decoder).
    pub recon_image: Vec<f32>,
    /// −log p(x|z) summed over the item's values, as the training loss computes it.
    pub recon_nats: f64,
    /// KL(q(z|x) ‖ N(0, I)) (variational kinds).
    pub kl: Option<f64>,
    /// The KL of each latent dimension; they add up to `kl`.
    pub kl_per_dim: Option<Vec<f64>>,
    /// β·KL, the KL term of a β-VAE's objective (kinds with a β knob, while β is in use:
    /// not with a capacity above 0).
    pub weighted_kl: Option<f64>,
    /// The kind's penalty at this item with its weight (sparse: sparsity·‖μ‖₁; contractive:
    /// λ‖∂μ/∂x‖²_F); `None` for kinds without one.
    pub penalty: Option<f64>,
    /// How the kind's table entry names its penalty ("sparsity·‖μ‖₁"), beside `penalty`.
    pub penalty_label: Option<&'static str>,
    /// −ELBO = recon + KL, the bound itself (variational kinds).
    pub neg_elbo: Option<f64>,
    /// What training minimises for this item: recon + β·KL + penalty, at the full KL weight
    /// (no warm-up) and with the clean input (a denoiser trains on corrupted ones). Free
    /// bits and a capacity act on a batch, not an item: for them this is recon + KL.
    pub objective: f64,
}

/// Snapshots and item that do not fit together; the message says which sizes differ.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("cannot inspect the item: {0}")]
pub struct InspectError(String);

/// Standard normal noise for `z = μ + σ·ε`, `latent_dim` values.
pub fn draw_eps(rng: &mut PortableRng, latent_dim: usize) -> Vec<f32> {
    (0..latent_dim)
        .map(|_| StandardNormal.sample(rng))
        .collect()
}

/// Encodes `x` (`input_dim` values), decodes `z = μ + σ·ε` (μ if `eps` is `None` or the
/// kind is not variational) and returns every term of its loss. `config` gives the kind,
/// its knobs (β, sparsity, contraction) and the likelihood; the snapshots give the weights.
/// A conditional kind (cvae) sees the item as class 0 ([`inspect_as`] chooses).
pub fn inspect(
    config: &ModelConfig,
    encoder: &EncoderSnapshot,
    decoder: &DecoderSnapshot,
    x: &[f32],
    eps: Option<&[f32]>,
) -> Result<ItemReport, InspectError> {
    inspect_as(config, encoder, decoder, x, eps, 0)
}

/// [`inspect`] of an item of class `class`: what a conditional kind's (cvae) encoder and
/// decoder see beside the item and the code; other kinds ignore it.
pub fn inspect_as(
    config: &ModelConfig,
    encoder: &EncoderSnapshot,
    decoder: &DecoderSnapshot,
    x: &[f32],
    eps: Option<&[f32]>,
    class: u32,
) -> Result<ItemReport, InspectError> {
    check_fit(config, encoder, decoder, x, eps)?;
    if config.condition_dim() > 0 && class as usize >= config.condition_dim() {
        return Err(InspectError(format!(
            "class {class} is not one of the model's {} classes (0 to {})",
            config.condition_dim(),
            config.condition_dim() - 1
        )));
    }
    let (mu, logvar) = encoder.encode_logvar_as(x, class);
    let sigma: Option<Vec<f32>> = logvar
        .as_ref()
        .map(|lv| lv.iter().map(|v| (0.5 * v).exp()).collect());
    let eps = eps.filter(|_| sigma.is_some()).map(<[f32]>::to_vec);
    let z = match (&sigma, &eps) {
        (Some(s), Some(e)) => mu
            .iter()
            .zip(s)
            .zip(e)
            .map(|((m, s), e)| m + s * e)
            .collect(),
        _ => mu.clone(),
    };
    // A vq-vae decodes the entry nearest to μ (its decoder snapshot snaps any code too).
    let code = encoder
        .codebook
        .as_ref()
        .filter(|c| !c.is_empty())
        .map(|c| {
            let (k, d2) = c.nearest(&mu);
            (k, f64::from(d2).sqrt())
        });
    let z = match (&encoder.codebook, code) {
        (Some(c), Some((k, _))) => c.entry(k).to_vec(),
        _ => z,
    };
    let raw = decoder.decode_raw_as(&z, class);
    let recon_nats = recon_nll(config.likelihood, &raw, x);
    let recon_image = match config.likelihood {
        Likelihood::Bernoulli => raw.iter().map(|&l| sigmoid(l)).collect(),
        Likelihood::Gaussian => raw,
    };
    let kl_per_dim: Option<Vec<f64>> = logvar.map(|lv| kl_per_dim(&mu, &lv));
    let kl = kl_per_dim.as_ref().map(|k| k.iter().sum::<f64>());
    // β·KL while β is in use. Free bits and a capacity are objectives of a batch (a floor on
    // each dimension's batch mean, a target for the batch's KL), not of one item: for those
    // the inspector shows the item's true terms and no "what training minimises" of its own.
    let weighted_kl = kl
        .filter(|_| super::objective::uses_beta(config))
        .map(|k| f64::from(config.number("beta")) * k);
    let penalty = penalty(config, encoder, x, &mu);
    let objective = recon_nats + weighted_kl.or(kl).unwrap_or(0.0) + penalty.unwrap_or(0.0);
    Ok(ItemReport {
        neg_elbo: kl.map(|k| recon_nats + k),
        mu,
        sigma,
        eps,
        z,
        code,
        recon_image,
        recon_nats,
        kl,
        kl_per_dim,
        weighted_kl,
        penalty,
        penalty_label: config.kind.penalty().map(|p| p.label),
        objective,
    })
}

/// Every size agrees: item, encoder, decoder, ε; the kind and the snapshots agree too.
fn check_fit(
    config: &ModelConfig,
    encoder: &EncoderSnapshot,
    decoder: &DecoderSnapshot,
    x: &[f32],
    eps: Option<&[f32]>,
) -> Result<(), InspectError> {
    let fail = |m: String| Err(InspectError(m));
    if x.len() != encoder.input_dim() || x.len() != decoder.output_dim() {
        return fail(format!(
            "the item has {} values, the encoder takes {} and the decoder gives {}",
            x.len(),
            encoder.input_dim(),
            decoder.output_dim()
        ));
    }
    if encoder.latent_dim() != decoder.latent_dim() || encoder.latent_dim() == 0 {
        return fail(format!(
            "the encoder gives codes of {} values but the decoder takes {}",
            encoder.latent_dim(),
            decoder.latent_dim()
        ));
    }
    if encoder.is_variational() != config.kind.is_variational() {
        return fail(format!(
            "the encoder {} a σ head but a {} {}",
            if encoder.is_variational() {
                "has"
            } else {
                "lacks"
            },
            config.kind,
            if config.kind.is_variational() {
                "needs one"
            } else {
                "has none"
            }
        ));
    }
    if let Some(e) = eps.filter(|e| e.len() != encoder.latent_dim()) {
        return fail(format!(
            "ε has {} values but the code has {}",
            e.len(),
            encoder.latent_dim()
        ));
    }
    Ok(())
}

fn sigmoid(l: f32) -> f32 {
    1.0 / (1.0 + (-l).exp())
}

/// −log p(x|raw) summed over values, with the formulas of [`super::loss`]: stable BCE from
/// logits, or a Gaussian of σ = [`POINT_SIGMA`] around the means.
fn recon_nll(likelihood: Likelihood, raw: &[f32], x: &[f32]) -> f64 {
    match likelihood {
        Likelihood::Bernoulli => raw
            .iter()
            .zip(x)
            .map(|(&l, &t)| {
                let (l, t) = (f64::from(l), f64::from(t));
                l.max(0.0) - l * t + (-l.abs()).exp().ln_1p()
            })
            .sum(),
        Likelihood::Gaussian => {
            let var = POINT_SIGMA * POINT_SIGMA;
            let sq: f64 = raw
                .iter()
                .zip(x)
                .map(|(&m, &t)| (f64::from(m) - f64::from(t)).powi(2))
                .sum();
            0.5 * sq / var + 0.5 * x.len() as f64 * (2.0 * std::f64::consts::PI * var).ln()
        }
    }
}

/// ½(σ² + μ² − 1 − log σ²) per dimension: KL(N(μ, σ²) ‖ N(0, 1)).
fn kl_per_dim(mu: &[f32], logvar: &[f32]) -> Vec<f64> {
    mu.iter()
        .zip(logvar)
        .map(|(&m, &lv)| {
            let (m, lv) = (f64::from(m), f64::from(lv));
            0.5 * (lv.exp() + m * m - 1.0 - lv)
        })
        .collect()
}

/// The kind's penalty at `x`, weighted as in training (its table entry computes it).
fn penalty(config: &ModelConfig, encoder: &EncoderSnapshot, x: &[f32], mu: &[f32]) -> Option<f64> {
    config
        .kind
        .penalty()
        .map(|p| (p.of_item)(config, encoder, x, mu))
}

pub mod bound;

#[cfg(test)]
mod tests;
