//! The autoencoder family on candle: kinds, configuration, losses and evaluation.

mod adam;
pub mod backward;
pub mod checkpoint;
mod eval;

#[cfg(test)]
mod grad_check;
pub mod inspect;
pub mod kinds;
pub mod limits;
pub mod loss;
pub mod metrics;
pub mod mlp;
pub mod snapshot;
pub mod terms;

pub use adam::Adam;
pub use eval::{Metrics, evaluate};
pub use inspect::{ItemReport, inspect};
pub use kinds::{DEFAULT_BETA, KnobSpec, KnobValue, ModelKind};
pub use snapshot::{DecoderSnapshot, EncoderSnapshot};
pub use terms::{LossMeans, LossSums, LossTerms};

use crate::data::ItemShape;
use crate::rng::PortableRng;
use candle_core::{Device, Result, Tensor, Var};
use kinds::{KnobRange, PenaltyInput};
use mlp::{Dense, Mlp};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The decoder's likelihood p(x|z).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Likelihood {
    /// Pixels in [0, 1]: Bernoulli with logits (stable BCE).
    Bernoulli,
    /// Points: Gaussian with fixed sigma (squared error).
    Gaussian,
}

impl Likelihood {
    /// The decoder that fits items of this shape: Bernoulli for images, Gaussian for points.
    pub fn for_shape(shape: ItemShape) -> Self {
        if shape.is_image() {
            Likelihood::Bernoulli
        } else {
            Likelihood::Gaussian
        }
    }
}

/// Everything that defines one model's network and objective.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "ConfigFile")]
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
    /// This model's own learning rate, instead of the run's.
    #[serde(default)]
    pub lr_override: Option<f64>,
    /// The kind's knobs by key (see [`kinds`]); written flat beside the fields above, as
    /// checkpoints have always had them. Every knob of the kind is present.
    #[serde(flatten)]
    pub knobs: BTreeMap<String, KnobValue>,
}

/// A config as files hold it: any knob keys, old or new, flat beside the fields.
#[derive(Deserialize)]
struct ConfigFile {
    kind: ModelKind,
    input_dim: usize,
    latent_dim: usize,
    hidden: Vec<usize>,
    likelihood: Likelihood,
    #[serde(default)]
    lr_override: Option<f64>,
    #[serde(flatten)]
    knobs: BTreeMap<String, serde_json::Value>,
}

impl From<ConfigFile> for ModelConfig {
    /// Keeps the knobs the kind has (older files list every kind's knobs), fills in defaults
    /// for missing ones, and leaves values as they are for `validate` to judge.
    fn from(f: ConfigFile) -> Self {
        let mut c = ModelConfig::new(f.kind, f.input_dim, f.likelihood);
        c.latent_dim = f.latent_dim;
        c.hidden = f.hidden;
        c.lr_override = f.lr_override;
        for (key, value) in f.knobs {
            let value = match value {
                serde_json::Value::Number(n) => n.as_f64().map(|v| KnobValue::Number(v as f32)),
                serde_json::Value::String(s) => Some(KnobValue::Choice(s.to_lowercase())),
                _ => None,
            };
            if let (Some(value), true) = (value, c.knobs.contains_key(&key)) {
                c.knobs.insert(key, value);
            }
        }
        c
    }
}

impl ModelConfig {
    /// The defaults for `kind` on items of `input_dim` values.
    pub fn new(kind: ModelKind, input_dim: usize, likelihood: Likelihood) -> Self {
        Self {
            kind,
            input_dim,
            latent_dim: 2,
            hidden: vec![512, 256],
            likelihood,
            lr_override: None,
            knobs: kind
                .knobs()
                .map(|k| (k.key.to_string(), k.default_value()))
                .collect(),
        }
    }

    /// A number knob's value (its default if unset; 0 if the kind has no such knob).
    pub fn number(&self, key: &str) -> f32 {
        match self.knobs.get(key) {
            Some(KnobValue::Number(v)) => *v,
            _ => match self.kind.knob(key).map(|k| k.range) {
                Some(KnobRange::Number { default, .. }) => default,
                _ => 0.0,
            },
        }
    }

    /// A choice knob's value (its default if unset; "" if the kind has no such knob).
    pub fn choice(&self, key: &str) -> &str {
        match self.knobs.get(key) {
            Some(KnobValue::Choice(c)) => c,
            _ => match self.kind.knob(key).map(|k| k.range) {
                Some(KnobRange::Choice { default, .. }) => default,
                _ => "",
            },
        }
    }

    /// Sets a knob of this kind after checking it fits the knob's range. Cross-knob rules
    /// are checked by [`ModelConfig::validate`].
    pub fn set_knob(&mut self, key: &str, value: KnobValue) -> std::result::Result<(), String> {
        let spec = self
            .kind
            .knob(key)
            .ok_or_else(|| format!("{} has no knob '{key}'", self.kind))?;
        let value = spec.check(&value)?;
        self.knobs.insert(key.to_string(), value);
        Ok(())
    }

    /// Weights and biases of the network this config builds (saturating, so a config read
    /// from a file cannot overflow it).
    pub fn parameter_count(&self) -> u64 {
        let dense = |i: usize, o: usize| (i as u64).saturating_add(1).saturating_mul(o as u64);
        let mut sizes = vec![self.input_dim];
        sizes.extend_from_slice(&self.hidden);
        let last = *sizes.last().unwrap_or(&self.input_dim);
        let heads = if self.kind.is_variational() { 2 } else { 1 };
        // The encoder trunk and the decoder mirror each other, apart from their biases.
        let trunk: u64 = sizes.windows(2).map(|w| dense(w[0], w[1])).sum();
        let decoder: u64 = std::iter::once(self.latent_dim)
            .chain(self.hidden.iter().rev().copied())
            .zip(self.hidden.iter().rev().copied().chain([self.input_dim]))
            .map(|(i, o)| dense(i, o))
            .sum();
        trunk
            .saturating_add(dense(last, self.latent_dim).saturating_mul(heads))
            .saturating_add(decoder)
    }

    /// Checks ranges; the message names the setting.
    pub fn validate(&self) -> std::result::Result<(), String> {
        limits::INPUT_DIM.check(self.input_dim)?;
        limits::LATENT_DIM.check(self.latent_dim)?;
        limits::HIDDEN_LAYERS.check(self.hidden.len())?;
        for &h in &self.hidden {
            limits::HIDDEN_SIZE.check(h)?;
        }
        let count = self.parameter_count();
        if count > limits::MAX_PARAMETERS {
            return Err(format!(
                "{} parameters is more than the {} allowed (use fewer or narrower hidden layers)",
                limits::grouped(count),
                limits::grouped(limits::MAX_PARAMETERS)
            ));
        }
        for (key, value) in &self.knobs {
            let spec = self
                .kind
                .knob(key)
                .ok_or_else(|| format!("{} has no knob '{key}'", self.kind))?;
            spec.check(value)?;
        }
        if let Some(check) = self.kind.spec().check {
            check(self)?;
        }
        Ok(())
    }
}

impl LossTerms<Tensor> {
    /// Batch mean of the objective: recon + kl_weight·kl + penalty.
    pub fn objective(&self, kl_weight: f64) -> Result<Tensor> {
        ((&self.recon + (&self.kl * kl_weight)?)? + &self.penalty)?.mean_all()
    }

    /// The batch mean of each term.
    pub fn means(&self) -> Result<LossTerms> {
        Ok(LossTerms {
            recon: mean(&self.recon)?,
            kl: mean(&self.kl)?,
            penalty: mean(&self.penalty)?,
        })
    }
}

/// An autoencoder of any kind: encoder trunk, code head(s), decoder.
pub struct Autoencoder {
    /// Its configuration.
    pub config: ModelConfig,
    pub(crate) trunk: Mlp,
    pub(crate) mu_head: Dense,
    pub(crate) logvar_head: Option<Dense>,
    pub(crate) decoder: Mlp,
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

    /// The input a model trains on: `x` corrupted by the kind's corruption (a denoiser's
    /// noise); `x` itself for kinds that do not corrupt.
    pub fn corrupt(&self, x: &Tensor, rng: &mut PortableRng) -> Result<Tensor> {
        match self.config.kind.spec().corrupt {
            Some(corrupt) => corrupt(&self.config, x, rng),
            None => Ok(x.clone()),
        }
    }

    /// Draws standard normal noise of the given shape from `rng`.
    pub fn standard_normal(rng: &mut PortableRng, rows: usize, cols: usize) -> Result<Tensor> {
        let v: Vec<f32> = (0..rows * cols)
            .map(|_| StandardNormal.sample(rng))
            .collect();
        Tensor::from_vec(v, (rows, cols), &Device::Cpu)
    }

    /// The loss terms on a batch as training sees it: the input corrupted (denoisers), the
    /// target clean. `rng` draws the VAE's ε and the denoiser's noise.
    pub fn loss_terms(&self, x: &Tensor, rng: &mut PortableRng) -> Result<LossTerms<Tensor>> {
        let input = self.corrupt(x, rng)?;
        self.loss_terms_for(&input, x, rng)
    }

    /// The loss terms with the clean input fed in: what evaluation compares across kinds.
    pub fn clean_loss_terms(&self, x: &Tensor, rng: &mut PortableRng) -> Result<LossTerms<Tensor>> {
        self.loss_terms_for(x, x, rng)
    }

    /// The loss terms of reconstructing `target` from `input`.
    pub fn loss_terms_for(
        &self,
        input: &Tensor,
        target: &Tensor,
        rng: &mut PortableRng,
    ) -> Result<LossTerms<Tensor>> {
        let h = self.trunk.forward(input)?;
        let mu = self.mu_head.forward(&h)?;
        let batch = input.dim(0)?;
        let zeros = Tensor::zeros(batch, candle_core::DType::F32, input.device())?;
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
        let recon = self.recon_nll(&self.decode_raw(&z)?, target)?;
        let penalty = match self.config.kind.penalty() {
            Some(penalty) => (penalty.loss)(&PenaltyInput {
                model: self,
                input,
                mu: &mu,
            })?,
            None => zeros,
        };
        Ok(LossTerms { recon, kl, penalty })
    }

    /// One optimiser step on a batch with the KL weight scaled by `kl_scale` (warm-up).
    /// Returns the batch means of (recon, kl, penalty), or `None`, without stepping, if
    /// the objective is NaN or infinite. The kind's table entry says how the gradients are
    /// computed; both ways give the same numbers up to float rounding.
    pub fn train_step(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        kl_scale: f64,
    ) -> Result<Option<LossTerms>> {
        flush_subnormals();
        match self.config.kind.gradients() {
            kinds::Gradients::Manual => self.train_step_manual(opt, x, rng, kl_scale),
            kinds::Gradients::Autograd => self.train_step_autograd(opt, x, rng, kl_scale),
        }
    }

    /// [`Autoencoder::train_step`] through candle's autograd.
    pub fn train_step_autograd(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        kl_scale: f64,
    ) -> Result<Option<LossTerms>> {
        let terms = self.loss_terms(x, rng)?;
        let objective = terms.objective(self.kl_weight() * kl_scale)?;
        let means = terms.means()?;
        let value: f32 = objective.to_scalar()?;
        if !value.is_finite() || !means.is_finite() {
            return Ok(None);
        }
        opt.backward_step(&objective)?;
        Ok(Some(means))
    }

    /// [`Autoencoder::train_step`] through the hand-written backward pass ([`backward`]).
    pub fn train_step_manual(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        kl_scale: f64,
    ) -> Result<Option<LossTerms>> {
        backward::train_step_manual(self, opt, x, rng, kl_scale)
    }

    /// An Adam optimiser over this model's weights (decoupled weight decay from the config).
    pub fn optimizer(&self, lr: f64) -> Adam {
        Adam::new(
            self.vars(),
            lr,
            f64::from(self.config.number("weight_decay")),
        )
    }

    /// The KL weight the objective uses (β for a β-VAE, 1 for a VAE).
    pub fn kl_weight(&self) -> f64 {
        if self.config.kind.knob("beta").is_some() {
            f64::from(self.config.number("beta"))
        } else {
            1.0
        }
    }

    /// A frozen copy of the decoder as plain numbers, for the UI.
    pub fn decoder_snapshot(&self) -> Result<DecoderSnapshot> {
        DecoderSnapshot::from_layers(
            &self.decoder.layers,
            self.config.likelihood == Likelihood::Bernoulli,
        )
    }

    /// A frozen copy of the encoder (trunk and heads) as plain numbers, for the UI.
    pub fn encoder_snapshot(&self) -> Result<EncoderSnapshot> {
        EncoderSnapshot::from_layers(&self.trunk.layers, &self.mu_head, self.logvar_head.as_ref())
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

/// Makes this thread's float arithmetic treat subnormal numbers as zero (x86's FTZ and DAZ
/// bits). As a run trains, some activations and Adam moments sink into the subnormal range,
/// where every operation on them costs ~100 cycles: measured, an epoch of the VAE 784-400-20
/// went from 21,000 to 16,000 samples/s from epoch 1 to 2 without this, and stays at 21,000
/// with it. Values below 1.2e-38 do not change any loss we report. Called at every training
/// step, so each thread that trains (the worker, the parallel model threads) has it set.
pub fn flush_subnormals() {
    #[cfg(target_arch = "x86_64")]
    {
        const FTZ_DAZ: u32 = 0x8040;
        let mut csr: u32 = 0;
        // SAFETY: STMXCSR/LDMXCSR read and write this thread's SSE control register through
        // a local variable; only the rounding of subnormal results changes, no memory else.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
            csr |= FTZ_DAZ;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

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
        for kind in ModelKind::all() {
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
            assert_eq!(pen > 0.0, kind.penalty().is_some(), "{kind}");
        }
    }

    #[test]
    fn a_training_step_flushes_subnormals_on_its_thread() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let on_fresh_thread = || {
            std::thread::spawn(move || {
                let mut rng = PortableRng::seed_from_u64(1);
                let mut cfg = ModelConfig::new(ModelKind::Vae, 4, Likelihood::Bernoulli);
                cfg.hidden = vec![3];
                let m = Autoencoder::new(cfg, &mut rng).unwrap();
                let before = std::hint::black_box(std::hint::black_box(tiny) * 0.5);
                let mut opt = Adam::new(m.vars(), 1e-3, 0.0);
                let x = Tensor::zeros((2, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
                m.train_step(&mut opt, &x, &mut rng, 1.0).unwrap();
                (before, std::hint::black_box(tiny) * 0.5)
            })
            .join()
            .unwrap()
        };
        let (before, after) = on_fresh_thread();
        assert!(before > 0.0, "a fresh thread keeps subnormals: {before:e}");
        assert_eq!(
            after, 0.0,
            "after a step, half of the smallest normal float is flushed"
        );
    }

    #[test]
    fn validate_names_the_setting() {
        let mut cfg = ModelConfig::new(ModelKind::Vae, 4, Likelihood::Gaussian);
        cfg.latent_dim = 65;
        assert!(cfg.validate().unwrap_err().contains("latent dimension 65"));
        cfg.latent_dim = 2;
        let mut beta = ModelConfig::new(ModelKind::BetaVae, 4, Likelihood::Gaussian);
        beta.knobs.insert("beta".into(), KnobValue::Number(-1.0));
        assert!(beta.validate().unwrap_err().contains("β -1"));
        assert!(
            cfg.set_knob("beta", KnobValue::Number(2.0))
                .unwrap_err()
                .contains("vae has no knob 'beta'")
        );
    }

    #[test]
    fn a_denoiser_is_scored_on_clean_inputs_like_every_other_kind() {
        // A DAE that drops every pixel and an AE with the very same weights: fed clean
        // inputs they are the same network, so their test reconstruction must agree;
        // the denoising score (from all-zero inputs) is reported apart and differs.
        let split = crate::data::Split {
            x: (0..40 * 8).map(|i| ((i * 7) % 11) as f32 / 10.0).collect(),
            labels: vec![0; 40],
        };
        let build = |kind| {
            let mut cfg = ModelConfig::new(kind, 8, Likelihood::Bernoulli);
            cfg.hidden = vec![6];
            if kind == ModelKind::Dae {
                cfg.set_knob("noise_kind", KnobValue::Choice("masking".into()))
                    .unwrap();
                cfg.set_knob("noise_level", KnobValue::Number(1.0)).unwrap();
            }
            Autoencoder::new(cfg, &mut PortableRng::seed_from_u64(4)).unwrap()
        };
        let (ae, dae) = (build(ModelKind::Ae), build(ModelKind::Dae));
        let mut rng = PortableRng::seed_from_u64(1);
        let a = evaluate(&ae, &split, 8, &mut rng, 0).unwrap();
        let d = evaluate(&dae, &split, 8, &mut rng, 0).unwrap();
        assert!(
            (a.recon - d.recon).abs() < 1e-4,
            "{} vs {}",
            a.recon,
            d.recon
        );
        assert_eq!(a.denoising_recon, None);
        let noisy = d.denoising_recon.unwrap();
        assert!(
            (noisy - d.recon).abs() > 1e-3,
            "denoising {noisy} vs clean {}",
            d.recon
        );
    }
}
