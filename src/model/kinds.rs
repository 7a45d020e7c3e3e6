//! The model kinds: one table entry each. An entry names the kind, gives its colour, says
//! whether it is variational, lists its knobs (name, range, default, live or not) and points
//! at its hooks: how it corrupts its input and which penalty it adds to the loss.
//!
//! Adding a kind: a `KindSpec` const and its line in [`KINDS`], a `ModelKind` constant naming
//! it, and its hook functions below. The controls, the command-line flags, `ModelConfig`,
//! the live `SetKnob` command, the manual backward pass, the inspector and the figures all
//! read this table; nothing else matches on a kind.

pub use super::knobs::{
    COMMON_KNOBS, KNOB_SWITCHES, KnobError, KnobRange, KnobSpec, KnobSwitch, KnobValue,
    WHOLE_NUMBER_KNOBS, unused_because,
};
pub use super::penalty::{
    CodePenalty, ItemPenaltyFn, ManualPenalty, Penalty, PenaltyFn, PenaltyInput,
};
use super::snapshot::EncoderSnapshot;
use super::{Likelihood, ModelConfig, mlp};
use crate::rng::PortableRng;
use candle_core::{D, Result, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// A kind of autoencoder: a handle on its row of the table. Its name, title and behaviour
/// live in its [`KindSpec`]; the constants below name the built-in rows of [`KINDS`].
/// Two kinds are equal when their names are; they sort in table order.
#[derive(Clone, Copy)]
pub struct ModelKind(&'static KindSpec);

#[allow(non_upper_case_globals)]
impl ModelKind {
    /// Plain autoencoder.
    pub const Ae: ModelKind = ModelKind(&AE);
    /// Variational autoencoder (KL weight 1).
    pub const Vae: ModelKind = ModelKind(&VAE);
    /// VAE with KL weight β.
    pub const BetaVae: ModelKind = ModelKind(&BETA_VAE);
    /// Denoising autoencoder: noisy input, clean target.
    pub const Dae: ModelKind = ModelKind(&DAE);
    /// Sparse autoencoder: L1 penalty on the code.
    pub const Sae: ModelKind = ModelKind(&SAE);
    /// Contractive autoencoder: penalty on the encoder's Jacobian.
    pub const Cae: ModelKind = ModelKind(&CAE);
    /// Conditional VAE: encoder and decoder both see the class as a one-hot vector.
    pub const Cvae: ModelKind = ModelKind(&CVAE);
    /// Importance-weighted autoencoder: trains on the k-sample bound (Burda et al. 2016).
    pub const Iwae: ModelKind = ModelKind(&IWAE);
    /// VQ-VAE: the code snaps to the nearest of a codebook's entries (`vq.rs`).
    pub const VqVae: ModelKind = ModelKind(&VQ_VAE);
}

impl PartialEq for ModelKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for ModelKind {}

impl std::hash::Hash for ModelKind {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl PartialOrd for ModelKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ModelKind {
    /// Table order (the display order), then by name for kinds outside the table.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.position(), self.0.name).cmp(&(other.position(), other.0.name))
    }
}

impl std::fmt::Debug for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModelKind({})", self.0.name)
    }
}

/// Corrupts a (batch, input) tensor the way a kind trains on.
pub type CorruptFn = fn(&ModelConfig, &Tensor, &mut PortableRng) -> Result<Tensor>;
/// Checks between knobs of one kind that a single range cannot express.
pub type CheckFn = fn(&ModelConfig) -> std::result::Result<(), KnobError>;

/// How a kind's gradients are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gradients {
    /// candle's autograd through the loss.
    Autograd,
    /// The hand-written backward pass of `model::backward`.
    Manual,
}

/// One row of the table: everything that makes a kind what it is.
pub struct KindSpec {
    /// Name on the command line, in files and in the UI ("beta-vae").
    pub name: &'static str,
    /// Longer name for captions ("β-VAE").
    pub title: &'static str,
    /// One sentence for tooltips and help.
    pub about: &'static str,
    /// Its colour everywhere: curves, frames, headers, figures.
    pub color: [u8; 3],
    /// True if it has a posterior q(z|x) (a log-variance head and a KL term).
    pub variational: bool,
    /// Its own knobs (every kind also has [`COMMON_KNOBS`]).
    pub knobs: &'static [KnobSpec],
    /// How it corrupts its training input, if it does.
    pub corrupt: Option<CorruptFn>,
    /// The penalty it adds to the loss, if any.
    pub penalty: Option<Penalty>,
    /// Cross-knob checks, if any.
    pub check: Option<CheckFn>,
    /// True if encoder and decoder both see the item's class as a one-hot vector (encoder
    /// input = item ++ one-hot, decoder input = z ++ one-hot); the class count comes from the
    /// data set (`ModelConfig::classes`). Such a kind trains through autograd.
    pub conditional: bool,
}

impl KindSpec {
    /// How its gradients are computed: by hand unless its penalty is autograd only (or it
    /// is conditional, or trains on the importance-weighted bound: the hand-written pass
    /// knows the ELBO only).
    pub fn gradients(&self) -> Gradients {
        if self.conditional || self.knobs.iter().any(|k| k.key == IW_SAMPLES.key) {
            return Gradients::Autograd;
        }
        match self.penalty {
            None
            | Some(Penalty {
                manual: Some(_), ..
            }) => Gradients::Manual,
            Some(Penalty { manual: None, .. }) => Gradients::Autograd,
        }
    }
}

/// Default β of a β-VAE.
pub const DEFAULT_BETA: f32 = 4.0;

const BETA: KnobSpec = KnobSpec {
    key: "beta",
    flag: "beta",
    label: "β",
    help: "weight of the KL term of the beta-vae (not used while capacity is above 0)",
    range: KnobRange::Number {
        min: 0.0,
        max: 1000.0,
        default: DEFAULT_BETA,
        slider_max: 20.0,
    },
    live: true,
};

/// Default number of steps over which the capacity C rises from 0 to its maximum: about half
/// of the default 10-epoch run on the digits (938 steps an epoch at batch 64), so the second
/// half trains at C_max and the KL has time to settle there; in the window, at 60–100 steps
/// a second, about a minute.
pub const DEFAULT_CAPACITY_STEPS: f32 = 5000.0;

const FREE_BITS: KnobSpec = KnobSpec {
    key: "free_bits",
    flag: "free-bits",
    label: "free bits",
    help: "the vae's KL floor λ per latent dimension, in nats (Kingma et al. 2016): the \
           objective's KL is Σ max(λ, KL of dimension j over the batch), so no gradient pushes \
           a dimension below λ; 0 is off",
    range: KnobRange::Number {
        min: 0.0,
        max: 10.0,
        default: 0.0,
        slider_max: 2.0,
    },
    live: true,
};

const CAPACITY: KnobSpec = KnobSpec {
    key: "capacity",
    flag: "capacity",
    label: "capacity",
    help: "the beta-vae's target KL C_max in nats (Burgess et al. 2018): the objective is \
           recon + γ·|KL − C|, C rising from 0 to C_max over capacity steps; β is not used \
           while this is above 0; 0 is off (the plain β-VAE)",
    range: KnobRange::Number {
        min: 0.0,
        max: 500.0,
        default: 0.0,
        slider_max: 50.0,
    },
    live: true,
};

const GAMMA: KnobSpec = KnobSpec {
    key: "gamma",
    flag: "gamma",
    label: "γ",
    help: "weight γ of the beta-vae's |KL − C| when capacity is above 0 (1000 in Burgess et \
           al. 2018); unused otherwise",
    range: KnobRange::Number {
        min: 0.0,
        max: 100_000.0,
        default: 1000.0,
        slider_max: 2000.0,
    },
    live: true,
};

const CAPACITY_STEPS: KnobSpec = KnobSpec {
    key: "capacity_steps",
    flag: "capacity-steps",
    // Short: the side panel is as wide as its widest row (1280×720 must fit).
    label: "C steps",
    help: "training steps over which the beta-vae's capacity C rises from 0 to C_max, then \
           stays (0: C_max from the first step); unused while capacity is 0",
    range: KnobRange::Number {
        min: 0.0,
        max: 10_000_000.0,
        default: DEFAULT_CAPACITY_STEPS,
        slider_max: 20_000.0,
    },
    live: true,
};

const NOISE_LEVEL: KnobSpec = KnobSpec {
    key: "noise_level",
    flag: "noise",
    label: "noise",
    help: "noise of the dae: sigma (gaussian) or drop probability (masking)",
    range: KnobRange::Number {
        min: 0.0,
        max: 10.0,
        default: 0.3,
        slider_max: 1.0,
    },
    live: true,
};

const NOISE_KIND: KnobSpec = KnobSpec {
    key: "noise_kind",
    flag: "noise-kind",
    label: "noise kind",
    help: "how the dae corrupts its input: add gaussian noise, or zero values (masking)",
    range: KnobRange::Choice {
        options: &["gaussian", "masking"],
        default: "gaussian",
    },
    live: true,
};

const SPARSITY: KnobSpec = KnobSpec {
    key: "sparsity",
    flag: "sparsity",
    label: "sparsity",
    help: "weight of the L1 penalty on the code of the sae",
    range: KnobRange::Number {
        min: 0.0,
        max: 1000.0,
        default: 0.5,
        slider_max: 5.0,
    },
    live: true,
};

const CONTRACTION: KnobSpec = KnobSpec {
    key: "contraction",
    flag: "contraction",
    label: "contraction",
    help: "weight λ of the cae's penalty λ‖∂z/∂x‖²",
    range: KnobRange::Number {
        min: 0.0,
        max: 1000.0,
        default: 0.1,
        slider_max: 5.0,
    },
    live: true,
};

/// The IWAE's number of importance samples k: any kind with this knob trains on the k-sample
/// bound (`model::iwae`).
pub const IW_SAMPLES: KnobSpec = KnobSpec {
    key: "k",
    flag: "k",
    label: "k",
    help: "importance samples of the iwae's training bound L_k = E log (1/k) Σ p(x,z_i)/q(z_i|x) \
           (Burda et al. 2016), a whole number; k = 1 is the VAE's ELBO, larger k a tighter \
           bound on log p(x)",
    range: KnobRange::Number {
        min: 1.0,
        max: 100.0,
        default: 5.0,
        slider_max: 50.0,
    },
    live: true,
};

const AE: KindSpec = KindSpec {
    name: "ae",
    title: "Autoencoder",
    about: "plain autoencoder: reconstruct the input through a small code",
    color: [230, 85, 13],
    variational: false,
    knobs: &[],
    corrupt: None,
    penalty: None,
    check: None,
    conditional: false,
};

const VAE: KindSpec = KindSpec {
    name: "vae",
    title: "VAE",
    about: "variational autoencoder: a posterior per item, pulled towards the prior N(0, I)",
    color: [49, 130, 189],
    variational: true,
    knobs: &[FREE_BITS],
    corrupt: None,
    penalty: None,
    check: None,
    conditional: false,
};

const BETA_VAE: KindSpec = KindSpec {
    name: "beta-vae",
    title: "β-VAE",
    about: "VAE whose KL term weighs β",
    color: [117, 107, 177],
    variational: true,
    knobs: &[BETA, CAPACITY, GAMMA, CAPACITY_STEPS],
    corrupt: None,
    penalty: None,
    check: None,
    conditional: false,
};

const DAE: KindSpec = KindSpec {
    name: "dae",
    title: "Denoising AE",
    about: "denoising autoencoder: reconstruct the clean input from a corrupted one",
    color: [49, 163, 84],
    variational: false,
    knobs: &[NOISE_LEVEL, NOISE_KIND],
    corrupt: Some(corrupt_with_noise),
    penalty: None,
    check: Some(masking_is_a_probability),
    conditional: false,
};

const SAE: KindSpec = KindSpec {
    name: "sae",
    title: "Sparse AE",
    about: "sparse autoencoder: an L1 penalty on the code",
    color: [214, 97, 107],
    variational: false,
    knobs: &[SPARSITY],
    corrupt: None,
    penalty: Some(L1_PENALTY),
    check: None,
    conditional: false,
};

const CAE: KindSpec = KindSpec {
    name: "cae",
    title: "Contractive AE",
    about: "contractive autoencoder: a penalty on the encoder's Jacobian",
    color: [140, 109, 49],
    variational: false,
    knobs: &[CONTRACTION],
    corrupt: None,
    penalty: Some(CONTRACTIVE_PENALTY),
    check: Some(|config| Ok(super::arch::mlp_only(config.arch, config.kind.name())?)),
    conditional: false,
};

const CVAE: KindSpec = KindSpec {
    name: "cvae",
    title: "Conditional VAE",
    about: "conditional VAE: encoder and decoder both see the class (one-hot), so the code \
            holds what the class does not say; decode any code as any class",
    color: [23, 190, 207],
    variational: true,
    knobs: &[],
    corrupt: None,
    penalty: None,
    check: Some(needs_classes),
    conditional: true,
};

const IWAE: KindSpec = KindSpec {
    name: "iwae",
    title: "IWAE",
    about: "importance-weighted autoencoder (Burda et al. 2016): a VAE trained on the k-sample \
            bound L_k ≥ ELBO; its total loss is −L_k, its recon and KL the one-sample ELBO's \
            terms, so its total sits below recon + KL by what the k samples gain",
    color: [231, 41, 138],
    variational: true,
    knobs: &[IW_SAMPLES],
    corrupt: None,
    penalty: None,
    check: Some(samples_fit_in_memory),
    conditional: false,
};

const CODEBOOK: KnobSpec = KnobSpec {
    key: "codebook",
    flag: "codebook",
    label: "codebook",
    help: "entries K of the vq-vae's codebook, a whole number (it changes the model's shape: \
           new models)",
    range: KnobRange::Number {
        min: 2.0,
        max: 4096.0,
        default: 64.0,
        slider_max: 512.0,
    },
    live: false,
};

const COMMITMENT: KnobSpec = KnobSpec {
    key: "commitment",
    flag: "commitment",
    label: "commitment",
    help: "the vq-vae's commitment cost β: weight of ‖z_e − sg[e]‖², which keeps the encoder \
           near its chosen entry (0.25 in van den Oord et al. 2017)",
    range: KnobRange::Number {
        min: 0.0,
        max: 100.0,
        default: 0.25,
        slider_max: 2.0,
    },
    live: true,
};

const VQ_VAE: KindSpec = KindSpec {
    name: "vq-vae",
    title: "VQ-VAE",
    about: "vector-quantised autoencoder: the code snaps to the nearest of K codebook \
            entries (a discrete code; no posterior, no KL to a prior). The entries follow \
            their items by moving average (EMA, not a loss term), gradients pass the snap \
            straight through, and an entry unused for 100 batches restarts at an encoder \
            output (one a step)",
    color: [188, 189, 34],
    variational: false,
    knobs: &[CODEBOOK, COMMITMENT],
    corrupt: None,
    penalty: Some(super::vq::PENALTY),
    check: None,
    conditional: false,
};

/// The table of kinds, in display order.
pub const KINDS: &[KindSpec] = &[AE, VAE, BETA_VAE, DAE, SAE, CAE, CVAE, IWAE, VQ_VAE];

impl ModelKind {
    /// Every kind, in display order: the table's rows (and, in unit tests, the kinds a test
    /// registered on its own thread).
    pub fn all() -> impl Iterator<Item = ModelKind> {
        KINDS.iter().map(ModelKind).chain(registered())
    }

    /// This kind's row of the table (a kind is a handle on its row, so there always is one).
    pub fn spec(self) -> &'static KindSpec {
        self.0
    }

    /// Its place in [`ModelKind::all`] (kinds compare in this order).
    fn position(self) -> usize {
        ModelKind::all()
            .position(|k| k.0.name == self.0.name)
            .unwrap_or(usize::MAX)
    }

    /// The name used on the command line, in files and in the UI.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// A longer name for captions.
    pub fn title(self) -> &'static str {
        self.spec().title
    }

    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Self> {
        ModelKind::all().find(|k| k.name() == name.trim())
    }

    /// True for the kinds with a posterior q(z|x) and a KL term.
    pub fn is_variational(self) -> bool {
        self.spec().variational
    }

    /// Every knob of this kind: its own, then the common ones.
    pub fn knobs(self) -> impl Iterator<Item = &'static KnobSpec> {
        self.spec().knobs.iter().chain(COMMON_KNOBS)
    }

    /// The knob `key` of this kind, if it has one.
    pub fn knob(self, key: &str) -> Option<&'static KnobSpec> {
        self.knobs().find(|k| k.key == key)
    }

    /// The names of every kind, comma-separated (for messages).
    pub fn names() -> String {
        ModelKind::all()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Its colour everywhere: curves, frames, headers, figures.
    pub fn color(self) -> [u8; 3] {
        self.spec().color
    }

    /// Its penalty, if it has one.
    pub fn penalty(self) -> Option<&'static Penalty> {
        self.spec().penalty.as_ref()
    }

    /// How its gradients are computed.
    pub fn gradients(self) -> Gradients {
        self.spec().gradients()
    }

    /// True if it sees the item's class (encoder and decoder), as the conditional VAE does.
    pub fn is_conditional(self) -> bool {
        self.spec().conditional
    }
}

#[cfg(test)]
thread_local! {
    static REGISTERED: std::cell::RefCell<Vec<ModelKind>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Adds a throw-away kind to [`ModelKind::all`] for the calling thread (one unit test), so a
/// test can check that every consumer of the table sees a new row.
#[cfg(test)]
pub(crate) fn register_for_test(spec: &'static KindSpec) -> ModelKind {
    let kind = ModelKind(spec);
    REGISTERED.with(|r| r.borrow_mut().push(kind));
    kind
}

#[cfg(test)]
fn registered() -> Vec<ModelKind> {
    REGISTERED.with(|r| r.borrow().clone())
}

#[cfg(not(test))]
fn registered() -> Vec<ModelKind> {
    Vec::new()
}

/// Every distinct knob of every kind, common ones last (for flags and controls).
pub fn all_knobs() -> Vec<&'static KnobSpec> {
    let mut out: Vec<&'static KnobSpec> = Vec::new();
    for k in ModelKind::all()
        .flat_map(|kind| kind.spec().knobs)
        .chain(COMMON_KNOBS)
    {
        if !out.iter().any(|o| o.key == k.key) {
            out.push(k);
        }
    }
    out
}

/// The kinds that have knob `key`.
pub fn kinds_with(key: &str) -> Vec<ModelKind> {
    ModelKind::all().filter(|k| k.knob(key).is_some()).collect()
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ModelKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ModelKind {
    fn deserialize<De: serde::Deserializer<'de>>(d: De) -> std::result::Result<Self, De::Error> {
        let name = String::deserialize(d)?;
        ModelKind::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown model kind '{name}' (this build knows {})",
                ModelKind::names()
            ))
        })
    }
}

// ---- hooks ---------------------------------------------------------------------------

/// The denoiser's corruption: Gaussian noise (clamped to [0, 1] for pixels) or masking.
fn corrupt_with_noise(config: &ModelConfig, x: &Tensor, rng: &mut PortableRng) -> Result<Tensor> {
    let level = config.number("noise_level");
    if level == 0.0 {
        return Ok(x.clone());
    }
    let values: Vec<f32> = x.flatten_all()?.to_vec1()?;
    let noisy: Vec<f32> = if config.choice("noise_kind") == "masking" {
        values
            .iter()
            .map(|&v| if rng.random::<f32>() < level { 0.0 } else { v })
            .collect()
    } else {
        let pixels = config.likelihood == Likelihood::Bernoulli;
        values
            .iter()
            .map(|v| {
                let e: f32 = StandardNormal.sample(rng);
                let n = v + level * e;
                if pixels { n.clamp(0.0, 1.0) } else { n }
            })
            .collect()
    };
    Tensor::from_vec(noisy, x.shape(), x.device())
}

/// A conditional kind needs a data set with at least two classes, and the MLP (its one-hot
/// joins the dense layers; the conv layers do not take it).
fn needs_classes(config: &ModelConfig) -> std::result::Result<(), KnobError> {
    if config.arch != super::arch::Arch::Mlp {
        return Err(KnobError::ConditionalMlpOnly {
            kind: config.kind.name(),
        });
    }
    if config.classes < 2 {
        return Err(KnobError::NeedsClasses {
            kind: config.kind.name(),
            classes: config.classes,
        });
    }
    Ok(())
}

/// Importance samples × pixels a conv iwae may push through its convolutions per item: a
/// 64×64 sprite at k = 20 took 6.1 GB at batch 64 (measured), so 64×64 allows k = 10, 28×28
/// digits k = 52.
const CONV_SAMPLE_PIXELS: usize = 10 * 64 * 64;

/// A conv iwae decodes k samples of every item through the convolutions, gradients kept:
/// refuse a k whose step would not fit in memory.
fn samples_fit_in_memory(config: &ModelConfig) -> std::result::Result<(), KnobError> {
    let (super::arch::Arch::Conv, Some(image)) = (config.arch, config.image) else {
        return Ok(());
    };
    // The convolutions' 32 channels, not the item's 1 or 3, set the memory: count positions.
    let pixels = (image.height * image.width).max(1);
    let k = config.number(IW_SAMPLES.key).max(1.0) as usize;
    let most = (CONV_SAMPLE_PIXELS / pixels).max(1);
    if k > most {
        // 6.1 GB measured for 20 × 4096 pixel-samples an item.
        let gb = 6.1 * (k * pixels) as f64 / (20.0 * 4096.0);
        return Err(KnobError::TooManySamplesForConv {
            k,
            pixels,
            gb,
            most,
        });
    }
    Ok(())
}

/// A masking probability above 1 means nothing.
fn masking_is_a_probability(config: &ModelConfig) -> std::result::Result<(), KnobError> {
    let level = config.number("noise_level");
    if config.choice("noise_kind") == "masking" && level > 1.0 {
        return Err(KnobError::MaskingAboveOne { level });
    }
    Ok(())
}

/// Sparse AE: sparsity·‖μ‖₁, with its hand-written gradient.
const L1_PENALTY: Penalty = Penalty {
    label: "sparsity·‖μ‖₁",
    loss: l1_penalty,
    of_item: l1_of_item,
    manual: Some(ManualPenalty::OfCode(CodePenalty {
        weight: sparsity,
        value: |m| f64::from(m.abs()),
        // candle's |x|' is +1 at 0 (x >= 0).
        derivative: |m| if m >= 0.0 { 1.0 } else { -1.0 },
    })),
};

/// Contractive AE: λ‖∂μ/∂x‖²_F, with its hand-written gradient through the encoder's
/// Jacobian (`backward::jacobian`).
const CONTRACTIVE_PENALTY: Penalty = Penalty {
    label: "λ‖∂μ/∂x‖²",
    loss: contractive_penalty,
    of_item: contractive_of_item,
    manual: Some(ManualPenalty::EncoderJacobian {
        weight: contraction,
    }),
};

fn contraction(config: &ModelConfig) -> f32 {
    config.number("contraction")
}

fn sparsity(config: &ModelConfig) -> f32 {
    config.number("sparsity")
}

/// Sparse AE: sparsity · ‖μ‖₁ per row.
fn l1_penalty(p: &PenaltyInput<'_>) -> Result<Tensor> {
    p.mu.abs()?.sum(D::Minus1)? * f64::from(p.model.config.number("sparsity"))
}

fn l1_of_item(config: &ModelConfig, _: &EncoderSnapshot, _: &[f32], mu: &[f32]) -> f64 {
    let l1: f64 = mu.iter().map(|m| f64::from(m.abs())).sum();
    f64::from(config.number("sparsity")) * l1
}

/// Contractive AE: λ‖∂μ/∂x‖²_F per row, exact for the ReLU encoder.
fn contractive_penalty(p: &PenaltyInput<'_>) -> Result<Tensor> {
    let (_, masks) = p.model.trunk.forward_with_masks(p.input, true)?;
    mlp::jacobian_frobenius_sq(&p.model.trunk, &p.model.mu_head, &masks)?
        * f64::from(contraction(&p.model.config))
}

fn contractive_of_item(
    config: &ModelConfig,
    encoder: &EncoderSnapshot,
    x: &[f32],
    _: &[f32],
) -> f64 {
    f64::from(contraction(config)) * encoder.jacobian_frobenius_sq(x)
}

#[cfg(test)]
mod tests;
