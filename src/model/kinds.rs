//! The model kinds: one table entry each. An entry names the kind, gives its colour, says
//! whether it is variational, lists its knobs (name, range, default, live or not) and points
//! at its hooks: how it corrupts its input and which penalty it adds to the loss.
//!
//! Adding a kind: a variant of [`ModelKind`], an entry in [`KINDS`], and its hook functions
//! below. The controls, the command-line flags, `ModelConfig` and the live `SetKnob` command
//! all read this table.

use super::{Autoencoder, Likelihood, ModelConfig, mlp};
use crate::rng::PortableRng;
use candle_core::{D, Result, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The kinds of autoencoder. Their names, titles and behaviour live in [`KINDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelKind {
    /// Plain autoencoder.
    Ae,
    /// Variational autoencoder (KL weight 1).
    Vae,
    /// VAE with KL weight β.
    BetaVae,
    /// Denoising autoencoder: noisy input, clean target.
    Dae,
    /// Sparse autoencoder: L1 penalty on the code.
    Sae,
    /// Contractive autoencoder: penalty on the encoder's Jacobian.
    Cae,
}

/// A knob's value: a number, or one of a few named choices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KnobValue {
    /// A number within the knob's range.
    Number(f32),
    /// One of the knob's options.
    Choice(String),
}

impl std::fmt::Display for KnobValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KnobValue::Number(v) => write!(f, "{v}"),
            KnobValue::Choice(c) => f.write_str(c),
        }
    }
}

/// What values a knob takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KnobRange {
    /// A number from `min` to `max`; sliders stop at `slider_max` (typing can go further).
    Number {
        /// Smallest allowed value.
        min: f32,
        /// Largest allowed value.
        max: f32,
        /// The default.
        default: f32,
        /// Where a slider ends.
        slider_max: f32,
    },
    /// One of `options`.
    Choice {
        /// The allowed values, as written on the command line and in files.
        options: &'static [&'static str],
        /// The default.
        default: &'static str,
    },
}

/// One knob of a kind: how it is named, what it takes, and whether it changes a running model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnobSpec {
    /// Key in `ModelConfig` files and settings ("noise_level").
    pub key: &'static str,
    /// Command-line flag without the dashes ("noise").
    pub flag: &'static str,
    /// Short label for the controls ("noise").
    pub label: &'static str,
    /// One sentence for tooltips and `--help`.
    pub help: &'static str,
    /// Allowed values and default.
    pub range: KnobRange,
    /// True if a running model takes a new value at once (no new models needed).
    pub live: bool,
}

impl KnobSpec {
    /// The default value.
    pub fn default_value(&self) -> KnobValue {
        match self.range {
            KnobRange::Number { default, .. } => KnobValue::Number(default),
            KnobRange::Choice { default, .. } => KnobValue::Choice(default.to_string()),
        }
    }

    /// `value` if it fits this knob (choices compared without case), or a message naming it.
    pub fn check(&self, value: &KnobValue) -> std::result::Result<KnobValue, String> {
        match (self.range, value) {
            (KnobRange::Number { min, max, .. }, KnobValue::Number(v)) => {
                if v.is_finite() && (min..=max).contains(v) {
                    Ok(value.clone())
                } else {
                    Err(format!(
                        "{} {v} is out of range ({min} to {max})",
                        self.label
                    ))
                }
            }
            (KnobRange::Choice { options, .. }, KnobValue::Choice(c)) => options
                .iter()
                .find(|o| o.eq_ignore_ascii_case(c.trim()))
                .map(|o| KnobValue::Choice(o.to_string()))
                .ok_or_else(|| {
                    format!("{} '{c}' is not one of {}", self.label, options.join(", "))
                }),
            (KnobRange::Number { .. }, KnobValue::Choice(c)) => {
                Err(format!("{} '{c}' is not a number", self.label))
            }
            (KnobRange::Choice { options, .. }, KnobValue::Number(v)) => Err(format!(
                "{} {v} is not one of {}",
                self.label,
                options.join(", ")
            )),
        }
    }
}

/// Everything the loss of a kind's penalty can look at, for one batch.
pub struct PenaltyInput<'a> {
    /// The model.
    pub model: &'a Autoencoder,
    /// The input the encoder saw (corrupted for a denoiser).
    pub input: &'a Tensor,
    /// The code mean μ, (batch, latent).
    pub mu: &'a Tensor,
}

/// Corrupts a (batch, input) tensor the way a kind trains on.
pub type CorruptFn = fn(&ModelConfig, &Tensor, &mut PortableRng) -> Result<Tensor>;
/// A penalty per row, shape (batch,), in the loss's units.
pub type PenaltyFn = fn(&PenaltyInput<'_>) -> Result<Tensor>;
/// Checks between knobs of one kind that a single range cannot express.
pub type CheckFn = fn(&ModelConfig) -> std::result::Result<(), String>;

/// How a kind's gradients are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gradients {
    /// candle's autograd through the loss.
    Autograd,
    /// The hand-written backward pass of `model::backward` (the kind's penalty must be one
    /// it knows: none, or the L1 on μ).
    Manual,
}

/// One row of the table: everything that makes a kind what it is.
pub struct KindSpec {
    /// The enum value this row describes.
    pub kind: ModelKind,
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
    pub penalty: Option<PenaltyFn>,
    /// Cross-knob checks, if any.
    pub check: Option<CheckFn>,
    /// How its gradients are computed.
    pub gradients: Gradients,
}

/// Knobs every kind has.
pub const COMMON_KNOBS: &[KnobSpec] = &[KnobSpec {
    key: "weight_decay",
    flag: "weight-decay",
    label: "weight decay",
    help: "decoupled L2 weight decay in the optimiser (AdamW style)",
    range: KnobRange::Number {
        min: 0.0,
        max: 1.0,
        default: 0.0,
        slider_max: 0.1,
    },
    live: true,
}];

/// Default β of a β-VAE.
pub const DEFAULT_BETA: f32 = 4.0;

const BETA: KnobSpec = KnobSpec {
    key: "beta",
    flag: "beta",
    label: "β",
    help: "weight of the KL term of the beta-vae",
    range: KnobRange::Number {
        min: 0.0,
        max: 1000.0,
        default: DEFAULT_BETA,
        slider_max: 20.0,
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

/// The table of kinds, in display order.
pub const KINDS: &[KindSpec] = &[
    KindSpec {
        kind: ModelKind::Ae,
        name: "ae",
        title: "Autoencoder",
        about: "plain autoencoder: reconstruct the input through a small code",
        color: [230, 85, 13],
        variational: false,
        knobs: &[],
        corrupt: None,
        penalty: None,
        check: None,
        gradients: Gradients::Manual,
    },
    KindSpec {
        kind: ModelKind::Vae,
        name: "vae",
        title: "VAE",
        about: "variational autoencoder: a posterior per item, pulled towards the prior N(0, I)",
        color: [49, 130, 189],
        variational: true,
        knobs: &[],
        corrupt: None,
        penalty: None,
        check: None,
        gradients: Gradients::Manual,
    },
    KindSpec {
        kind: ModelKind::BetaVae,
        name: "beta-vae",
        title: "β-VAE",
        about: "VAE whose KL term weighs β",
        color: [117, 107, 177],
        variational: true,
        knobs: &[BETA],
        corrupt: None,
        penalty: None,
        check: None,
        gradients: Gradients::Manual,
    },
    KindSpec {
        kind: ModelKind::Dae,
        name: "dae",
        title: "Denoising AE",
        about: "denoising autoencoder: reconstruct the clean input from a corrupted one",
        color: [49, 163, 84],
        variational: false,
        knobs: &[NOISE_LEVEL, NOISE_KIND],
        corrupt: Some(corrupt_with_noise),
        penalty: None,
        check: Some(masking_is_a_probability),
        gradients: Gradients::Manual,
    },
    KindSpec {
        kind: ModelKind::Sae,
        name: "sae",
        title: "Sparse AE",
        about: "sparse autoencoder: an L1 penalty on the code",
        color: [214, 97, 107],
        variational: false,
        knobs: &[SPARSITY],
        corrupt: None,
        penalty: Some(l1_penalty),
        check: None,
        gradients: Gradients::Manual,
    },
    KindSpec {
        kind: ModelKind::Cae,
        name: "cae",
        title: "Contractive AE",
        about: "contractive autoencoder: a penalty on the encoder's Jacobian",
        color: [140, 109, 49],
        variational: false,
        knobs: &[CONTRACTION],
        corrupt: None,
        penalty: Some(contractive_penalty),
        check: None,
        // The Jacobian penalty has no hand-written gradient (yet).
        gradients: Gradients::Autograd,
    },
];

impl ModelKind {
    /// Every kind, in display order.
    pub fn all() -> impl Iterator<Item = ModelKind> {
        KINDS.iter().map(|s| s.kind)
    }

    /// This kind's row of the table.
    pub fn spec(self) -> &'static KindSpec {
        // The table lists every variant (a unit test checks it).
        KINDS.iter().find(|s| s.kind == self).unwrap_or(&KINDS[0])
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
        KINDS.iter().find(|s| s.name == name.trim()).map(|s| s.kind)
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
        KINDS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    }
}

/// Every distinct knob of every kind, common ones last (for flags and controls).
pub fn all_knobs() -> Vec<&'static KnobSpec> {
    let mut out: Vec<&'static KnobSpec> = Vec::new();
    for k in KINDS.iter().flat_map(|s| s.knobs).chain(COMMON_KNOBS) {
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

/// A masking probability above 1 means nothing.
fn masking_is_a_probability(config: &ModelConfig) -> std::result::Result<(), String> {
    let level = config.number("noise_level");
    if config.choice("noise_kind") == "masking" && level > 1.0 {
        return Err(format!(
            "noise {level} is out of range for masking (a probability, 0 to 1)"
        ));
    }
    Ok(())
}

/// Sparse AE: sparsity · ‖μ‖₁ per row.
fn l1_penalty(p: &PenaltyInput<'_>) -> Result<Tensor> {
    p.mu.abs()?.sum(D::Minus1)? * f64::from(p.model.config.number("sparsity"))
}

/// Contractive AE: λ‖∂μ/∂x‖²_F per row, exact for the ReLU encoder.
fn contractive_penalty(p: &PenaltyInput<'_>) -> Result<Tensor> {
    let (_, masks) = p.model.trunk.forward_with_masks(p.input, true)?;
    mlp::jacobian_frobenius_sq(&p.model.trunk, &p.model.mu_head, &masks)?
        * f64::from(p.model.config.number("contraction"))
}

#[cfg(test)]
mod tests;
