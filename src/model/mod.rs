//! The autoencoder family on candle: kinds, configuration, losses and evaluation.

mod adam;
pub mod checkpoint;
mod eval;
#[cfg(test)]
mod grad_check;
pub mod loss;
pub mod metrics;
pub mod mlp;
mod snapshot;

pub use adam::Adam;
pub use eval::{Metrics, evaluate};
pub use snapshot::DecoderSnapshot;

use crate::rng::PortableRng;
use candle_core::{D, Device, Result, Tensor, Var};
use mlp::{Dense, Mlp};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The kinds of autoencoder, each selectable by its command-line name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ModelKind {
    /// Plain autoencoder.
    #[serde(rename = "ae")]
    Ae,
    /// Variational autoencoder (KL weight 1).
    #[serde(rename = "vae")]
    Vae,
    /// VAE with KL weight β.
    #[serde(rename = "beta-vae")]
    BetaVae,
    /// Denoising autoencoder: noisy input, clean target.
    #[serde(rename = "dae")]
    Dae,
    /// Sparse autoencoder: L1 penalty on the code.
    #[serde(rename = "sae")]
    Sae,
    /// Contractive autoencoder: penalty on the encoder's Jacobian.
    #[serde(rename = "cae")]
    Cae,
}

impl ModelKind {
    /// Every kind, in display order.
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Ae,
        ModelKind::Vae,
        ModelKind::BetaVae,
        ModelKind::Dae,
        ModelKind::Sae,
        ModelKind::Cae,
    ];

    /// The name used on the command line, in files and in the UI.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Ae => "ae",
            ModelKind::Vae => "vae",
            ModelKind::BetaVae => "beta-vae",
            ModelKind::Dae => "dae",
            ModelKind::Sae => "sae",
            ModelKind::Cae => "cae",
        }
    }

    /// A longer name for captions.
    pub fn title(self) -> &'static str {
        match self {
            ModelKind::Ae => "Autoencoder",
            ModelKind::Vae => "VAE",
            ModelKind::BetaVae => "β-VAE",
            ModelKind::Dae => "Denoising AE",
            ModelKind::Sae => "Sparse AE",
            ModelKind::Cae => "Contractive AE",
        }
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name.trim())
    }

    /// True for the kinds with a posterior q(z|x) and a KL term.
    pub fn is_variational(self) -> bool {
        matches!(self, ModelKind::Vae | ModelKind::BetaVae)
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The decoder's likelihood p(x|z).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Likelihood {
    /// Pixels in [0, 1]: Bernoulli with logits (stable BCE).
    Bernoulli,
    /// Points: Gaussian with fixed sigma (squared error).
    Gaussian,
}

/// How a denoising autoencoder corrupts its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoiseKind {
    /// Add N(0, level²) to every value.
    Gaussian,
    /// Set each value to zero with probability `level`.
    Masking,
}

/// Everything that defines one model's network and objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Which autoencoder.
    pub kind: ModelKind,
    /// Values per item.
    pub input_dim: usize,
    /// Size of the code z (1 to 64).
    pub latent_dim: usize,
    /// Hidden layer sizes of the encoder; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Decoder likelihood.
    pub likelihood: Likelihood,
    /// KL weight (1 for a VAE, β for a β-VAE).
    pub beta: f32,
    /// Corruption of a denoising autoencoder.
    pub noise_kind: NoiseKind,
    /// Noise sigma (Gaussian) or drop probability (masking).
    pub noise_level: f32,
    /// Weight of the L1 penalty on the code (sparse AE).
    pub sparsity: f32,
    /// Weight λ of the contractive penalty λ‖∂z/∂x‖²_F.
    pub contraction: f32,
    /// Decoupled L2 weight decay in the optimiser.
    pub weight_decay: f32,
    /// This model's own learning rate, instead of the run's.
    #[serde(default)]
    pub lr_override: Option<f64>,
}

/// Default β of a β-VAE.
pub const DEFAULT_BETA: f32 = 4.0;

impl ModelConfig {
    /// The defaults for `kind` on items of `input_dim` values.
    pub fn new(kind: ModelKind, input_dim: usize, likelihood: Likelihood) -> Self {
        Self {
            kind,
            input_dim,
            latent_dim: 2,
            hidden: vec![512, 256],
            likelihood,
            beta: if kind == ModelKind::BetaVae {
                DEFAULT_BETA
            } else {
                1.0
            },
            noise_kind: NoiseKind::Gaussian,
            noise_level: 0.3,
            sparsity: 0.5,
            contraction: 0.1,
            weight_decay: 0.0,
            lr_override: None,
        }
    }

    /// Checks ranges; the message names the setting.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(1..=64).contains(&self.latent_dim) {
            return Err(format!(
                "latent dimension {} is out of range (1 to 64)",
                self.latent_dim
            ));
        }
        if self.hidden.is_empty() || self.hidden.iter().any(|&h| h == 0 || h > 8192) {
            return Err(format!(
                "hidden sizes {:?} are out of range (1 to 8192 each, at least one layer)",
                self.hidden
            ));
        }
        let checks = [
            ("beta", self.beta, 0.0, 1000.0),
            (
                "noise",
                self.noise_level,
                0.0,
                if self.noise_kind == NoiseKind::Masking {
                    1.0
                } else {
                    10.0
                },
            ),
            ("sparsity", self.sparsity, 0.0, 1000.0),
            ("contraction", self.contraction, 0.0, 1000.0),
            ("weight decay", self.weight_decay, 0.0, 1.0),
        ];
        for (name, value, lo, hi) in checks {
            if !(lo..=hi).contains(&value) {
                return Err(format!("{name} {value} is out of range ({lo} to {hi})"));
            }
        }
        Ok(())
    }
}

/// Per-item loss terms, each of shape (batch,), in nats.
pub struct LossTerms {
    /// Reconstruction negative log-likelihood.
    pub recon: Tensor,
    /// KL(q(z|x) || p(z)); zeros for non-variational kinds.
    pub kl: Tensor,
    /// Sparsity or contraction penalty; zeros otherwise.
    pub penalty: Tensor,
}

impl LossTerms {
    /// Batch mean of the objective: recon + kl_weight·kl + penalty.
    pub fn objective(&self, kl_weight: f64) -> Result<Tensor> {
        ((&self.recon + (&self.kl * kl_weight)?)? + &self.penalty)?.mean_all()
    }
}

/// An autoencoder of any kind: encoder trunk, code head(s), decoder.
pub struct Autoencoder {
    /// Its configuration.
    pub config: ModelConfig,
    trunk: Mlp,
    mu_head: Dense,
    logvar_head: Option<Dense>,
    decoder: Mlp,
}

impl Autoencoder {
    /// A freshly initialised model; the same rng state gives the same weights.
    pub fn new(config: ModelConfig, rng: &mut PortableRng) -> Result<Self> {
        let dev = Device::Cpu;
        let mut enc_sizes = vec![config.input_dim];
        enc_sizes.extend_from_slice(&config.hidden);
        let trunk = Mlp::new(&enc_sizes, true, rng, &dev)?;
        let last = *enc_sizes.last().unwrap_or(&config.input_dim);
        let mu_head = Dense::new(last, config.latent_dim, rng, &dev)?;
        let logvar_head = if config.kind.is_variational() {
            Some(Dense::new(last, config.latent_dim, rng, &dev)?)
        } else {
            None
        };
        let mut dec_sizes = vec![config.latent_dim];
        dec_sizes.extend(config.hidden.iter().rev());
        dec_sizes.push(config.input_dim);
        let decoder = Mlp::new(&dec_sizes, false, rng, &dev)?;
        Ok(Self {
            config,
            trunk,
            mu_head,
            logvar_head,
            decoder,
        })
    }

    /// Every trainable variable with a stable name (the checkpoint keys).
    pub fn named_vars(&self) -> Vec<(String, Var)> {
        let mut out = Vec::new();
        let mut push = |prefix: String, d: &Dense| {
            out.push((format!("{prefix}.weight"), d.w.clone()));
            out.push((format!("{prefix}.bias"), d.b.clone()));
        };
        for (i, l) in self.trunk.layers.iter().enumerate() {
            push(format!("encoder.{i}"), l);
        }
        push("encoder.mu".into(), &self.mu_head);
        if let Some(h) = &self.logvar_head {
            push("encoder.logvar".into(), h);
        }
        for (i, l) in self.decoder.layers.iter().enumerate() {
            push(format!("decoder.{i}"), l);
        }
        out
    }

    /// The trainable variables, for the optimiser.
    pub fn vars(&self) -> Vec<Var> {
        self.named_vars().into_iter().map(|(_, v)| v).collect()
    }

    /// The code mean and (for a VAE) log-variance of a (batch, input) tensor.
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let h = self.trunk.forward(x)?;
        let mu = self.mu_head.forward(&h)?;
        let logvar = match &self.logvar_head {
            Some(head) => Some(head.forward(&h)?),
            None => None,
        };
        Ok((mu, logvar))
    }

    /// Decoder output: logits (Bernoulli) or means (Gaussian).
    pub fn decode_raw(&self, z: &Tensor) -> Result<Tensor> {
        self.decoder.forward(z)
    }

    /// Reconstruction NLL of `target` given decoder output, per row.
    pub fn recon_nll(&self, raw: &Tensor, target: &Tensor) -> Result<Tensor> {
        match self.config.likelihood {
            Likelihood::Bernoulli => loss::bce_with_logits(raw, target),
            Likelihood::Gaussian => loss::gaussian_nll(raw, target),
        }
    }

    /// The input a denoising model sees: `x` corrupted with its noise; `x` for other kinds.
    pub fn corrupt(&self, x: &Tensor, rng: &mut PortableRng) -> Result<Tensor> {
        if self.config.kind != ModelKind::Dae || self.config.noise_level == 0.0 {
            return Ok(x.clone());
        }
        let level = self.config.noise_level;
        let values: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let noisy: Vec<f32> = match self.config.noise_kind {
            NoiseKind::Gaussian => values
                .iter()
                .map(|v| {
                    let e: f32 = StandardNormal.sample(rng);
                    let n = v + level * e;
                    if self.config.likelihood == Likelihood::Bernoulli {
                        n.clamp(0.0, 1.0)
                    } else {
                        n
                    }
                })
                .collect(),
            NoiseKind::Masking => values
                .iter()
                .map(|&v| if rng.random::<f32>() < level { 0.0 } else { v })
                .collect(),
        };
        Tensor::from_vec(noisy, x.shape(), x.device())
    }

    /// Draws standard normal noise of the given shape from `rng`.
    pub fn standard_normal(rng: &mut PortableRng, rows: usize, cols: usize) -> Result<Tensor> {
        let v: Vec<f32> = (0..rows * cols)
            .map(|_| StandardNormal.sample(rng))
            .collect();
        Tensor::from_vec(v, (rows, cols), &Device::Cpu)
    }

    /// The loss terms on a batch. `rng` draws the VAE's ε and the denoiser's noise.
    pub fn loss_terms(&self, x: &Tensor, rng: &mut PortableRng) -> Result<LossTerms> {
        let input = self.corrupt(x, rng)?;
        let want_masks = self.config.kind == ModelKind::Cae;
        let (h, masks) = self.trunk.forward_with_masks(&input, want_masks)?;
        let mu = self.mu_head.forward(&h)?;
        let batch = x.dim(0)?;
        let zeros = Tensor::zeros(batch, candle_core::DType::F32, x.device())?;
        let (z, kl) = match &self.logvar_head {
            Some(head) => {
                let logvar = head.forward(&h)?;
                let eps = Self::standard_normal(rng, batch, self.config.latent_dim)?;
                let z = (&mu + (logvar.affine(0.5, 0.0)?.exp()? * eps)?)?;
                let kl = loss::kl_to_standard_normal(&mu, &logvar)?;
                (z, kl)
            }
            None => (mu.clone(), zeros.clone()),
        };
        let recon = self.recon_nll(&self.decode_raw(&z)?, x)?;
        let penalty = match self.config.kind {
            ModelKind::Sae => (mu.abs()?.sum(D::Minus1)? * f64::from(self.config.sparsity))?,
            ModelKind::Cae => {
                (mlp::jacobian_frobenius_sq(&self.trunk, &self.mu_head, &masks)?
                    * f64::from(self.config.contraction))?
            }
            _ => zeros,
        };
        Ok(LossTerms { recon, kl, penalty })
    }

    /// One optimiser step on a batch with the KL weight scaled by `kl_scale` (warm-up).
    /// Returns the batch means of (recon, kl, penalty), or `None`, without stepping, if
    /// the objective is NaN or infinite.
    pub fn train_step(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        kl_scale: f64,
    ) -> Result<Option<[f64; 3]>> {
        let terms = self.loss_terms(x, rng)?;
        let objective = terms.objective(self.kl_weight() * kl_scale)?;
        let means = [mean(&terms.recon)?, mean(&terms.kl)?, mean(&terms.penalty)?];
        let value: f32 = objective.to_scalar()?;
        if !value.is_finite() || means.iter().any(|m| !m.is_finite()) {
            return Ok(None);
        }
        opt.backward_step(&objective)?;
        Ok(Some(means))
    }

    /// An Adam optimiser over this model's weights (decoupled weight decay from the config).
    pub fn optimizer(&self, lr: f64) -> Adam {
        Adam::new(self.vars(), lr, f64::from(self.config.weight_decay))
    }

    /// The KL weight the objective uses (β for a β-VAE, 1 for a VAE).
    pub fn kl_weight(&self) -> f64 {
        f64::from(self.config.beta)
    }

    /// A frozen copy of the decoder as plain numbers, for the UI.
    pub fn decoder_snapshot(&self) -> Result<DecoderSnapshot> {
        DecoderSnapshot::from_layers(
            &self.decoder.layers,
            self.config.likelihood == Likelihood::Bernoulli,
        )
    }

    /// Copies of every weight, to restore after a divergence.
    pub fn weights(&self) -> Result<Vec<Tensor>> {
        self.vars().iter().map(|v| v.as_tensor().copy()).collect()
    }

    /// Restores weights taken with [`Autoencoder::weights`].
    pub fn set_weights(&self, weights: &[Tensor]) -> Result<()> {
        for (var, w) in self.vars().iter().zip(weights) {
            var.set(w)?;
        }
        Ok(())
    }
}

fn mean(t: &Tensor) -> Result<f64> {
    Ok(f64::from(t.mean_all()?.to_scalar::<f32>()?))
}

/// Makes a (rows, dim) tensor from items stored back to back.
pub fn batch_tensor(values: Vec<f32>, dim: usize) -> Result<Tensor> {
    let rows = values.len() / dim.max(1);
    Tensor::from_vec(values, (rows, dim), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn names_round_trip() {
        for k in ModelKind::ALL {
            assert_eq!(ModelKind::from_name(k.name()), Some(k));
        }
        assert_eq!(ModelKind::from_name("gan"), None);
    }

    #[test]
    fn every_kind_gives_finite_terms_of_the_right_shape() {
        let mut rng = PortableRng::seed_from_u64(1);
        let x = Tensor::from_vec(
            (0..4 * 16)
                .map(|i| (i % 7) as f32 / 7.0)
                .collect::<Vec<_>>(),
            (4, 16),
            &Device::Cpu,
        )
        .unwrap();
        for kind in ModelKind::ALL {
            let mut cfg = ModelConfig::new(kind, 16, Likelihood::Bernoulli);
            cfg.hidden = vec![8];
            let m = Autoencoder::new(cfg, &mut rng).unwrap();
            let t = m.loss_terms(&x, &mut rng).unwrap();
            for term in [&t.recon, &t.kl, &t.penalty] {
                let v: Vec<f32> = term.to_vec1().unwrap();
                assert_eq!(v.len(), 4);
                assert!(
                    v.iter().all(|x| x.is_finite() && *x >= 0.0),
                    "{kind}: {v:?}"
                );
            }
            let kl: f32 = t.kl.sum_all().unwrap().to_scalar().unwrap();
            let pen: f32 = t.penalty.sum_all().unwrap().to_scalar().unwrap();
            assert_eq!(kl > 0.0, kind.is_variational(), "{kind}");
            assert_eq!(
                pen > 0.0,
                matches!(kind, ModelKind::Sae | ModelKind::Cae),
                "{kind}"
            );
        }
    }

    #[test]
    fn validate_names_the_setting() {
        let mut cfg = ModelConfig::new(ModelKind::Vae, 4, Likelihood::Gaussian);
        cfg.latent_dim = 65;
        assert!(cfg.validate().unwrap_err().contains("latent dimension 65"));
        cfg.latent_dim = 2;
        cfg.beta = -1.0;
        assert!(cfg.validate().unwrap_err().contains("beta -1"));
    }
}
