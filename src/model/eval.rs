//! Evaluation on a split: every loss term in nats per item, plus the ELBO and an
//! importance-weighted estimate of log p(x) for VAEs.

use super::{Autoencoder, batch_tensor};
use crate::data::Split;
use crate::rng::PortableRng;
use candle_core::{D, Result, Tensor};
use serde::{Deserialize, Serialize};

/// Rows per forward pass during evaluation.
const EVAL_CHUNK: usize = 1000;

/// Test or train metrics of one model, per item, in nats.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Reconstruction NLL; for a VAE decoded from z sampled from q(z|x) (an honest ELBO term).
    pub recon: f64,
    /// KL(q(z|x) || p(z)); 0 for non-variational kinds.
    pub kl: f64,
    /// Sparsity or contraction penalty.
    pub penalty: f64,
    /// The objective: recon + β·kl + penalty.
    pub loss: f64,
    /// -(recon + kl), for VAEs.
    pub elbo: Option<f64>,
    /// Reconstruction NLL decoding z = μ, for VAEs.
    pub mean_code_recon: Option<f64>,
    /// For kinds that train on corrupted inputs (denoisers): the reconstruction NLL of the
    /// clean item from a corrupted one. `recon` feeds clean inputs, like every other kind.
    #[serde(default)]
    pub denoising_recon: Option<f64>,
    /// Importance-weighted estimate of log p(x), when asked for.
    pub log_px: Option<f64>,
    /// Number of importance samples behind `log_px`.
    pub iw_samples: Option<usize>,
}

/// Evaluates `model` on every item of `split`. `iw_samples > 0` adds the
/// importance-weighted log p(x) for VAEs (costs `iw_samples` decodes per item).
pub fn evaluate(
    model: &Autoencoder,
    split: &Split,
    dim: usize,
    rng: &mut PortableRng,
    iw_samples: usize,
) -> Result<Metrics> {
    let n = split.len();
    let mut sums = [0.0f64; 6]; // recon, kl, penalty, mean-code recon, log p(x), denoising
    let variational = model.config.kind.is_variational();
    let corrupts = model.config.kind.spec().corrupt.is_some();
    let iw_chunk = (EVAL_CHUNK * 8)
        .checked_div(iw_samples)
        .map_or(EVAL_CHUNK, |c| c.clamp(1, EVAL_CHUNK));
    let mut start = 0;
    while start < n {
        let end = (start + EVAL_CHUNK).min(n);
        let idx: Vec<usize> = (start..end).collect();
        let x = batch_tensor(split.gather(&idx, dim), dim)?;
        // Every kind is scored on clean inputs, so the numbers compare across kinds.
        let t = model.clean_loss_terms(&x, rng)?;
        sums[0] += sum(&t.recon)?;
        if corrupts {
            sums[5] += sum(&model.loss_terms(&x, rng)?.recon)?;
        }
        sums[1] += sum(&t.kl)?;
        sums[2] += sum(&t.penalty)?;
        if variational {
            let (mu, _) = model.encode(&x)?;
            sums[3] += sum(&model.recon_nll(&model.decode_raw(&mu)?, &x)?)?;
            if iw_samples > 0 {
                let mut s = start;
                while s < end {
                    let e = (s + iw_chunk).min(end);
                    let idx: Vec<usize> = (s..e).collect();
                    let xs = batch_tensor(split.gather(&idx, dim), dim)?;
                    sums[4] += sum(&log_px_iw(model, &xs, iw_samples, rng)?)?;
                    s = e;
                }
            }
        }
        start = end;
    }
    let n = n.max(1) as f64;
    let (recon, kl, penalty) = (sums[0] / n, sums[1] / n, sums[2] / n);
    Ok(Metrics {
        recon,
        kl,
        penalty,
        loss: recon + model.kl_weight() * kl + penalty,
        elbo: variational.then_some(-(recon + kl)),
        mean_code_recon: variational.then_some(sums[3] / n),
        denoising_recon: corrupts.then_some(sums[5] / n),
        log_px: (variational && iw_samples > 0).then_some(sums[4] / n),
        iw_samples: (variational && iw_samples > 0).then_some(iw_samples),
    })
}

fn sum(t: &Tensor) -> Result<f64> {
    Ok(f64::from(t.sum_all()?.to_scalar::<f32>()?))
}

/// log p(x) ≈ log (1/k) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), per row.
pub fn log_px_iw(
    model: &Autoencoder,
    x: &Tensor,
    k: usize,
    rng: &mut PortableRng,
) -> Result<Tensor> {
    let (mu, logvar) = model.encode(x)?;
    let Some(logvar) = logvar else {
        return Tensor::zeros(x.dim(0)?, candle_core::DType::F32, x.device());
    };
    let (b, d) = mu.dims2()?;
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    // Repeat every row k times: (b*k, d).
    let rep = |t: &Tensor| -> Result<Tensor> {
        t.unsqueeze(1)?
            .repeat((1, k, 1))?
            .reshape((b * k, t.dim(1)?))
    };
    let (mu_r, lv_r, x_r) = (rep(&mu)?, rep(&logvar)?, rep(x)?);
    let eps = Autoencoder::standard_normal(rng, b * k, d)?;
    let z = (&mu_r + (lv_r.affine(0.5, 0.0)?.exp()? * &eps)?)?;
    let log_pxz = model.recon_nll(&model.decode_raw(&z)?, &x_r)?.neg()?;
    let log_pz = ((z.sqr()? * -0.5)? - half_log_2pi)?.sum(D::Minus1)?;
    let log_qz = (((eps.sqr()? + &lv_r)? * -0.5)? - half_log_2pi)?.sum(D::Minus1)?;
    let log_w = ((log_pxz + log_pz)? - log_qz)?.reshape((b, k))?;
    // Stable log-mean-exp over the k samples.
    let max = log_w.max_keepdim(1)?;
    let lse = (log_w.broadcast_sub(&max)?.exp()?.sum_keepdim(1)?.log()? + max)?;
    (lse - (k as f64).ln())?.squeeze(1)
}
