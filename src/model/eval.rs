//! Evaluation on a split: every loss term in nats per item, plus the ELBO and an
//! importance-weighted estimate of log p(x) for VAEs.

use super::{Autoencoder, LossTerms, batch_tensor};
use crate::data::Split;
use crate::rng::PortableRng;
use candle_core::{Result, Tensor};
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
    /// The total loss: for a kind trained on the k-sample bound (iwae), −L_k with its own k
    /// (fresh samples); else recon + β·kl + penalty (β while the β-VAE uses it, else 1: free bits
    /// and a capacity change the gradient, not this number; see `model::objective`).
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
    /// Latent dimensions whose mean code μ varies over the test items by more than 0.01
    /// (Burda et al. 2016; the code itself for kinds without a posterior).
    #[serde(default)]
    pub active_units: Option<usize>,
    /// The mutual information gap of the test items' μ with the data set's factors
    /// (Chen et al. 2018); `None` for sets without factors.
    #[serde(default)]
    pub mig: Option<f64>,
    /// A vq-vae's codebook perplexity over the test items: exp of the entropy of how they
    /// spread over the entries (1: one entry takes all; K: K entries evenly). `None` for
    /// other kinds.
    #[serde(default)]
    pub codebook_perplexity: Option<f64>,
    /// A vq-vae's codebook entries chosen by at least one test item; `None` for other kinds.
    #[serde(default)]
    pub codes_in_use: Option<usize>,
}

/// Evaluates `model` on every item of `split`. `iw_samples > 0` adds the
/// importance-weighted log p(x) for VAEs (costs `iw_samples` decodes per item). The test
/// items' mean codes give the active units and, where the split carries factors, MIG.
pub fn evaluate(
    model: &Autoencoder,
    split: &Split,
    dim: usize,
    rng: &mut PortableRng,
    iw_samples: usize,
) -> Result<Metrics> {
    Ok(evaluate_with_codes(model, split, dim, rng, iw_samples)?.0)
}

/// [`evaluate`] and the items' codes μ it computed on the way (`latent_dim` per item, in
/// the split's order), for whatever else needs them (the k-NN probe at an epoch's end).
pub fn evaluate_with_codes(
    model: &Autoencoder,
    split: &Split,
    dim: usize,
    rng: &mut PortableRng,
    iw_samples: usize,
) -> Result<(Metrics, Vec<f32>)> {
    let n = split.len();
    let mut terms: LossTerms = LossTerms::default(); // sums over the items
    let (mut mean_code_recon, mut log_px, mut denoising_recon) = (0.0, 0.0, 0.0);
    let variational = model.config.kind.is_variational();
    let corrupts = model.config.kind.spec().corrupt.is_some();
    // A 64×64 conv model's forward holds ~1 MB per item and layer: fewer items at once.
    let eval_chunk = EVAL_CHUNK.min(model.config.arch.inference_rows());
    let bound_samples = super::iwae::samples(&model.config);
    let mut neg_bound = 0.0;
    let latent_dim = model.config.latent_dim;
    let mut codes: Vec<f32> = Vec::with_capacity(n * latent_dim);
    let mut start = 0;
    while start < n {
        let end = (start + eval_chunk).min(n);
        let idx: Vec<usize> = (start..end).collect();
        let x = model.input_of(
            &batch_tensor(split.gather(&idx, dim), dim)?,
            labels_of(split, &idx),
        )?;
        // Every kind is scored on clean inputs, so the numbers compare across kinds. One
        // encoder pass per chunk gives the terms and the codes (the VAE's mean-code
        // reconstruction and the scores).
        let (t, mu) = model.clean_terms_and_code(&x, rng)?;
        terms.recon += sum(&t.recon)?;
        if corrupts {
            denoising_recon += sum(&model.loss_terms(&x, rng)?.recon)?;
        }
        terms.kl += sum(&t.kl)?;
        terms.penalty += sum(&t.penalty)?;
        codes.extend(mu.flatten_all()?.to_vec1::<f32>()?);
        if variational {
            mean_code_recon += sum(&model.recon_nll(&model.decode_given(&mu, &x)?, &x)?)?;
            if iw_samples > 0 {
                log_px += iw_sum(model, split, dim, (start, end), iw_samples, rng)?;
            }
            // A kind trained on the k-sample bound reports −L_k as its loss (`iwae`).
            if let Some(k) = bound_samples {
                neg_bound -= iw_sum(model, split, dim, (start, end), k, rng)?;
            }
        }
        start = end;
    }
    // Factors, when the split has them: the same number for every item.
    let k = if n > 0 && split.factors.len().is_multiple_of(n) {
        split.factors.len() / n
    } else {
        0
    };
    let active_units = super::metrics::active_units(&codes, latent_dim);
    let mig = super::metrics::mig(&codes, latent_dim, &split.factors, k);
    let usage = match &model.codebook {
        Some(c) => Some(super::vq::usage_scores(&c.data()?, &codes)),
        None => None,
    };
    let n = n.max(1) as f64;
    let (recon, kl, penalty) = (terms.recon / n, terms.kl / n, terms.penalty / n);
    let metrics = Metrics {
        recon,
        kl,
        penalty,
        loss: match bound_samples {
            Some(_) => neg_bound / n,
            None => recon + model.kl_weight() * kl + penalty,
        },
        elbo: variational.then_some(-(recon + kl)),
        mean_code_recon: variational.then_some(mean_code_recon / n),
        denoising_recon: corrupts.then_some(denoising_recon / n),
        log_px: (variational && iw_samples > 0).then_some(log_px / n),
        iw_samples: (variational && iw_samples > 0).then_some(iw_samples),
        active_units: Some(active_units),
        mig,
        codebook_perplexity: usage.map(|u| u.0),
        codes_in_use: usage.map(|u| u.1),
    };
    Ok((metrics, codes))
}

/// Σ of the `k`-sample importance-weighted bound over the items `start..end` of `split`, a
/// few at a time (about 8 evaluation chunks' worth of decodes per pass).
fn iw_sum(
    model: &Autoencoder,
    split: &Split,
    dim: usize,
    (start, end): (usize, usize),
    k: usize,
    rng: &mut PortableRng,
) -> Result<f64> {
    let eval_chunk = EVAL_CHUNK.min(model.config.arch.inference_rows());
    let chunk = (eval_chunk * 8)
        .checked_div(k)
        .map_or(eval_chunk, |c| c.clamp(1, eval_chunk));
    let mut total = 0.0;
    let mut s = start;
    while s < end {
        let e = (s + chunk).min(end);
        let idx: Vec<usize> = (s..e).collect();
        let xs = model.input_of(
            &batch_tensor(split.gather(&idx, dim), dim)?,
            labels_of(split, &idx),
        )?;
        total += sum(&log_px_iw(model, &xs, k, rng)?)?;
        s = e;
    }
    Ok(total)
}

/// The labels of a run of consecutive items `idx` (empty if the split has none).
fn labels_of<'a>(split: &'a Split, idx: &[usize]) -> &'a [u32] {
    match (idx.first(), idx.last()) {
        (Some(&a), Some(&b)) => split.labels.get(a..=b).unwrap_or(&[]),
        _ => &[],
    }
}

fn sum(t: &Tensor) -> Result<f64> {
    Ok(f64::from(t.sum_all()?.to_scalar::<f32>()?))
}

/// log p(x) ≈ log (1/k) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x), per row (k ≥ 1;
/// 0 counts as 1). Zeros for models without a posterior.
pub fn log_px_iw(
    model: &Autoencoder,
    x: &Tensor,
    k: usize,
    rng: &mut PortableRng,
) -> Result<Tensor> {
    if !model.config.kind.is_variational() {
        return Tensor::zeros(x.dim(0)?, candle_core::DType::F32, x.device());
    }
    Ok(super::iwae::bound(model, x, k, 1.0, rng)?.log_bound)
}

#[cfg(test)]
pub(crate) mod tests {
    //! The IWAE estimator on a linear-Gaussian VAE, whose log p(x) is known in closed form:
    //! z ~ N(0, I), x | z ~ N(A z + b, σ² I) gives x ~ N(b, A Aᵀ + σ² I), and the exact
    //! posterior is Gaussian with diagonal covariance when A's columns are orthogonal.
    //! The MLPs are made linear with relu(u) - relu(-u) = u.
    use super::*;
    use crate::model::loss::POINT_SIGMA;
    use crate::model::{Likelihood, ModelConfig, ModelKind};
    use candle_core::Device;
    use rand::SeedableRng;

    /// A's columns (orthogonal), the offset b, and σ².
    const A: [[f64; 2]; 3] = [[0.3, 0.1], [0.2, -0.15], [0.1, 0.0]];
    const B: [f64; 3] = [0.5, 0.4, 0.6];
    const VAR: f64 = POINT_SIGMA * POINT_SIGMA;

    fn column_norm_sq(j: usize) -> f64 {
        A.iter().map(|r| r[j] * r[j]).sum()
    }

    /// Posterior variance of z_j: σ² / (σ² + |a_j|²).
    fn posterior_var(j: usize) -> f64 {
        VAR / (VAR + column_norm_sq(j))
    }

    fn set(model: &Autoencoder, name: &str, values: Vec<f64>) {
        let (_, var) = model
            .named_vars()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no variable {name}"));
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        var.set(&Tensor::from_vec(values, var.shape(), &Device::Cpu).unwrap())
            .unwrap();
    }

    /// The linear-Gaussian VAE with the exact posterior, then q's mean moved by
    /// `mean_shift` posterior standard deviations on z₀ and its variances scaled by
    /// `var_scale` (0 and 1: exact).
    pub(crate) fn linear_gaussian_vae(mean_shift: f64, var_scale: f64) -> Autoencoder {
        let mut cfg = ModelConfig::new(ModelKind::Vae, 3, Likelihood::Gaussian);
        cfg.latent_dim = 2;
        cfg.hidden = vec![6];
        let model = Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(1)).unwrap();
        // Encoder trunk: h = (relu(x), relu(-x)).
        let mut w = vec![0.0; 3 * 6];
        for i in 0..3 {
            w[i * 6 + i] = 1.0;
            w[i * 6 + 3 + i] = -1.0;
        }
        set(&model, "encoder.0.weight", w);
        set(&model, "encoder.0.bias", vec![0.0; 6]);
        // μ_j = a_jᵀ (x - b) / (σ² + |a_j|²): weights ±M on h, bias -bᵀM.
        let m = |i: usize, j: usize| A[i][j] / (VAR + column_norm_sq(j));
        let w: Vec<f64> = (0..6)
            .flat_map(|r| (0..2).map(move |j| if r < 3 { m(r, j) } else { -m(r - 3, j) }))
            .collect();
        set(&model, "encoder.mu.weight", w);
        let shift = [mean_shift * posterior_var(0).sqrt(), 0.0];
        let bias = (0..2).map(|j| shift[j] - (0..3).map(|i| B[i] * m(i, j)).sum::<f64>());
        set(&model, "encoder.mu.bias", bias.collect());
        set(&model, "encoder.logvar.weight", vec![0.0; 12]);
        let lv = (0..2).map(|j| (var_scale * posterior_var(j)).ln());
        set(&model, "encoder.logvar.bias", lv.collect());
        // Decoder: (relu(z), relu(-z), 0, 0), then x = A z + b.
        let mut w = vec![0.0; 2 * 6];
        for j in 0..2 {
            w[j * 6 + j] = 1.0;
            w[j * 6 + 2 + j] = -1.0;
        }
        set(&model, "decoder.0.weight", w);
        set(&model, "decoder.0.bias", vec![0.0; 6]);
        let w: Vec<f64> = (0..6)
            .flat_map(|r| (0..3).map(move |i| [A[i][0], A[i][1], -A[i][0], -A[i][1], 0.0, 0.0][r]))
            .collect();
        set(&model, "decoder.1.weight", w);
        set(&model, "decoder.1.bias", B.to_vec());
        model
    }

    /// log N(x; b, A Aᵀ + σ² I), by Cholesky in f64.
    pub(crate) fn closed_form_log_px(x: [f64; 3]) -> f64 {
        let mut c = [[0.0f64; 3]; 3];
        for (i, row) in c.iter_mut().enumerate() {
            for (k, v) in row.iter_mut().enumerate() {
                *v = A[i][0] * A[k][0] + A[i][1] * A[k][1] + if i == k { VAR } else { 0.0 };
            }
        }
        let mut l = [[0.0f64; 3]; 3];
        for i in 0..3 {
            for k in 0..=i {
                let s: f64 = (0..k).map(|j| l[i][j] * l[k][j]).sum();
                l[i][k] = if i == k {
                    (c[i][i] - s).sqrt()
                } else {
                    (c[i][k] - s) / l[k][k]
                };
            }
        }
        // Solve L y = x - b; the quadratic form is |y|².
        let mut y = [0.0f64; 3];
        for i in 0..3 {
            let s: f64 = (0..i).map(|j| l[i][j] * y[j]).sum();
            y[i] = (x[i] - B[i] - s) / l[i][i];
        }
        let log_det: f64 = (0..3).map(|i| 2.0 * l[i][i].ln()).sum();
        let quad: f64 = y.iter().map(|v| v * v).sum();
        -0.5 * (3.0 * (2.0 * std::f64::consts::PI).ln() + log_det + quad)
    }

    /// Points on, near and off the model's plane.
    pub(crate) const POINTS: [[f64; 3]; 4] = [
        [0.5, 0.4, 0.6],
        [0.62, 0.43, 0.63],
        [0.41, 0.52, 0.55],
        [0.7, 0.2, 0.75],
    ];

    fn estimate(model: &Autoencoder, rows: &[[f64; 3]], k: usize, seed: u64) -> Vec<f64> {
        let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
        let x = Tensor::from_vec(flat, (rows.len(), 3), &Device::Cpu).unwrap();
        let mut rng = PortableRng::seed_from_u64(seed);
        let v: Vec<f32> = log_px_iw(model, &x, k, &mut rng)
            .unwrap()
            .to_vec1()
            .unwrap();
        v.into_iter().map(f64::from).collect()
    }

    #[test]
    fn iwae_with_the_exact_posterior_gives_the_closed_form_log_px() {
        let model = linear_gaussian_vae(0.0, 1.0);
        for k in [1, 16] {
            let got = estimate(&model, &POINTS, k, 3);
            for (x, est) in POINTS.iter().zip(got) {
                let exact = closed_form_log_px(*x);
                eprintln!("k {k}: IWAE {est} vs closed form {exact}");
                assert!(
                    (est - exact).abs() < 1e-3,
                    "x = {x:?}, k = {k}: IWAE {est} vs closed form {exact}"
                );
            }
        }
    }

    #[test]
    fn iwae_with_a_wrong_posterior_is_the_elbo_at_k1_and_tightens_with_k() {
        // q off by one posterior sd on z₀, variances doubled: KL(q || posterior) is
        // ½(2 + 1 - 1 - ln 2) + ½(2 - 1 - ln 2) nats for every x.
        let model = linear_gaussian_vae(1.0, 2.0);
        let gap = 0.5 * (2.0 + 1.0 - 1.0 - 2f64.ln()) + 0.5 * (2.0 - 1.0 - 2f64.ln());
        let x = POINTS[1];
        let exact = closed_form_log_px(x);
        let k1 = estimate(&model, &vec![x; 4000], 1, 5);
        let elbo = k1.iter().sum::<f64>() / k1.len() as f64;
        assert!(
            (elbo - (exact - gap)).abs() < 0.05,
            "mean k=1 estimate {elbo} vs log p(x) - KL = {}",
            exact - gap
        );
        let k512 = estimate(&model, &vec![x; 20], 512, 6);
        let tight = k512.iter().sum::<f64>() / k512.len() as f64;
        eprintln!(
            "log p(x) {exact}, k=1 mean {elbo} (ELBO {}), k=512 {tight}",
            exact - gap
        );
        assert!(
            (exact - tight).abs() < 0.1 * gap,
            "k=512: {tight} vs log p(x) {exact} (k=1: {elbo})"
        );
    }
}
