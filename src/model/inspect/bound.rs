//! The importance-weighted bound on log p(x) of one item, for K = 1, 10, 100, 1000 samples
//! of q(z|x), beside the item's ELBO: what the inspector plots against K.
//!
//! The arithmetic of the weights and their log-mean-exp is evaluation's
//! (`iwae::iw_log_weights`, `iwae::log_mean_exp`); this file only draws the samples from
//! the frozen snapshots and decodes them in one batched pass. The K's share their draws
//! (K = 10 uses the first 10 of the 1000), so one item costs max K decodes, and a fixed
//! seed gives the same numbers every time.

use super::{InspectError, check_fit, draw_eps, kl_per_dim, recon_nll};
use crate::model::ModelConfig;
use crate::model::iwae::{iw_log_weights, log_mean_exp};
use crate::model::snapshot::{DecoderSnapshot, EncoderSnapshot};
use crate::rng::PortableRng;
use candle_core::{Device, Tensor};
use rand::SeedableRng;

/// The sample counts the inspector shows.
pub const BOUND_KS: [usize; 4] = [1, 10, 100, 1000];

/// One item's bound: the ELBO and the importance-weighted estimate for each K, in nats.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemBound {
    /// E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I)): the reconstruction term averaged over the
    /// largest K's draws, the KL in closed form. The K = 1 estimate's expectation.
    pub elbo: f64,
    /// (K, log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x)) for each K asked, in the order asked.
    pub by_k: Vec<(usize, f64)>,
}

/// The bound of item `x` for every K in `ks`, from draws seeded by `seed`; `None` for a
/// kind without a posterior (no σ head: no bound to show). `class` is the item's class, which
/// a conditional kind's (cvae) encoder and decoder both see: its bound is on log p(x | class);
/// other kinds ignore it.
pub fn item_bound(
    config: &ModelConfig,
    encoder: &EncoderSnapshot,
    decoder: &DecoderSnapshot,
    x: &[f32],
    ks: &[usize],
    seed: u64,
    class: u32,
) -> Result<Option<ItemBound>, InspectError> {
    check_fit(config, encoder, decoder, x, None)?;
    let classes = config.condition_dim();
    if classes > 0 && class as usize >= classes {
        return Err(InspectError(format!(
            "class {class} is not one of the model's {classes} classes (0 to {})",
            classes - 1
        )));
    }
    let (mu, logvar) = encoder.encode_logvar_as(x, class);
    let Some(logvar) = logvar else {
        return Ok(None);
    };
    let d = mu.len();
    let k_max = ks.iter().copied().max().unwrap_or(1).max(1);
    let mut rng = PortableRng::seed_from_u64(seed);
    let eps: Vec<f32> = (0..k_max).flat_map(|_| draw_eps(&mut rng, d)).collect();
    let z: Vec<f32> = eps
        .chunks_exact(d)
        .flat_map(|e| {
            e.iter()
                .zip(&mu)
                .zip(&logvar)
                .map(|((e, m), lv)| m + (0.5 * lv).exp() * e)
        })
        .collect();
    // Raw outputs (logits for a Bernoulli decoder), all draws in one batched pass.
    let mut raw_decoder = decoder.clone();
    raw_decoder.sigmoid_output = false;
    let raw = raw_decoder.decode_as(&z, class).map_err(candle_failed)?;
    let log_pxz: Vec<f32> = raw
        .chunks_exact(x.len())
        .map(|r| -recon_nll(config.likelihood, r, x) as f32)
        .collect();
    let kl: f64 = kl_per_dim(&mu, &logvar).iter().sum();
    let elbo = log_pxz.iter().map(|&v| f64::from(v)).sum::<f64>() / k_max as f64 - kl;
    let by_k = weights_by_k(&log_pxz, &z, &eps, &logvar, ks).map_err(candle_failed)?;
    Ok(Some(ItemBound { elbo, by_k }))
}

/// The log-mean-exp of the first K weights, for each K.
fn weights_by_k(
    log_pxz: &[f32],
    z: &[f32],
    eps: &[f32],
    logvar: &[f32],
    ks: &[usize],
) -> candle_core::Result<Vec<(usize, f64)>> {
    let (k_max, d) = (log_pxz.len(), logvar.len());
    let cpu = &Device::Cpu;
    let lv_rows: Vec<f32> = logvar.iter().copied().cycle().take(k_max * d).collect();
    let log_w = iw_log_weights(
        &Tensor::from_slice(log_pxz, k_max, cpu)?,
        &Tensor::from_slice(z, (k_max, d), cpu)?,
        &Tensor::from_slice(eps, (k_max, d), cpu)?,
        &Tensor::from_vec(lv_rows, (k_max, d), cpu)?,
    )?;
    ks.iter()
        .map(|&k| {
            let k = k.clamp(1, k_max);
            let first = log_w.narrow(0, 0, k)?.reshape((1, k))?;
            let v = log_mean_exp(&first)?.to_vec1::<f32>()?[0];
            Ok((k, f64::from(v)))
        })
        .collect()
}

fn candle_failed(e: candle_core::Error) -> InspectError {
    InspectError(format!("the bound's arithmetic failed: {e}"))
}

#[cfg(test)]
mod tests {
    //! Against an independent computation: a Bernoulli decoder on a 1-D latent, whose
    //! log p(x) = log ∫ N(z; 0, 1) Π_j p(x_j | z) dz and whose ELBO (an integral against
    //! q(z|x)) are integrated numerically on a fine grid.
    use super::*;
    use crate::model::snapshot::DenseWeights;
    use crate::model::{Likelihood, ModelKind};

    const W: [f64; 4] = [2.0, -1.5, 0.7, 3.0];
    const B: [f64; 4] = [0.3, 0.2, -0.4, -1.0];
    const X: [f32; 4] = [1.0, 0.0, 1.0, 1.0];

    fn dense(w: Vec<f32>, b: Vec<f32>, n_in: usize, n_out: usize) -> DenseWeights {
        DenseWeights { w, b, n_in, n_out }
    }

    /// q(z|x) = N(μ, σ²) with μ and log σ² fixed by biases (weights 0): a deliberately
    /// imperfect posterior, so the ELBO sits well below log p(x).
    fn model(mu: f32, logvar: f32, variational: bool) -> (EncoderSnapshot, DecoderSnapshot) {
        let encoder = EncoderSnapshot {
            trunk: Vec::new(),
            mu_head: dense(vec![0.0; 4], vec![mu], 4, 1),
            logvar_head: variational.then(|| dense(vec![0.0; 4], vec![logvar], 4, 1)),
            conv: None,
            classes: 0,
            codebook: None,
        };
        let w: Vec<f32> = W.iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = B.iter().map(|&v| v as f32).collect();
        let decoder = DecoderSnapshot::new(vec![dense(w, b, 1, 4)], true);
        (encoder, decoder)
    }

    fn config(kind: ModelKind) -> ModelConfig {
        let mut c = ModelConfig::new(kind, 4, Likelihood::Bernoulli);
        c.latent_dim = 1;
        c
    }

    /// log p(x|z) for the decoder above, from the Bernoulli probabilities directly.
    fn log_lik(z: f64) -> f64 {
        W.iter()
            .zip(B)
            .zip(X)
            .map(|((w, b), x)| {
                let p = 1.0 / (1.0 + (-(w * z + b)).exp());
                if x > 0.5 { p.ln() } else { (1.0 - p).ln() }
            })
            .sum()
    }

    fn normal_pdf(z: f64, m: f64, var: f64) -> f64 {
        (-(z - m).powi(2) / (2.0 * var)).exp() / (2.0 * std::f64::consts::PI * var).sqrt()
    }

    /// ∫ f(z) dz over [−12, 12] by the midpoint rule on 200 000 cells.
    fn integrate(f: impl Fn(f64) -> f64) -> f64 {
        let (lo, hi, n) = (-12.0, 12.0, 200_000);
        let h = (hi - lo) / n as f64;
        (0..n).map(|i| f(lo + (i as f64 + 0.5) * h) * h).sum()
    }

    const MU: f32 = 0.6;
    const LOGVAR: f32 = -1.0;

    fn grid_log_px() -> f64 {
        integrate(|z| normal_pdf(z, 0.0, 1.0) * log_lik(z).exp()).ln()
    }

    /// E_q[log p(x|z) + log p(z) − log q(z)] by the grid.
    fn grid_elbo() -> f64 {
        let (m, v) = (f64::from(MU), f64::from(LOGVAR).exp());
        integrate(|z| {
            let q = normal_pdf(z, m, v);
            q * (log_lik(z) + normal_pdf(z, 0.0, 1.0).ln() - q.ln())
        })
    }

    fn bound(seed: u64) -> ItemBound {
        let (e, d) = model(MU, LOGVAR, true);
        item_bound(&config(ModelKind::Vae), &e, &d, &X, &BOUND_KS, seed, 0)
            .unwrap()
            .expect("a VAE has a bound")
    }

    fn at(b: &ItemBound, k: usize) -> f64 {
        b.by_k.iter().find(|(kk, _)| *kk == k).unwrap().1
    }

    #[test]
    fn the_bound_approaches_the_integrated_log_px_and_starts_at_the_elbo() {
        let (log_px, elbo) = (grid_log_px(), grid_elbo());
        eprintln!("grid: log p(x) {log_px:.4}, ELBO {elbo:.4}");
        assert!(log_px - elbo > 0.3, "the test needs a visible gap");
        let seeds = 0..400u64;
        let bounds: Vec<ItemBound> = seeds.map(bound).collect();
        let mean = |k: usize| bounds.iter().map(|b| at(b, k)).sum::<f64>() / bounds.len() as f64;
        let mean_elbo = bounds.iter().map(|b| b.elbo).sum::<f64>() / bounds.len() as f64;
        eprintln!(
            "mean over seeds: K=1 {:.4}, K=10 {:.4}, K=100 {:.4}, K=1000 {:.4}, ELBO {mean_elbo:.4}",
            mean(1),
            mean(10),
            mean(100),
            mean(1000)
        );
        // K = 1: one sample of log w, whose expectation is the ELBO.
        assert!(
            (mean(1) - elbo).abs() < 0.08,
            "K=1 {} vs ELBO {elbo}",
            mean(1)
        );
        assert!(
            (mean_elbo - elbo).abs() < 0.02,
            "ELBO {mean_elbo} vs {elbo}"
        );
        // K = 1000: within a small fraction of the gap of log p(x), from below on average.
        let gap = log_px - elbo;
        assert!(
            (mean(1000) - log_px).abs() < 0.05 * gap,
            "K=1000 {} vs log p(x) {log_px}",
            mean(1000)
        );
        // Each single K = 1000 estimate is already close.
        assert!((at(&bounds[0], 1000) - log_px).abs() < 0.1 * gap);
    }

    #[test]
    fn the_bound_grows_with_k_on_average_over_seeds() {
        let bounds: Vec<ItemBound> = (1000..1100u64).map(bound).collect();
        let mean = |k: usize| bounds.iter().map(|b| at(b, k)).sum::<f64>() / bounds.len() as f64;
        assert!(mean(1) < mean(10), "K=1 {} K=10 {}", mean(1), mean(10));
        assert!(
            mean(10) < mean(100),
            "K=10 {} K=100 {}",
            mean(10),
            mean(100)
        );
        assert!(mean(100) <= mean(1000) + 1e-4);
        assert!(mean(1000) >= mean(1));
    }

    #[test]
    fn the_same_seed_gives_the_same_numbers_and_an_ae_has_no_bound() {
        assert_eq!(bound(5), bound(5));
        assert_ne!(bound(5), bound(6));
        let (e, d) = model(MU, LOGVAR, false);
        let none = item_bound(&config(ModelKind::Ae), &e, &d, &X, &BOUND_KS, 1, 0).unwrap();
        assert!(none.is_none());
    }

    /// A conditional model told class c is the unconditional model whose first layers add
    /// the one-hot's weight rows to their biases: built that way by hand, the two give the
    /// same bound from the same draws, and another class gives another bound.
    #[test]
    fn a_conditional_bound_is_the_bound_of_its_class_folded_into_the_biases() {
        // Encoder input: 4 pixels ++ 2 classes; the class rows move μ and log σ².
        let (mu_rows, lv_rows) = (
            [0.0f32, 0.0, 0.0, 0.0, -0.4, 0.9],
            [0.0f32, 0.0, 0.0, 0.0, 0.3, -0.5],
        );
        // Decoder input: z ++ 2 classes; the class rows shift each pixel's logit.
        let shift = [[0.5f32, -0.2, 1.0, 0.0], [-1.0, 0.8, 0.1, 0.6]];
        let w: Vec<f32> = W.iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = B.iter().map(|&v| v as f32).collect();
        let mut dec_w = w.clone();
        dec_w.extend(shift.iter().flatten());
        let conditional = (
            EncoderSnapshot {
                trunk: Vec::new(),
                mu_head: dense(mu_rows.to_vec(), vec![MU], 6, 1),
                logvar_head: Some(dense(lv_rows.to_vec(), vec![LOGVAR], 6, 1)),
                conv: None,
                classes: 2,
                codebook: None,
            },
            {
                let mut d = DecoderSnapshot::new(vec![dense(dec_w, b.clone(), 3, 4)], true);
                d.classes = 2;
                d
            },
        );
        let mut c = config(ModelKind::Cvae);
        c.classes = 2;
        let of = |class: usize| {
            item_bound(
                &c,
                &conditional.0,
                &conditional.1,
                &X,
                &BOUND_KS,
                3,
                class as u32,
            )
            .unwrap()
            .unwrap()
        };
        let folded = |class: usize| {
            let e = EncoderSnapshot {
                trunk: Vec::new(),
                mu_head: dense(vec![0.0; 4], vec![MU + mu_rows[4 + class]], 4, 1),
                logvar_head: Some(dense(vec![0.0; 4], vec![LOGVAR + lv_rows[4 + class]], 4, 1)),
                conv: None,
                classes: 0,
                codebook: None,
            };
            let b: Vec<f32> = b.iter().zip(shift[class]).map(|(b, s)| b + s).collect();
            let d = DecoderSnapshot::new(vec![dense(w.clone(), b, 1, 4)], true);
            item_bound(&config(ModelKind::Vae), &e, &d, &X, &BOUND_KS, 3, 0)
                .unwrap()
                .unwrap()
        };
        for class in 0..2 {
            let (a, b) = (of(class), folded(class));
            assert!(
                (a.elbo - b.elbo).abs() < 1e-4,
                "class {class}: {a:?} vs {b:?}"
            );
            for ((ka, va), (kb, vb)) in a.by_k.iter().zip(&b.by_k) {
                assert_eq!(ka, kb);
                assert!(
                    (va - vb).abs() < 1e-4,
                    "class {class}, K {ka}: {va} vs {vb}"
                );
            }
        }
        assert!(
            (of(0).elbo - of(1).elbo).abs() > 0.1,
            "the class must matter"
        );
        let refused = item_bound(&c, &conditional.0, &conditional.1, &X, &BOUND_KS, 3, 2);
        assert!(refused.unwrap_err().0.contains("class 2 is not one of"));
    }

    /// How long one item's bound takes for the default VAE (784 → 512, 256 → 2, MLP) and a
    /// conv VAE of 64×64 sprites; a number for the notes, not a test:
    /// `cargo test --release --lib bound_timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn bound_timing() {
        use crate::model::{Arch, Autoencoder};
        let cases = [
            (784, Arch::Mlp, "default mlp VAE, 28×28"),
            (4096, Arch::Conv, "conv VAE, 64×64"),
        ];
        for (dim, arch, what) in cases {
            let mut c = ModelConfig::new(ModelKind::Vae, dim, Likelihood::Bernoulli);
            if arch == Arch::Conv {
                c.arch = arch;
                c.image = Some(crate::model::ImageDims {
                    channels: 1,
                    width: 64,
                    height: 64,
                });
            }
            let Ok(model) = Autoencoder::new(c.clone(), &mut PortableRng::seed_from_u64(1)) else {
                eprintln!("{what}: not built");
                continue;
            };
            let (e, d) = (
                model.encoder_snapshot().unwrap(),
                model.decoder_snapshot().unwrap(),
            );
            let x = vec![0.3f32; dim];
            for _ in 0..3 {
                let t = std::time::Instant::now();
                item_bound(&c, &e, &d, &x, &BOUND_KS, 17, 0).unwrap();
                eprintln!("{what}: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
}
