//! A hand-written forward and backward pass for the MLP family: the same objective and the
//! same gradients as candle's autograd (tested against it), without the graph: matrix
//! products through candle, everything element-wise in single passes over plain slices,
//! and no gradient for the network's input.
//!
//! Used by the kinds whose table entry says `Gradients::Manual`. The kind's penalty must
//! be one this file knows (none, or the L1 on μ of the sparse AE).

use super::{Autoencoder, Likelihood, loss};
use crate::rng::PortableRng;
use candle_core::{Device, Result, Tensor};

/// The result of one pass: gradients in the order of [`Autoencoder::vars`], the batch means
/// of (recon, kl, penalty) and the objective.
pub struct Pass {
    /// One flat gradient per variable, in `vars()` order.
    pub grads: Vec<Vec<f32>>,
    /// Batch means of the reconstruction, KL and penalty terms.
    pub means: [f64; 3],
    /// The batch mean of recon + kl_weight·KL + penalty.
    pub objective: f64,
}

/// A dense layer's output before its activation, and the input it saw.
struct Cached {
    input: Tensor,
    pre: Vec<f32>,
}

/// Forward and backward for one batch. `rng` is drawn exactly as `loss_terms` draws it:
/// the kind's corruption first, then ε for variational kinds.
pub fn pass(
    model: &Autoencoder,
    x: &Tensor,
    rng: &mut PortableRng,
    kl_weight: f64,
) -> Result<Pass> {
    let (batch, _) = x.dims2()?;
    let latent = model.config.latent_dim;
    let input = model.corrupt(x, rng)?;
    // Encoder trunk: ReLU after every layer.
    let mut trunk = Vec::new();
    let mut h = input;
    for layer in &model.trunk.layers {
        let pre = layer.forward(&h)?;
        let pre_v = flat(&pre)?;
        let next = Tensor::from_vec(relu(&pre_v), pre.shape(), &Device::Cpu)?;
        trunk.push(Cached {
            input: h,
            pre: pre_v,
        });
        h = next;
    }
    let mu = flat(&model.mu_head.forward(&h)?)?;
    let logvar = match &model.logvar_head {
        Some(head) => Some(flat(&head.forward(&h)?)?),
        None => None,
    };
    let eps = match logvar {
        Some(_) => Some(flat(&Autoencoder::standard_normal(rng, batch, latent)?)?),
        None => None,
    };
    let z = sample_z(&mu, logvar.as_deref(), eps.as_deref());
    // Decoder: ReLU between layers, none after the last.
    let mut decoder = Vec::new();
    let mut d = Tensor::from_vec(z, (batch, latent), &Device::Cpu)?;
    let n_dec = model.decoder.layers.len();
    for (i, layer) in model.decoder.layers.iter().enumerate() {
        let pre = layer.forward(&d)?;
        let pre_v = flat(&pre)?;
        let next = if i + 1 < n_dec {
            Tensor::from_vec(relu(&pre_v), pre.shape(), &Device::Cpu)?
        } else {
            pre.clone()
        };
        decoder.push(Cached {
            input: d,
            pre: pre_v,
        });
        d = next;
    }
    let target = flat(x)?;
    let out = decoder.last().map(|c| c.pre.as_slice()).unwrap_or(&[]);
    let (recon_sum, d_out) = recon_and_grad(model.config.likelihood, out, &target, batch);
    let terms = Terms {
        mu: &mu,
        logvar: logvar.as_deref(),
        eps: eps.as_deref(),
        batch,
        kl_weight,
        sparsity: sparsity(model),
    };
    let (kl_sum, penalty_sum) = terms.sums();
    let b = batch as f64;
    let means = [recon_sum / b, kl_sum / b, penalty_sum / b];
    let objective = means[0] + kl_weight * means[1] + means[2];
    let grads = backward(model, &trunk, &decoder, d_out, &terms)?;
    Ok(Pass {
        grads,
        means,
        objective,
    })
}

/// The L1 weight of a sparse model (0 for others).
fn sparsity(model: &Autoencoder) -> f32 {
    if model.config.kind.knob("sparsity").is_some() {
        model.config.number("sparsity")
    } else {
        0.0
    }
}

/// What the code's gradient needs: μ, log σ², ε and the weights of KL and L1.
struct Terms<'a> {
    mu: &'a [f32],
    logvar: Option<&'a [f32]>,
    eps: Option<&'a [f32]>,
    batch: usize,
    kl_weight: f64,
    sparsity: f32,
}

impl Terms<'_> {
    /// Batch sums of the KL and of the L1 penalty.
    fn sums(&self) -> (f64, f64) {
        let kl = self.logvar.map_or(0.0, |lv| {
            self.mu
                .iter()
                .zip(lv)
                .map(|(&m, &l)| 0.5 * f64::from(l.exp() + m * m - 1.0 - l))
                .sum()
        });
        let l1: f64 = self.mu.iter().map(|m| f64::from(m.abs())).sum();
        (kl, f64::from(self.sparsity) * l1)
    }

    /// Gradients of the batch-mean objective with respect to μ and log σ², given dz.
    fn code_grads(&self, dz: &[f32]) -> (Vec<f32>, Option<Vec<f32>>) {
        let inv_b = 1.0 / self.batch as f32;
        let w = (self.kl_weight as f32) * inv_b;
        let l1 = self.sparsity * inv_b;
        let kl_on = self.logvar.is_some();
        let d_mu: Vec<f32> = self
            .mu
            .iter()
            .zip(dz)
            .map(|(&m, &g)| {
                // candle's abs has slope +1 at 0; so does this.
                let sign = if m >= 0.0 { 1.0 } else { -1.0 };
                g + if kl_on { w * m } else { 0.0 } + l1 * sign
            })
            .collect();
        let d_lv = match (self.logvar, self.eps) {
            (Some(lv), Some(eps)) => Some(
                lv.iter()
                    .zip(eps)
                    .zip(dz)
                    .map(|((&l, &e), &g)| g * e * 0.5 * (0.5 * l).exp() + w * 0.5 * (l.exp() - 1.0))
                    .collect(),
            ),
            _ => None,
        };
        (d_mu, d_lv)
    }
}

/// z = μ + exp(½ log σ²)·ε for a VAE, μ otherwise.
fn sample_z(mu: &[f32], logvar: Option<&[f32]>, eps: Option<&[f32]>) -> Vec<f32> {
    match (logvar, eps) {
        (Some(lv), Some(e)) => mu
            .iter()
            .zip(lv)
            .zip(e)
            .map(|((&m, &l), &e)| m + (0.5 * l).exp() * e)
            .collect(),
        _ => mu.to_vec(),
    }
}

/// The batch sum of the reconstruction NLL and its gradient (of the batch mean) with
/// respect to the decoder's output, in one pass.
fn recon_and_grad(
    likelihood: Likelihood,
    out: &[f32],
    target: &[f32],
    batch: usize,
) -> (f64, Vec<f32>) {
    let inv_b = 1.0 / batch as f32;
    let mut sum = 0.0f64;
    let grad = match likelihood {
        Likelihood::Bernoulli => out
            .iter()
            .zip(target)
            .map(|(&l, &t)| {
                sum += f64::from(l.max(0.0) - l * t + (-l.abs()).exp().ln_1p());
                (1.0 / (1.0 + (-l).exp()) - t) * inv_b
            })
            .collect(),
        Likelihood::Gaussian => {
            let var = (loss::POINT_SIGMA * loss::POINT_SIGMA) as f32;
            let dim = out.len() / batch.max(1);
            let constant = 0.5 * dim as f64 * (2.0 * std::f64::consts::PI * f64::from(var)).ln();
            sum += constant * batch as f64;
            out.iter()
                .zip(target)
                .map(|(&m, &t)| {
                    sum += f64::from(0.5 * (m - t) * (m - t) / var);
                    (m - t) / var * inv_b
                })
                .collect()
        }
    };
    (sum, grad)
}

/// Back-propagates `d_out` through the decoder, the code and the encoder.
fn backward(
    model: &Autoencoder,
    trunk: &[Cached],
    decoder: &[Cached],
    d_out: Vec<f32>,
    terms: &Terms<'_>,
) -> Result<Vec<Vec<f32>>> {
    let batch = terms.batch;
    let mut dec_grads = Vec::new();
    let mut d_pre = d_out;
    for (i, (layer, cache)) in model.decoder.layers.iter().zip(decoder).enumerate().rev() {
        let (n_in, n_out) = layer.dims();
        let d = Tensor::from_vec(d_pre, (batch, n_out), &Device::Cpu)?;
        dec_grads.push(dense_grads(&cache.input, &d)?);
        let d_in = flat(&d.matmul(&layer.w.as_tensor().t()?)?)?;
        d_pre = match i.checked_sub(1) {
            Some(prev) => relu_back(d_in, &decoder[prev].pre),
            None => d_in,
        };
        debug_assert_eq!(d_pre.len(), batch * n_in);
    }
    dec_grads.reverse();
    let (d_mu, d_lv) = terms.code_grads(&d_pre);
    let latent = model.config.latent_dim;
    let Some(last) = trunk.last() else {
        return Err(candle_core::Error::Msg("a model without an encoder".into()));
    };
    let width = last.pre.len() / batch.max(1);
    let h = Tensor::from_vec(relu(&last.pre), (batch, width), &Device::Cpu)?;
    let d_mu_t = Tensor::from_vec(d_mu, (batch, latent), &Device::Cpu)?;
    let mut head_grads = vec![dense_grads(&h, &d_mu_t)?];
    let mut d_h = d_mu_t.matmul(&model.mu_head.w.as_tensor().t()?)?;
    if let (Some(head), Some(d_lv)) = (&model.logvar_head, d_lv) {
        let d_lv_t = Tensor::from_vec(d_lv, (batch, latent), &Device::Cpu)?;
        head_grads.push(dense_grads(&h, &d_lv_t)?);
        d_h = (d_h + d_lv_t.matmul(&head.w.as_tensor().t()?)?)?;
    }
    let mut trunk_grads = Vec::new();
    let mut d_h = flat(&d_h)?;
    for (i, (layer, cache)) in model.trunk.layers.iter().zip(trunk).enumerate().rev() {
        let (_, n_out) = layer.dims();
        let d_pre = Tensor::from_vec(relu_back(d_h, &cache.pre), (batch, n_out), &Device::Cpu)?;
        trunk_grads.push(dense_grads(&cache.input, &d_pre)?);
        if i == 0 {
            break; // no gradient for the network's input
        }
        d_h = flat(&d_pre.matmul(&layer.w.as_tensor().t()?)?)?;
    }
    trunk_grads.reverse();
    Ok(trunk_grads
        .into_iter()
        .chain(head_grads)
        .chain(dec_grads)
        .flatten()
        .collect())
}

/// A dense layer's weight and bias gradients: inputᵀ·d and the column sums of d.
fn dense_grads(input: &Tensor, d: &Tensor) -> Result<[Vec<f32>; 2]> {
    let dw = flat(&input.t()?.matmul(d)?)?;
    let (_, n_out) = d.dims2()?;
    let mut db = vec![0.0f32; n_out];
    for row in flat(d)?.chunks_exact(n_out.max(1)) {
        for (acc, v) in db.iter_mut().zip(row) {
            *acc += v;
        }
    }
    Ok([dw, db])
}

fn relu(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| x.max(0.0)).collect()
}

/// The gradient through a ReLU; candle's ReLU has slope 1 at 0, and so does this.
fn relu_back(mut d: Vec<f32>, pre: &[f32]) -> Vec<f32> {
    for (g, &p) in d.iter_mut().zip(pre) {
        if p < 0.0 {
            *g = 0.0;
        }
    }
    d
}

fn flat(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KnobValue, ModelConfig, ModelKind};
    use rand::SeedableRng;

    fn model(kind: ModelKind, likelihood: Likelihood) -> Autoencoder {
        let mut cfg = ModelConfig::new(kind, 12, likelihood);
        cfg.hidden = vec![7, 5];
        cfg.latent_dim = 3;
        if kind == ModelKind::Sae {
            cfg.set_knob("sparsity", KnobValue::Number(0.7)).unwrap();
        }
        Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(11)).unwrap()
    }

    fn batch() -> Tensor {
        let v: Vec<f32> = (0..6 * 12).map(|i| ((i * 37) % 17) as f32 / 16.0).collect();
        Tensor::from_vec(v, (6, 12), &Device::Cpu).unwrap()
    }

    #[test]
    fn gradients_match_candles_autograd_for_every_manual_kind() {
        for likelihood in [Likelihood::Bernoulli, Likelihood::Gaussian] {
            for kind in [
                ModelKind::Ae,
                ModelKind::Vae,
                ModelKind::BetaVae,
                ModelKind::Dae,
                ModelKind::Sae,
            ] {
                let m = model(kind, likelihood);
                let x = batch();
                let ours = pass(&m, &x, &mut PortableRng::seed_from_u64(5), m.kl_weight()).unwrap();
                let terms = m
                    .loss_terms(&x, &mut PortableRng::seed_from_u64(5))
                    .unwrap();
                let objective = terms.objective(m.kl_weight()).unwrap();
                let value: f32 = objective.to_scalar().unwrap();
                assert!(
                    (ours.objective - f64::from(value)).abs()
                        < 1e-4 * f64::from(value.abs()).max(1.0),
                    "{kind} {likelihood:?}: objective {} vs {value}",
                    ours.objective
                );
                let store = objective.backward().unwrap();
                for ((name, var), g) in m.named_vars().iter().zip(&ours.grads) {
                    let auto: Vec<f32> = store
                        .get(var.as_tensor())
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap();
                    let scale = auto.iter().fold(1e-3f32, |a, v| a.max(v.abs()));
                    for (i, (a, b)) in auto.iter().zip(g).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-4 * scale,
                            "{kind} {likelihood:?} {name}[{i}]: autograd {a} vs ours {b}"
                        );
                    }
                    assert_eq!(auto.len(), g.len(), "{name}");
                }
            }
        }
    }

    #[test]
    fn three_steps_give_the_same_weights_as_autograd() {
        for kind in [ModelKind::Vae, ModelKind::Dae] {
            let (a, b) = (
                model(kind, Likelihood::Bernoulli),
                model(kind, Likelihood::Bernoulli),
            );
            let (mut opt_a, mut opt_b) = (a.optimizer(1e-2), b.optimizer(1e-2));
            let (mut rng_a, mut rng_b) =
                (PortableRng::seed_from_u64(3), PortableRng::seed_from_u64(3));
            let x = batch();
            for _ in 0..3 {
                let ma = a
                    .train_step_autograd(&mut opt_a, &x, &mut rng_a, 1.0)
                    .unwrap();
                let mb = b
                    .train_step_manual(&mut opt_b, &x, &mut rng_b, 1.0)
                    .unwrap();
                let (ma, mb) = (ma.unwrap(), mb.unwrap());
                for (p, q) in ma.iter().zip(&mb) {
                    assert!(
                        (p - q).abs() < 1e-4 * p.abs().max(1.0),
                        "{kind}: {ma:?} vs {mb:?}"
                    );
                }
            }
            for (va, vb) in a.vars().iter().zip(b.vars()) {
                let (pa, pb) = (flat(va.as_tensor()).unwrap(), flat(vb.as_tensor()).unwrap());
                for (p, q) in pa.iter().zip(&pb) {
                    assert!((p - q).abs() < 1e-4, "{kind}: {p} vs {q}");
                }
            }
        }
    }
}
