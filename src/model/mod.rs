//! The autoencoder family on candle: kinds, configuration, losses and evaluation.

mod adam;
pub mod arch;
pub mod backward;
pub mod checkpoint;
mod config;
pub mod conv;
mod eval;

#[cfg(test)]
mod grad_check;
pub mod inspect;
pub mod iwae;
pub mod kinds;
pub mod knobs;
pub mod limits;
pub mod loss;
pub mod metrics;
pub mod mlp;
pub mod objective;
pub mod penalty;
pub mod snapshot;
pub mod terms;
pub mod vq;

pub use adam::Adam;
pub use config::{Arch, ConfigError, ImageDims, Likelihood, ModelConfig};
pub use eval::{Metrics, evaluate, evaluate_with_codes};
pub use inspect::{ItemReport, inspect, inspect_as};
pub use kinds::{DEFAULT_BETA, KnobSpec, KnobValue, ModelKind};
pub use objective::{KlTerm, Schedule};
pub use snapshot::{DecoderSnapshot, EncoderSnapshot};
pub use terms::{LossMeans, LossSums, LossTerms};

use crate::rng::PortableRng;
use candle_core::{Device, Result, Tensor, Var};
use kinds::PenaltyInput;
use mlp::{Dense, Mlp};
use rand_distr::{Distribution, StandardNormal};

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
    /// The convolutions around the dense layers (`--arch conv`); `None` for an MLP.
    pub(crate) conv: Option<conv::ConvNet>,
    /// The codebook of a vq-vae (`vq.rs`); `None` for every other kind.
    pub(crate) codebook: Option<vq::Codebook>,
}

impl Autoencoder {
    /// A freshly initialised model; the same rng state gives the same weights.
    pub fn new(config: ModelConfig, rng: &mut PortableRng) -> Result<Self> {
        let dev = Device::Cpu;
        let plan = arch::ConvPlan::for_items(config.arch, config.image)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut conv = match plan {
            Some(plan) => Some(conv::ConvNet::new_encoder(plan, rng, &dev)?),
            None => None,
        };
        // The dense layers see the items (MLP) or the convolutions' deepest map (conv).
        let dense_dim = conv
            .as_ref()
            .map_or(config.input_dim, |c| c.plan.flat_dim());
        // A conditional kind's encoder sees item ++ one-hot, its decoder z ++ one-hot.
        let cond = config.condition_dim();
        let mut enc_sizes = vec![dense_dim + cond];
        enc_sizes.extend_from_slice(&config.hidden);
        let trunk = Mlp::new(&enc_sizes, true, rng, &dev)?;
        let last = *enc_sizes.last().unwrap_or(&config.input_dim);
        let mu_head = Dense::new(last, config.latent_dim, rng, &dev)?;
        let logvar_head = if config.kind.is_variational() {
            Some(Dense::new(last, config.latent_dim, rng, &dev)?)
        } else {
            None
        };
        let mut dec_sizes = vec![config.latent_dim + cond];
        dec_sizes.extend(config.hidden.iter().rev());
        dec_sizes.push(dense_dim);
        // Before transposed convolutions the last dense layer has its ReLU too.
        let decoder = Mlp::new(&dec_sizes, conv.is_some(), rng, &dev)?;
        if let Some(c) = &mut conv {
            c.add_decoder(rng, &dev)?;
            // A conv model's dense layers start at He's scale too (why: `conv::he_scale`).
            let dense = trunk.layers.iter().chain([&mu_head]);
            let dense = dense.chain(&logvar_head).chain(&decoder.layers);
            conv::he_scale(dense)?;
        }
        let codebook = vq::Codebook::for_config(&config, rng)?;
        Ok(Self {
            config,
            trunk,
            mu_head,
            logvar_head,
            decoder,
            conv,
            codebook,
        })
    }

    /// How this model's gradients are computed: the kind's table entry says, for an MLP;
    /// the hand-written backward pass knows only the MLP, so a conv model always trains
    /// through autograd.
    pub fn gradients(&self) -> kinds::Gradients {
        match self.config.arch {
            Arch::Mlp => self.config.kind.gradients(),
            Arch::Conv => kinds::Gradients::Autograd,
        }
    }

    /// What the dense trunk sees of a (batch, input) tensor: the items themselves (MLP), or
    /// the convolutions' deepest map, flattened (conv).
    fn features(&self, x: &Tensor) -> Result<Tensor> {
        match &self.conv {
            Some(c) => c.features(x),
            None => Ok(x.clone()),
        }
    }

    /// Every trainable variable with a stable name (the checkpoint keys).
    pub fn named_vars(&self) -> Vec<(String, Var)> {
        let (conv_encoder, conv_decoder) = self
            .conv
            .as_ref()
            .map(conv::ConvNet::named_vars)
            .unwrap_or_default();
        let mut out = conv_encoder;
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
        out.extend(conv_decoder);
        out.extend(
            self.codebook
                .iter()
                .map(|c| ("codebook".into(), c.var.clone())),
        );
        out
    }

    /// The trainable variables, for the optimiser.
    pub fn vars(&self) -> Vec<Var> {
        self.named_vars().into_iter().map(|(_, v)| v).collect()
    }

    /// The code mean and (for a VAE) log-variance of a (batch, input) tensor.
    pub fn encode(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let h = self.trunk.forward(&self.features(x)?)?;
        let mu = self.mu_head.forward(&h)?;
        let logvar = match &self.logvar_head {
            Some(head) => Some(head.forward(&h)?),
            None => None,
        };
        Ok((mu, logvar))
    }

    /// Decoder output: logits (Bernoulli) or means (Gaussian), for decoder inputs `z` (a
    /// conditional kind's: code ++ one-hot class; see [`Autoencoder::decode_given`]).
    pub fn decode_raw(&self, z: &Tensor) -> Result<Tensor> {
        let h = self.decoder.forward(z)?;
        match &self.conv {
            Some(c) => c.image(&h),
            None => Ok(h),
        }
    }

    /// Reconstruction NLL of `target` given decoder output, per row.
    pub fn recon_nll(&self, raw: &Tensor, target: &Tensor) -> Result<Tensor> {
        // A conditional model's input carries the one-hot class after the item.
        let target = &self.items_of(target)?;
        match self.config.likelihood {
            Likelihood::Bernoulli => loss::bce_with_logits(raw, target),
            Likelihood::Gaussian => loss::gaussian_nll(raw, target),
        }
    }

    /// What this model takes as input for items `x` (batch, input) of classes `labels`:
    /// `x` itself, or for a conditional kind `x ++ one-hot(label)` (batch, input + classes).
    /// Every method taking a batch takes it in this form.
    pub fn input_of(&self, x: &Tensor, labels: &[u32]) -> Result<Tensor> {
        let classes = self.config.condition_dim();
        if classes == 0 {
            return Ok(x.clone());
        }
        let rows = x.dim(0)?;
        if labels.len() != rows {
            candle_core::bail!(
                "{} needs the class of every item ({} items, {} labels)",
                self.config.kind,
                rows,
                labels.len()
            )
        }
        let hot = one_hot(labels, classes)?;
        Tensor::cat(&[x, &hot], 1)
    }

    /// The items of a model input (its first `input_dim` columns, without a one-hot class).
    pub fn items_of(&self, input: &Tensor) -> Result<Tensor> {
        let cond = self.config.condition_dim();
        if cond == 0 || input.dim(1)? <= self.config.input_dim {
            return Ok(input.clone());
        }
        input.narrow(1, 0, self.config.input_dim)
    }

    /// Decodes codes `z` (batch, latent) of the items of model input `input`: the decoder's
    /// raw output, given the input's one-hot class for a conditional kind.
    pub fn decode_given(&self, z: &Tensor, input: &Tensor) -> Result<Tensor> {
        // A vq-vae's decoder sees the nearest codebook entries, straight-through.
        let z = &vq::straight_through(self.codebook.as_ref(), z)?;
        let cond = self.config.condition_dim();
        if cond == 0 {
            return self.decode_raw(z);
        }
        let hot = input.narrow(1, self.config.input_dim, cond)?;
        self.decode_raw(&Tensor::cat(&[z, &hot], 1)?)
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
        Ok(self.training_terms(x, rng)?.0)
    }

    /// [`Autoencoder::loss_terms`] and, for a variational kind, the KL of each item and
    /// latent dimension, (batch, latent): what free bits need.
    pub fn training_terms(
        &self,
        x: &Tensor,
        rng: &mut PortableRng,
    ) -> Result<(LossTerms<Tensor>, Option<Tensor>)> {
        let input = self.corrupt(x, rng)?;
        let (terms, kl_dims, _) = self.terms_kl_dims_and_code(&input, x, rng)?;
        Ok((terms, kl_dims))
    }

    /// The loss terms with the clean input fed in: what evaluation compares across kinds.
    pub fn clean_loss_terms(&self, x: &Tensor, rng: &mut PortableRng) -> Result<LossTerms<Tensor>> {
        self.loss_terms_for(x, x, rng)
    }

    /// [`Autoencoder::clean_loss_terms`] and the code the encoder gave each item (μ, what
    /// [`Autoencoder::encode`] gives), from one encoder pass: what evaluation needs.
    pub fn clean_terms_and_code(
        &self,
        x: &Tensor,
        rng: &mut PortableRng,
    ) -> Result<(LossTerms<Tensor>, Tensor)> {
        let (terms, _, mu) = self.terms_kl_dims_and_code(x, x, rng)?;
        Ok((terms, mu))
    }

    /// The loss terms of reconstructing `target` from `input`.
    pub fn loss_terms_for(
        &self,
        input: &Tensor,
        target: &Tensor,
        rng: &mut PortableRng,
    ) -> Result<LossTerms<Tensor>> {
        Ok(self.terms_kl_dims_and_code(input, target, rng)?.0)
    }

    /// [`Autoencoder::loss_terms_for`], the KL of each item and dimension (variational
    /// kinds) and the encoder's code μ of each item.
    fn terms_kl_dims_and_code(
        &self,
        input: &Tensor,
        target: &Tensor,
        rng: &mut PortableRng,
    ) -> Result<(LossTerms<Tensor>, Option<Tensor>, Tensor)> {
        let h = self.trunk.forward(&self.features(input)?)?;
        let mu = self.mu_head.forward(&h)?;
        let batch = input.dim(0)?;
        let zeros = Tensor::zeros(batch, candle_core::DType::F32, input.device())?;
        let (z, kl, kl_dims) = match &self.logvar_head {
            Some(head) => {
                let logvar = head.forward(&h)?;
                let eps = Self::standard_normal(rng, batch, self.config.latent_dim)?;
                let z = (&mu + (logvar.affine(0.5, 0.0)?.exp()? * eps)?)?;
                let kl_dims = loss::kl_each_dim(&mu, &logvar)?;
                let kl = kl_dims.sum(candle_core::D::Minus1)?;
                (z, kl, Some(kl_dims))
            }
            None => (mu.clone(), zeros.clone(), None),
        };
        let recon = self.recon_nll(&self.decode_given(&z, input)?, target)?;
        let penalty = match self.config.kind.penalty() {
            Some(penalty) => (penalty.loss)(&PenaltyInput {
                model: self,
                input,
                mu: &mu,
            })?,
            None => zeros,
        };
        Ok((LossTerms { recon, kl, penalty }, kl_dims, mu))
    }

    /// One optimiser step on a batch, the objective's KL term as the knobs make it at
    /// `at` ([`KlTerm::of`]: the warm-up's factor, and the step count for a capacity).
    /// Returns the batch means of (recon, kl, penalty), or `None`, without stepping, if
    /// the objective is NaN or infinite. The kind's table entry says how the gradients are
    /// computed ([`Autoencoder::gradients`]); both ways give the same numbers up to float
    /// rounding.
    pub fn train_step(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        at: Schedule,
    ) -> Result<Option<LossTerms>> {
        Ok(self.train_step_reported(opt, x, rng, at)?.map(|m| m.terms))
    }

    /// [`Autoencoder::train_step`] with the total loss it reports: recon + β·KL + penalty
    /// ([`Autoencoder::kl_weight`]'s β), or −L_k for a kind trained on the
    /// importance-weighted bound ([`iwae`]).
    pub fn train_step_reported(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        at: Schedule,
    ) -> Result<Option<LossMeans>> {
        flush_subnormals();
        let terms = match self.gradients() {
            kinds::Gradients::Manual => self.train_step_manual(opt, x, rng, at)?,
            kinds::Gradients::Autograd => return self.autograd_step(opt, x, rng, at),
        };
        Ok(terms.map(|terms| self.reported(terms)))
    }

    /// [`Autoencoder::train_step`] through candle's autograd.
    pub fn train_step_autograd(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        at: Schedule,
    ) -> Result<Option<LossTerms>> {
        Ok(self.autograd_step(opt, x, rng, at)?.map(|m| m.terms))
    }

    /// One autograd step and what it reports ([`Autoencoder::train_step_reported`]).
    fn autograd_step(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        at: Schedule,
    ) -> Result<Option<LossMeans>> {
        if let Some(k) = iwae::samples(&self.config) {
            return iwae::train_step(self, opt, x, k, rng, at);
        }
        let (terms, kl_dims) = self.training_terms(x, rng)?;
        let objective = KlTerm::of(&self.config, at).objective(&terms, kl_dims.as_ref())?;
        let means = terms.means()?;
        let value: f32 = objective.to_scalar()?;
        if !value.is_finite() || !means.is_finite() {
            return Ok(None);
        }
        opt.backward_step(&objective)?;
        if let Some(codebook) = &self.codebook {
            codebook.after_step(rng)?;
        }
        Ok(Some(self.reported(means)))
    }

    /// Mean terms and the total loss reported with them: recon + β·KL + penalty.
    fn reported(&self, terms: LossTerms) -> LossMeans {
        LossMeans {
            terms,
            loss: terms.objective(self.kl_weight()),
        }
    }

    /// [`Autoencoder::train_step`] through the hand-written backward pass ([`backward`]).
    pub fn train_step_manual(
        &self,
        opt: &mut Adam,
        x: &Tensor,
        rng: &mut PortableRng,
        at: Schedule,
    ) -> Result<Option<LossTerms>> {
        if self.conv.is_some() {
            candle_core::bail!(
                "no hand-written gradients for --arch conv (they cover the MLP only); a conv \
                 model trains through autograd"
            )
        }
        backward::train_step_manual(self, opt, x, rng, at)
    }

    /// An Adam optimiser over this model's weights (decoupled weight decay from the config).
    pub fn optimizer(&self, lr: f64) -> Adam {
        Adam::new(
            self.vars(),
            lr,
            f64::from(self.config.number("weight_decay")),
        )
    }

    /// The KL weight of the reported total loss: β for a β-VAE that uses it, else 1 (a
    /// capacity above 0 switches β off; see [`objective::kl_weight`]). What training
    /// minimises is [`KlTerm::of`].
    pub fn kl_weight(&self) -> f64 {
        objective::kl_weight(&self.config)
    }

    /// A frozen copy of the decoder as plain numbers, for the UI.
    pub fn decoder_snapshot(&self) -> Result<DecoderSnapshot> {
        let decoder = DecoderSnapshot::from_model(
            &self.decoder.layers,
            self.conv.as_ref(),
            self.config.likelihood == Likelihood::Bernoulli,
            self.config.condition_dim(),
        )?;
        Ok(decoder.with_codebook(vq::shared_data(self.codebook.as_ref())?))
    }

    /// A frozen copy of the encoder (trunk and heads) as plain numbers, for the UI.
    pub fn encoder_snapshot(&self) -> Result<EncoderSnapshot> {
        let encoder = EncoderSnapshot::from_model(
            &self.trunk.layers,
            self.conv.as_ref(),
            &self.mu_head,
            self.logvar_head.as_ref(),
            self.config.condition_dim(),
        )?;
        Ok(EncoderSnapshot {
            codebook: vq::shared_data(self.codebook.as_ref())?,
            ..encoder
        })
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

/// One row per label, 1 in the label's column (labels at or past `classes` give a zero row).
pub fn one_hot(labels: &[u32], classes: usize) -> Result<Tensor> {
    let mut v = vec![0f32; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        if (label as usize) < classes {
            v[row * classes + label as usize] = 1.0;
        }
    }
    Tensor::from_vec(v, (labels.len(), classes), &Device::Cpu)
}

/// Makes a (rows, dim) tensor from items stored back to back.
pub fn batch_tensor(values: Vec<f32>, dim: usize) -> Result<Tensor> {
    let rows = values.len() / dim.max(1);
    Tensor::from_vec(values, (rows, dim), &Device::Cpu)
}

/// Tells the allocator (mimalloc, the binary's global allocator) to keep the memory it frees
/// instead of giving it back to the system 10 ms later (`MIMALLOC_PURGE_DELAY` in the
/// environment, in ms, wins: it is how the cost is measured). A conv step frees and allocates
/// buffers of tens of MB every few milliseconds; given back, each new one is faulted in and
/// zeroed by the kernel page by page: measured, that was a third of a 64×64 conv VAE's step
/// (`benches/conv.rs`: 229 → 399 items/s, median, one pinned core). A finite delay is not
/// enough: with 2,000 ms a `sprites` conv run's memory still went back and forth between 0.4
/// and 0.8 GB and its epochs trained at 178–222 samples/s against 338–363 with none given
/// back (same minutes, one pinned core). The process keeps its peak footprint instead, which
/// is why no pass may hold much more than a step does: passes without gradients go through
/// `Arch::inference_rows` items at a time (before that, a conv run on `sprites` kept 7.9 GiB
/// after its first evaluation; now 1.2 GiB, flat). Call once at start, before training.
pub fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc.h (v2 and v3); the bindings name the options on
    // either side of it (eager_commit_delay 14, use_numa_nodes 16) but not it.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    let from_env = std::env::var("MIMALLOC_PURGE_DELAY").ok();
    let delay = from_env.and_then(|v| v.trim().parse::<i64>().ok());
    let delay = std::ffi::c_long::try_from(delay.unwrap_or(-1)).unwrap_or(-1);
    // SAFETY: sets one of mimalloc's process-wide options (a plain store of a long); it may
    // be set at any time and only decides when free pages are returned to the system.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, delay) };
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
                m.train_step(&mut opt, &x, &mut rng, crate::model::Schedule::START)
                    .unwrap();
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
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("latent dimension 65")
        );
        cfg.latent_dim = 2;
        let mut beta = ModelConfig::new(ModelKind::BetaVae, 4, Likelihood::Gaussian);
        beta.knobs.insert("beta".into(), KnobValue::Number(-1.0));
        assert!(beta.validate().unwrap_err().to_string().contains("β -1"));
        assert!(
            cfg.set_knob("beta", KnobValue::Number(2.0))
                .unwrap_err()
                .to_string()
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
            factors: Vec::new(),
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
