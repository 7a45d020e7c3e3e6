//! A model's configuration: its kind, sizes, likelihood and knobs, as files and settings
//! hold them (the autoencoder built from it lives in `model/mod.rs`).

pub use super::arch::{Arch, ImageDims};
use super::kinds::{KnobRange, KnobValue, ModelKind};
use super::limits::{self, OutOfRange};
use crate::data::ItemShape;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a model's configuration was refused; the message names the setting.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A size out of its range.
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
    /// A knob the kind does not have.
    #[error("{kind} has no knob '{key}'")]
    NoKnob {
        /// The model's kind.
        kind: ModelKind,
        /// The knob asked for.
        key: String,
    },
    /// The network would be too large.
    #[error(
        "{} parameters is more than the {} allowed (use fewer or narrower hidden layers)",
        limits::grouped(*count),
        limits::grouped(limits::MAX_PARAMETERS)
    )]
    TooManyParameters {
        /// Weights and biases the config builds.
        count: u64,
    },
    /// A knob's value, or the kind's own rule, refused (worded by the kind table).
    #[error(transparent)]
    Kind(#[from] super::kinds::KnobError),
    /// The architecture cannot take these items (worded by `model::conv`).
    #[error(transparent)]
    Arch(#[from] super::arch::ArchError),
}

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
    /// Its architecture (older files: mlp).
    #[serde(default)]
    pub arch: Arch,
    /// The shape of its image items, which a conv network needs; `None` for an MLP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageDims>,
    /// The data set's class count, which a conditional kind (cvae) sees as a one-hot vector
    /// in its encoder and decoder; 0 for every other kind (and older files).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub classes: usize,
    /// The kind's knobs by key (see [`kinds`]); written flat beside the fields above, as
    /// checkpoints have always had them. Every knob of the kind is present.
    #[serde(flatten)]
    pub knobs: BTreeMap<String, KnobValue>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
    #[serde(default)]
    arch: Arch,
    #[serde(default)]
    image: Option<ImageDims>,
    #[serde(default)]
    classes: usize,
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
        c.arch = f.arch;
        c.image = f.image;
        c.classes = f.classes;
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
            arch: Arch::Mlp,
            image: None,
            classes: 0,
            knobs: kind
                .knobs()
                .map(|k| (k.key.to_string(), k.default_value()))
                .collect(),
        }
    }

    /// The width of the one-hot class vector the encoder and decoder see beside the item
    /// and the code: the class count for a conditional kind, else 0.
    pub fn condition_dim(&self) -> usize {
        if self.kind.is_conditional() {
            self.classes
        } else {
            0
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
    pub fn set_knob(&mut self, key: &str, value: KnobValue) -> Result<(), ConfigError> {
        let spec = self.kind.knob(key).ok_or_else(|| ConfigError::NoKnob {
            kind: self.kind,
            key: key.to_string(),
        })?;
        let value = spec.check(&value).map_err(ConfigError::Kind)?;
        self.knobs.insert(key.to_string(), value);
        Ok(())
    }

    /// Weights and biases of the network this config builds (saturating, so a config read
    /// from a file cannot overflow it).
    pub fn parameter_count(&self) -> u64 {
        // A vq-vae's codebook: K entries of the code's size.
        let codebook = (super::vq::entries_of(self) as u64).saturating_mul(self.latent_dim as u64);
        self.network_parameter_count().saturating_add(codebook)
    }

    /// [`ModelConfig::parameter_count`] of the encoder and decoder alone.
    fn network_parameter_count(&self) -> u64 {
        if self.arch == Arch::Conv {
            return match super::arch::ConvPlan::for_items(self.arch, self.image) {
                Ok(Some(plan)) => super::arch::parameter_count(
                    &plan,
                    &self.hidden,
                    self.latent_dim,
                    self.kind.is_variational(),
                ),
                _ => 0,
            };
        }
        let dense = |i: usize, o: usize| (i as u64).saturating_add(1).saturating_mul(o as u64);
        let cond = self.condition_dim();
        let mut sizes = vec![self.input_dim.saturating_add(cond)];
        sizes.extend_from_slice(&self.hidden);
        let last = *sizes.last().unwrap_or(&self.input_dim);
        let heads = if self.kind.is_variational() { 2 } else { 1 };
        // The encoder trunk and the decoder mirror each other, apart from their biases.
        let trunk: u64 = sizes.windows(2).map(|w| dense(w[0], w[1])).sum();
        let decoder: u64 = std::iter::once(self.latent_dim.saturating_add(cond))
            .chain(self.hidden.iter().rev().copied())
            .zip(self.hidden.iter().rev().copied().chain([self.input_dim]))
            .map(|(i, o)| dense(i, o))
            .sum();
        trunk
            .saturating_add(dense(last, self.latent_dim).saturating_mul(heads))
            .saturating_add(decoder)
    }

    /// Checks ranges; the message names the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        limits::INPUT_DIM.check(self.input_dim)?;
        limits::LATENT_DIM.check(self.latent_dim)?;
        limits::CLASSES.check(self.classes)?;
        limits::HIDDEN_LAYERS.check(self.hidden.len())?;
        for &h in &self.hidden {
            limits::HIDDEN_SIZE.check(h)?;
        }
        super::arch::check(self.arch, self.image, self.input_dim).map_err(ConfigError::Arch)?;
        let count = self.parameter_count();
        if count > limits::MAX_PARAMETERS {
            return Err(ConfigError::TooManyParameters { count });
        }
        for (key, value) in &self.knobs {
            let spec = self.kind.knob(key).ok_or_else(|| ConfigError::NoKnob {
                kind: self.kind,
                key: key.clone(),
            })?;
            spec.check(value).map_err(ConfigError::Kind)?;
        }
        if let Some(check) = self.kind.spec().check {
            check(self).map_err(ConfigError::Kind)?;
        }
        Ok(())
    }
}
