//! The importance-weighted autoencoder's objective (Burda, Grosse & Salakhutdinov 2016,
//! "Importance weighted autoencoders"): the k-sample bound
//! L_k = E log (1/k) Σ_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x) reparameterised, which is the
//! ELBO at k = 1 and rises towards log p(x) as k grows. Any kind with the knob `k`
//! ([`super::kinds::IW_SAMPLES`]) trains on −L_k, batch mean, through autograd.
//!
//! What it reports: the total loss is −L_k (the training curve is the bound itself, the same
//! estimate on the batch it stepped on; on the test set, with fresh samples); recon and KL
//! stay the one-sample ELBO's terms (the first sample's reconstruction, the analytic KL), so
//! the gap recon + KL − (−L_k) is what the k samples gain. The importance weights are
//! `iw_log_weights` and `log_mean_exp` (below), the same arithmetic as the test set's
//! log p(x) and the inspector's bound.

use super::kinds::IW_SAMPLES;
use super::{Adam, Autoencoder, LossMeans, LossTerms, ModelConfig, ModelKind, Schedule, loss};
use crate::rng::PortableRng;
use candle_core::{D, Result, Tensor};

/// True if `kind` trains on the importance-weighted bound (it has the knob `k`): its total
/// loss is −L_k, not recon + KL.
pub fn trains_on_bound(kind: ModelKind) -> bool {
    kind.knob(IW_SAMPLES.key).is_some()
}

/// The number of importance samples `config`'s objective uses: `Some(k)` if its kind trains
/// on the importance-weighted bound (has the knob `k`), else `None`.
pub fn samples(config: &ModelConfig) -> Option<usize> {
    let knob = config.kind.knob(IW_SAMPLES.key)?;
    let k = config.number(knob.key);
    // The knob's check refuses fractions and values below 1; a file edited by hand that
    // slips past it still gets a whole, positive k.
    Some(if k.is_finite() {
        k.round().max(1.0) as usize
    } else {
        1
    })
}

/// The k-sample bound of a batch, and the one-sample ELBO's terms beside it.
pub struct Bound {
    /// L_k per row, (batch,): log (1/k) Σ_i w_i.
    pub log_bound: Tensor,
    /// What training maximises per row: L_k with the warm-up's factor on log p(z) − log q(z|x)
    /// inside each weight (`log_bound` itself without warm-up).
    pub objective: Tensor,
    /// The ELBO's terms per row: recon of the first sample z_1, the analytic KL, no penalty.
    pub terms: LossTerms<Tensor>,
}

/// L_k of model input `input` (batch, input) with `k` samples per row drawn from `rng`
/// (ε of shape (batch·k, latent), row i's samples at rows i·k … i·k + k − 1, so k = 1 draws
/// exactly the ε the VAE's loss draws). `prior_weight` scales log p(z) − log q(z|x) in each
/// weight for the objective: the KL warm-up's factor (1: the bound itself).
pub fn bound(
    model: &Autoencoder,
    input: &Tensor,
    k: usize,
    prior_weight: f64,
    rng: &mut PortableRng,
) -> Result<Bound> {
    let k = k.max(1);
    let (mu, logvar) = model.encode(input)?;
    let Some(logvar) = logvar else {
        candle_core::bail!(
            "{} has no posterior q(z|x), so no importance-weighted bound",
            model.config.kind
        )
    };
    let (b, d) = mu.dims2()?;
    let repeat = |t: &Tensor| -> Result<Tensor> {
        let cols = t.dim(1)?;
        t.unsqueeze(1)?
            .broadcast_as((b, k, cols))?
            .contiguous()?
            .reshape((b * k, cols))
    };
    let (mu_r, logvar_r, input_r) = (repeat(&mu)?, repeat(&logvar)?, repeat(input)?);
    let eps = Autoencoder::standard_normal(rng, b * k, d)?;
    let z = (&mu_r + (logvar_r.affine(0.5, 0.0)?.exp()? * &eps)?)?;
    let log_pxz = model
        .recon_nll(&model.decode_given(&z, &input_r)?, &input_r)?
        .neg()?;
    let log_w = iw_log_weights(&log_pxz, &z, &eps, &logvar_r)?;
    let log_bound = log_mean_exp(&log_w.reshape((b, k))?)?;
    let objective = if prior_weight == 1.0 {
        log_bound.clone()
    } else {
        let prior_minus_q = (&log_w - &log_pxz)?;
        let warmed = (&log_pxz + (prior_minus_q * prior_weight)?)?;
        log_mean_exp(&warmed.reshape((b, k))?)?
    };
    let recon = log_pxz
        .reshape((b, k))?
        .narrow(1, 0, 1)?
        .squeeze(1)?
        .neg()?;
    let kl = loss::kl_each_dim(&mu, &logvar)?.sum(D::Minus1)?;
    let penalty = kl.zeros_like()?;
    Ok(Bound {
        log_bound,
        objective,
        terms: LossTerms { recon, kl, penalty },
    })
}

/// One optimiser step on −L_k (batch mean, the warm-up's factor from `at`): the batch means
/// of the ELBO's terms and, as the loss, −L_k; `None`, without stepping, if anything is NaN
/// or infinite.
pub fn train_step(
    model: &Autoencoder,
    opt: &mut Adam,
    x: &Tensor,
    k: usize,
    rng: &mut PortableRng,
    at: Schedule,
) -> Result<Option<LossMeans>> {
    let bound = bound(model, x, k, at.kl_scale, rng)?;
    let objective = bound.objective.mean_all()?.neg()?;
    let value: f32 = objective.to_scalar()?;
    let neg_bound = -f64::from(bound.log_bound.mean_all()?.to_scalar::<f32>()?);
    let terms = bound.terms.means()?;
    if !value.is_finite() || !neg_bound.is_finite() || !terms.is_finite() {
        return Ok(None);
    }
    opt.backward_step(&objective)?;
    Ok(Some(LossMeans {
        terms,
        loss: neg_bound,
    }))
}

/// The importance weights' logs, log p(x|z) + log p(z) − log q(z|x), one per row of
/// `z = μ + σ·ε` (`log_pxz`: one value per row; `z`, `eps`, `logvar`: rows × latent dims).
/// The one copy of this arithmetic: `eval::log_px_iw` (through [`bound`], the IWAE's
/// training objective) and the inspector's bound (`inspect::bound`) call it.
pub fn iw_log_weights(
    log_pxz: &Tensor,
    z: &Tensor,
    eps: &Tensor,
    logvar: &Tensor,
) -> Result<Tensor> {
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let log_pz = ((z.sqr()? * -0.5)? - half_log_2pi)?.sum(D::Minus1)?;
    let log_qz = (((eps.sqr()? + logvar)? * -0.5)? - half_log_2pi)?.sum(D::Minus1)?;
    (log_pxz + log_pz)? - log_qz
}

/// log (1/k) Σ exp(w) over each row of `log_w` (rows × k), computed stably: the
/// importance-weighted bound from k log weights.
pub fn log_mean_exp(log_w: &Tensor) -> Result<Tensor> {
    let k = log_w.dim(1)?;
    let max = log_w.max_keepdim(1)?;
    let lse = (log_w.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + max)?;
    (lse - (k as f64).ln())?.squeeze(1)
}

#[cfg(test)]
mod tests;
