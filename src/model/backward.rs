//! A hand-written forward and backward pass for the MLP family, in place of candle's
//! autograd in the training step.
//!
//! Autograd builds a graph, makes a fresh tensor for every op and every gradient, and
//! computes a gradient for the network's input that nobody reads. Here the GEMMs stay
//! candle matmuls (transposes are strided views that `gemm` reads directly) and everything
//! else is one fused pass over plain slices, written in place into the matmul's output:
//! bias + ReLU (+ its mask), bias + loss + its gradient, the reparameterisation and KL
//! gradients, and the mask + bias sum of each layer's backward step.
//!
//! The conventions follow candle's autograd so the numbers agree to rounding: ReLU's
//! derivative at exactly 0 is 1 and |·|'s is +1 (both use `x >= 0`). Each shape of penalty
//! the kind table knows ([`ManualPenalty`]) has its arm here: a penalty on the code's
//! entries joins the gradient of μ, the contractive penalty's gradient comes from
//! [`jacobian`]. A kind whose penalty has no hand-written gradient trains through autograd
//! ([`supports`] says which kinds are covered).

use super::kinds::{CodePenalty, Gradients, ManualPenalty};
use super::loss::POINT_SIGMA;
use super::mlp::Dense;
use super::objective::{KlTerm, Schedule};
use super::{Adam, Autoencoder, Likelihood, LossTerms, ModelKind};
use crate::rng::PortableRng;
use candle_core::{CpuStorage, InplaceOp1, Layout, Result, Storage, Tensor};
use std::cell::RefCell;

mod jacobian;
#[cfg(test)]
mod objective_tests;
#[cfg(test)]
mod tests;

/// True if `kind`'s gradients are computed here: its kind table entry says so (a kind whose
/// penalty has no hand-written gradient is handed to autograd by [`train_step_manual`]).
pub fn supports(kind: ModelKind) -> bool {
    kind.gradients() == Gradients::Manual
}

/// One optimiser step with the same semantics as [`Autoencoder::train_step`] (same loss,
/// same random draws in the same order, `None` without stepping if anything is not finite),
/// with hand-written gradients for the kinds [`supports`] covers and autograd for the rest.
pub fn train_step_manual(
    model: &Autoencoder,
    opt: &mut Adam,
    x: &Tensor,
    rng: &mut PortableRng,
    at: Schedule,
) -> Result<Option<LossTerms>> {
    if !supports(model.config.kind) {
        return model.train_step(opt, x, rng, at);
    }
    let Some(pass) = gradients(model, x, rng, at)? else {
        return Ok(None);
    };
    opt.step_with(&pass.grads)?;
    Ok(Some(pass.means))
}

/// The result of one forward and backward pass.
pub(crate) struct Pass {
    /// Batch means of the loss terms.
    pub means: LossTerms,
    /// ∂objective/∂var for every variable, in the order of [`Autoencoder::vars`].
    pub grads: Vec<Tensor>,
}

/// One layer's weights without graph bookkeeping.
struct Weights {
    w: Tensor,
    b: Tensor,
}

impl Weights {
    fn of(d: &Dense) -> Self {
        Self {
            w: d.w.as_tensor().detach(),
            b: d.b.as_tensor().detach(),
        }
    }
}

/// What the backward pass needs from a ReLU layer: its output and its derivative mask.
struct Act {
    h: Tensor,
    mask: Vec<f32>,
}

/// A weight gradient and a bias gradient.
type LayerGrad = (Tensor, Tensor);

/// Corrupts `x` and draws ε like [`Autoencoder::loss_terms`], then computes the objective's
/// gradients by hand (its KL term as [`KlTerm::of`] makes it at `at`); `None` (and no
/// backward pass) if a loss term is not finite.
pub(crate) fn gradients(
    model: &Autoencoder,
    x: &Tensor,
    rng: &mut PortableRng,
    at: Schedule,
) -> Result<Option<Pass>> {
    if !supports(model.config.kind) {
        candle_core::bail!("no hand-written gradients for {}", model.config.kind)
    }
    let input = model.corrupt(x, rng)?.detach();
    let (batch, latent) = (input.dim(0)?, model.config.latent_dim);
    let eps = match model.logvar_head {
        Some(_) => Some(Autoencoder::standard_normal(rng, batch, latent)?),
        None => None,
    };
    let trunk: Vec<Weights> = model.trunk.layers.iter().map(Weights::of).collect();
    let decoder: Vec<Weights> = model.decoder.layers.iter().map(Weights::of).collect();
    let heads = Heads {
        mu: Weights::of(&model.mu_head),
        logvar: model.logvar_head.as_ref().map(Weights::of),
    };
    let Some((last, hidden)) = decoder.split_last() else {
        candle_core::bail!("the decoder has no layers")
    };

    // The kind's penalty, by its shape: on the code's entries, or on the encoder's Jacobian.
    let (code_penalty, contraction) = match model.config.kind.penalty().map(|p| p.manual) {
        None => (None, None),
        Some(Some(ManualPenalty::OfCode(p))) => (Some((p, (p.weight)(&model.config))), None),
        Some(Some(ManualPenalty::EncoderJacobian { weight })) => {
            (None, Some(weight(&model.config)))
        }
        Some(None) => {
            candle_core::bail!("{} has no hand-written penalty", model.config.kind)
        }
    };

    let enc = relu_chain(&input, &trunk)?;
    let h_top = enc.last().map_or(&input, |a| &a.h);
    let code = Code::new(
        h_top,
        &heads,
        eps,
        KlTerm::of(&model.config, at),
        code_penalty,
    )?;
    let contractive = match contraction {
        Some(weight) => Some(jacobian::contractive(
            &trunk,
            &enc,
            &heads.mu.w,
            batch,
            weight,
        )?),
        None => None,
    };
    let dec = relu_chain(&code.z, hidden)?;
    let out = dec.last().map_or(&code.z, |a| &a.h).matmul(&last.w)?;
    let target = x.detach();
    let (recon, db_out) = loss_and_gradient(&out, &last.b, &target, model.config.likelihood)?;
    let means = LossTerms {
        recon,
        kl: code.kl_mean,
        penalty: code.penalty_mean + contractive.as_ref().map_or(0.0, |c| c.mean),
    };
    let objective = means.recon + code.kl_term_value() + means.penalty;
    if !objective.is_finite() || !means.is_finite() {
        return Ok(None);
    }

    // `out` now holds ∂objective/∂logits; go back through the decoder to z.
    let (dec_grads, dz) = backward_chain(out, db_out, &code.z, &dec, &decoder, true)?;
    let Some(dz) = dz else {
        candle_core::bail!("no gradient for the code")
    };
    let (head_grads, dh) = code.backward(dz, &heads, h_top)?;
    let trunk_grads = match enc.last() {
        Some(top) => {
            let db = mask_and_sum(&dh, &top.mask, top.h.dim(1)?)?;
            backward_chain(dh, db, &input, &enc, &trunk, false)?.0
        }
        None => Vec::new(),
    };
    // The contractive penalty reaches the weights only (not the biases, not h: the ReLU
    // masks it multiplies are constant almost everywhere).
    if let Some(c) = &contractive {
        for ((w, _), extra) in trunk_grads.iter().zip(&c.trunk) {
            add_in_place(w, extra)?;
        }
        if let Some((w, _)) = head_grads.first() {
            add_in_place(w, &c.head)?;
        }
    }
    let grads = trunk_grads
        .into_iter()
        .chain(head_grads)
        .chain(dec_grads)
        .flat_map(|(w, b)| [w, b])
        .collect();
    Ok(Some(Pass { means, grads }))
}

/// The code heads' weights.
struct Heads {
    mu: Weights,
    logvar: Option<Weights>,
}

/// The code layer of one forward pass: μ, log σ², ε, z and the batch means of KL and
/// penalty. The code is small (batch × latent), so it lives in plain vectors.
struct Code {
    mu: Vec<f32>,
    /// log σ² and ε of a variational kind.
    posterior: Option<(Vec<f32>, Vec<f32>)>,
    z: Tensor,
    kl_mean: f64,
    /// The batch mean of each dimension's KL (empty for kinds without a posterior).
    kl_dims: Vec<f64>,
    penalty_mean: f64,
    /// The objective's KL term (warm-up included).
    kl_term: KlTerm,
    /// The kind's penalty `weight · Σ f(μᵢ)` and its weight, if it has one on the code.
    penalty: Option<(CodePenalty, f32)>,
}

impl Code {
    /// The code layer for the heads' input `h`; `kl_term` is the objective's (warm-up
    /// included).
    fn new(
        h: &Tensor,
        heads: &Heads,
        eps: Option<Tensor>,
        kl_term: KlTerm,
        penalty: Option<(CodePenalty, f32)>,
    ) -> Result<Self> {
        let mu_t = dense(h, &heads.mu)?;
        let mu = to_vec(&mu_t)?;
        let batch = mu_t.dim(0)?.max(1) as f64;
        let penalty_mean = match penalty {
            Some((manual, weight)) => {
                let sum: f64 = mu.iter().map(|&v| (manual.value)(v)).sum();
                f64::from(weight) * sum / batch
            }
            None => 0.0,
        };
        let mut code = Self {
            mu,
            posterior: None,
            z: mu_t.clone(),
            kl_mean: 0.0,
            kl_dims: Vec::new(),
            penalty_mean,
            kl_term,
            penalty,
        };
        if let (Some(head), Some(eps)) = (&heads.logvar, eps) {
            let logvar = to_vec(&dense(h, head)?)?;
            let eps = to_vec(&eps)?;
            let (z, kl_sum, kl_dims) = reparameterise(&code.mu, &logvar, &eps, mu_t.dim(1)?);
            code.z = Tensor::from_vec(z, mu_t.shape(), mu_t.device())?;
            code.kl_mean = kl_sum / batch;
            code.kl_dims = kl_dims.into_iter().map(|k| k / batch).collect();
            code.posterior = Some((logvar, eps));
        }
        Ok(code)
    }

    /// The objective's KL term on this batch.
    fn kl_term_value(&self) -> f64 {
        self.kl_term.value(self.kl_mean, &self.kl_dims)
    }

    /// ∂objective/∂(one item's KL of dimension j), for each j: the term's weight of
    /// dimension j over the batch size (the objective is a batch mean). A plain weight
    /// gives every dimension `(weight as f32) / batch`, as this pass always computed it.
    fn kl_per_item(&self, batch: f32) -> Vec<f32> {
        self.kl_term
            .dim_weights(self.kl_mean, &self.kl_dims)
            .into_iter()
            .map(|w| (w as f32) / batch)
            .collect()
    }

    /// From ∂objective/∂z to the heads' gradients and ∂objective/∂h (h: the heads' input).
    fn backward(&self, dz: Tensor, heads: &Heads, h: &Tensor) -> Result<(Vec<LayerGrad>, Tensor)> {
        let batch = dz.dim(0)?.max(1) as f32;
        let kl_per_item = self.kl_per_item(batch);
        // Without a penalty: weight 0 and |x|' (so the sums stay the ones they always were).
        let (penalty_per_item, derivative) = match self.penalty {
            Some((manual, weight)) => (weight / batch, manual.derivative),
            None => (0.0, no_penalty_derivative as fn(f32) -> f32),
        };
        // ∂/∂log σ² needs ∂/∂z, so it comes before dz turns into ∂/∂μ in place.
        let dlogvar = match &self.posterior {
            Some((lv, eps)) => {
                let d = read(&dz, |dz| logvar_gradient(dz, lv, eps, &kl_per_item))?;
                Some(Tensor::from_vec(d, dz.shape(), dz.device())?)
            }
            None => None,
        };
        // Kinds without a posterior add 0·μ, as this pass always did.
        let latent = dz.dim(1)?.max(1);
        let kl_mu: Vec<f32> = match self.posterior {
            Some(_) => kl_per_item,
            None => vec![0.0; latent],
        };
        edit(&dz, |d| {
            for (row, mu) in d.chunks_exact_mut(latent).zip(self.mu.chunks_exact(latent)) {
                for ((d, &m), &k) in row.iter_mut().zip(mu).zip(&kl_mu) {
                    *d += k * m + penalty_per_item * derivative(m);
                }
            }
        })?;
        let dmu = dz;
        let mut grads = vec![weight_and_bias(h, &dmu)?];
        let dh = dmu.matmul(&heads.mu.w.t()?)?;
        if let (Some(head), Some(dlv)) = (&heads.logvar, &dlogvar) {
            grads.push(weight_and_bias(h, dlv)?);
            let more = dlv.matmul(&head.w.t()?)?;
            read(&more, |m| {
                edit(&dh, |d| d.iter_mut().zip(m).for_each(|(d, m)| *d += m))
            })??;
        }
        Ok((grads, dh))
    }
}

/// The derivative the gradient of μ always added (times a weight of 0) for kinds without a
/// penalty: kept so their sums, down to the sign of a zero, do not change.
fn no_penalty_derivative(m: f32) -> f32 {
    if m >= 0.0 { 1.0 } else { -1.0 }
}

/// z = μ + exp(½ log σ²)·ε, the KL to N(0, I) summed over the batch, and each of the
/// `latent` dimensions' KL summed over the batch.
fn reparameterise(
    mu: &[f32],
    logvar: &[f32],
    eps: &[f32],
    latent: usize,
) -> (Vec<f32>, f64, Vec<f64>) {
    let latent = latent.max(1);
    let mut kl = 0.0f64;
    let mut kl_dims = vec![0.0f64; latent];
    let z = mu
        .iter()
        .zip(logvar)
        .zip(eps)
        .enumerate()
        .map(|(i, ((&m, &lv), &e))| {
            let k = f64::from(0.5 * (lv.exp() + m * m - lv - 1.0));
            kl += k;
            kl_dims[i % latent] += k;
            m + (0.5 * lv).exp() * e
        })
        .collect();
    (z, kl, kl_dims)
}

/// ∂objective/∂log σ²: through z (ε·½σ) and through the KL (½(σ² − 1), weighted by its
/// dimension's `kl_per_item`).
fn logvar_gradient(dz: &[f32], logvar: &[f32], eps: &[f32], kl_per_item: &[f32]) -> Vec<f32> {
    let weights = kl_per_item.iter().cycle();
    dz.iter()
        .zip(logvar)
        .zip(eps)
        .zip(weights)
        .map(|(((&d, &lv), &e), &k)| d * e * 0.5 * (0.5 * lv).exp() + k * 0.5 * (lv.exp() - 1.0))
        .collect()
}

/// `h W + b`.
fn dense(h: &Tensor, layer: &Weights) -> Result<Tensor> {
    let a = h.matmul(&layer.w)?;
    read(&layer.b, |b| {
        edit(&a, |a| {
            for row in a.chunks_exact_mut(b.len().max(1)) {
                row.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            }
        })
    })??;
    Ok(a)
}

/// `relu(h W + b)` and the ReLU's derivative (candle's: 1 where the input is >= 0).
fn dense_relu(h: &Tensor, layer: &Weights) -> Result<Act> {
    let a = h.matmul(&layer.w)?;
    let mut mask = vec![0.0f32; a.elem_count()];
    read(&layer.b, |b| {
        edit(&a, |a| {
            let width = b.len().max(1);
            for (row, mrow) in a.chunks_exact_mut(width).zip(mask.chunks_exact_mut(width)) {
                for ((a, m), b) in row.iter_mut().zip(mrow).zip(b) {
                    let y = *a + b;
                    *m = if y >= 0.0 { 1.0 } else { 0.0 };
                    *a = y.max(0.0);
                }
            }
        })
    })??;
    Ok(Act { h: a, mask })
}

/// The ReLU layers `layers` applied in turn to `input`.
fn relu_chain(input: &Tensor, layers: &[Weights]) -> Result<Vec<Act>> {
    let mut acts: Vec<Act> = Vec::with_capacity(layers.len());
    for layer in layers {
        let h = acts.last().map_or(input, |a| &a.h);
        let act = dense_relu(h, layer)?;
        acts.push(act);
    }
    Ok(acts)
}

/// Adds the bias to the decoder's output `out`, and replaces it by ∂objective/∂output
/// (objective: the batch mean); returns the batch mean of the reconstruction NLL and the
/// bias gradient.
fn loss_and_gradient(
    out: &Tensor,
    bias: &Tensor,
    target: &Tensor,
    likelihood: Likelihood,
) -> Result<(f64, Tensor)> {
    let batch = out.dim(0)?.max(1);
    let inv_batch = 1.0 / batch as f32;
    let width = bias.elem_count().max(1);
    let mut db = vec![0.0f32; width];
    let mut total = 0.0f64;
    read(bias, |b| {
        read(target, |t| {
            edit(out, |o| {
                let rows = o.chunks_exact_mut(width).zip(t.chunks_exact(width));
                total = rows
                    .map(|(o, t)| match likelihood {
                        Likelihood::Bernoulli => bce_row(o, t, b, &mut db, inv_batch),
                        Likelihood::Gaussian => gaussian_row(o, t, b, &mut db, inv_batch),
                    })
                    .sum::<f64>();
            })
        })
    })???;
    let db = Tensor::from_vec(db, width, out.device())?;
    Ok((total / batch as f64, db))
}

/// One row of the stable BCE with logits `o + b`; `o` becomes the gradient.
fn bce_row(o: &mut [f32], t: &[f32], b: &[f32], db: &mut [f32], inv_batch: f32) -> f64 {
    let mut sum = 0.0f32;
    for (((o, &t), &b), db) in o.iter_mut().zip(t).zip(b).zip(db) {
        let l = *o + b;
        let e = (-l.abs()).exp();
        sum += l.max(0.0) - l * t + e.ln_1p();
        let r = 1.0 / (1.0 + e);
        let sigmoid = if l >= 0.0 { r } else { e * r };
        *o = (sigmoid - t) * inv_batch;
        *db += *o;
    }
    f64::from(sum)
}

/// One row of the fixed-σ Gaussian NLL of means `o + b`; `o` becomes the gradient.
fn gaussian_row(o: &mut [f32], t: &[f32], b: &[f32], db: &mut [f32], inv_batch: f32) -> f64 {
    let var = (POINT_SIGMA * POINT_SIGMA) as f32;
    let mut sq = 0.0f32;
    for (((o, &t), &b), db) in o.iter_mut().zip(t).zip(b).zip(db) {
        let d = *o + b - t;
        sq += d * d;
        *o = d / var * inv_batch;
        *db += *o;
    }
    let constant = 0.5 * o.len() as f64 * (2.0 * std::f64::consts::PI * f64::from(var)).ln();
    f64::from(sq) * 0.5 / f64::from(var) + constant
}

/// Back-propagates through `weights` (layer k reads `input` for k = 0, else `acts[k-1].h`,
/// with the ReLU mask `acts[k-1].mask` between). `da` and `db` are ∂objective/∂ the last
/// layer's pre-activation and bias. Returns every layer's gradients in order and, if
/// `want_input`, ∂objective/∂input.
fn backward_chain(
    da: Tensor,
    db: Tensor,
    input: &Tensor,
    acts: &[Act],
    weights: &[Weights],
    want_input: bool,
) -> Result<(Vec<LayerGrad>, Option<Tensor>)> {
    let mut grads = Vec::with_capacity(weights.len());
    let (mut da, mut db) = (da, db);
    let mut input_grad = None;
    for k in (0..weights.len()).rev() {
        let x = if k == 0 { input } else { &acts[k - 1].h };
        let dw = x.t()?.matmul(&da)?;
        if k > 0 {
            let dh = da.matmul(&weights[k].w.t()?)?;
            let below = &acts[k - 1];
            let db_below = mask_and_sum(&dh, &below.mask, below.h.dim(1)?)?;
            grads.push((dw, std::mem::replace(&mut db, db_below)));
            da = dh;
        } else {
            if want_input {
                input_grad = Some(da.matmul(&weights[0].w.t()?)?);
            }
            grads.push((dw, db.clone()));
        }
    }
    grads.reverse();
    Ok((grads, input_grad))
}

/// Multiplies `dh` by a ReLU mask in place and returns its column sums (a bias gradient).
fn mask_and_sum(dh: &Tensor, mask: &[f32], width: usize) -> Result<Tensor> {
    let width = width.max(1);
    let mut db = vec![0.0f32; width];
    edit(dh, |d| {
        for (row, mrow) in d.chunks_exact_mut(width).zip(mask.chunks_exact(width)) {
            for ((d, m), s) in row.iter_mut().zip(mrow).zip(db.iter_mut()) {
                *d *= m;
                *s += *d;
            }
        }
    })?;
    Tensor::from_vec(db, width, dh.device())
}

/// The gradients of a dense layer with input `x` and pre-activation gradient `da`.
fn weight_and_bias(x: &Tensor, da: &Tensor) -> Result<LayerGrad> {
    let width = da.dim(1)?.max(1);
    let mut db = vec![0.0f32; width];
    read(da, |d| {
        for row in d.chunks_exact(width) {
            db.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
    })?;
    Ok((
        x.t()?.matmul(da)?,
        Tensor::from_vec(db, width, da.device())?,
    ))
}

/// `dst += src`, both contiguous and of one size.
fn add_in_place(dst: &Tensor, src: &Tensor) -> Result<()> {
    read(src, |s| {
        edit(dst, |d| d.iter_mut().zip(s).for_each(|(d, s)| *d += s))
    })?
}

fn to_vec(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1()
}

/// Calls `f` with the values of a contiguous f32 CPU tensor.
pub(crate) fn read<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(CpuStorage::F32(values)) = &*storage else {
        candle_core::bail!("expected an f32 tensor on the cpu")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("expected a contiguous tensor")
    };
    Ok(f(&values[start..end]))
}

/// Calls `f` with the values of a contiguous f32 CPU tensor to change them in place.
/// Everything that shares the tensor's storage (a `Var` and its `as_tensor`) sees the change.
pub(crate) fn edit(t: &Tensor, f: impl FnOnce(&mut [f32])) -> Result<()> {
    t.inplace_op1(&InPlace(RefCell::new(Some(f))))
}

/// An in-place op that runs a closure once over the values.
struct InPlace<F>(RefCell<Option<F>>);

impl<F: FnOnce(&mut [f32])> InplaceOp1 for InPlace<F> {
    fn name(&self) -> &'static str {
        "latentlab-edit"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let CpuStorage::F32(values) = storage else {
            candle_core::bail!("expected an f32 tensor")
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("expected a contiguous tensor")
        };
        if let Some(f) = self.0.borrow_mut().take() {
            f(&mut values[start..end]);
        }
        Ok(())
    }
}
