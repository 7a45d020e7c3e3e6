//! What a user asks for when they start a run, and the one way to turn it into a
//! [`TrainConfig`]: the command line, the window and the tests all build runs here.

use super::messages::TrainConfig;
use crate::data::{Dataset, ItemShape};
use crate::model::kinds::kinds_with;
use crate::model::limits::{HIDDEN_LAYERS, HIDDEN_SIZE, OutOfRange};
use crate::model::{Arch, ImageDims, KnobValue, Likelihood, ModelConfig, ModelKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use super::limits::{
    BATCH_SIZE, EPOCHS, EVAL_EVERY_SECS, KL_WARMUP, LR, MAX_LR, SettingsError, THREADS,
};

/// A run as the user describes it: data, models, architecture, knobs and optimisation.
/// The defaults are the window's and the command line's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSpec {
    /// Data-set spec: a built-in name or `idx:DIR`, `folder:DIR`, `csv:FILE`.
    pub dataset: String,
    /// Which kinds train side by side, in display order.
    pub models: Vec<ModelKind>,
    /// Size of the code z.
    pub latent_dim: usize,
    /// Encoder hidden sizes; the decoder mirrors them (mlp; conv has its own dense layers,
    /// `model::conv::DENSE`).
    pub hidden: Vec<usize>,
    /// The network's architecture (runs saved before it: mlp).
    pub arch: Arch,
    /// Knob values by key; each applies to every model whose kind has that knob.
    /// Knobs not listed keep their defaults.
    pub knobs: BTreeMap<String, KnobValue>,
    /// Adam learning rate.
    pub lr: f64,
    /// Items per batch.
    pub batch_size: usize,
    /// Seed for data, initialisation, batches and noise.
    pub seed: u64,
    /// Stop after this many epochs; `None` trains until told to stop.
    pub epochs: Option<usize>,
    /// Epochs over which the KL weight rises from 0 to its full value.
    pub kl_warmup_epochs: f32,
    /// Importance samples for the test log p(x) at each epoch end (0: skip).
    pub iw_samples: usize,
    /// Evaluate the test set every this many seconds of training too.
    pub eval_every_secs: Option<f64>,
    /// Threads that step the models in parallel. A property of the machine, not of the
    /// run: never saved (the window sets it from the number of cores).
    #[serde(skip, default = "one")]
    pub threads: usize,
}

fn one() -> usize {
    1
}

impl Default for RunSpec {
    /// Chosen so the classes of the built-in digits come apart within seconds in front of a
    /// class: small layers, small batches and a brisk learning rate make many quick steps
    /// (measured in the README with `latentlab train --eval-every-secs`).
    fn default() -> Self {
        Self {
            dataset: "digits".into(),
            models: vec![ModelKind::Ae, ModelKind::Vae],
            latent_dim: 2,
            hidden: vec![128, 64],
            arch: Arch::Mlp,
            knobs: BTreeMap::new(),
            lr: crate::model::Arch::Mlp.default_lr(),
            batch_size: 64,
            seed: 1,
            epochs: None,
            kl_warmup_epochs: 0.0,
            iw_samples: 0,
            eval_every_secs: None,
            threads: 1,
        }
    }
}

/// The class count a conditional kind is checked with before the data set is loaded (the
/// fewest it accepts).
pub const CLASSES_BEFORE_DATA: usize = 2;

impl RunSpec {
    /// Takes `arch`, and its default learning rate if the rate is still the old
    /// architecture's default (a rate the user chose stays).
    pub fn set_arch(&mut self, arch: crate::model::Arch) {
        if self.lr == self.arch.default_lr() {
            self.lr = arch.default_lr();
        }
        self.arch = arch;
    }

    /// The value of knob `key` in this run: the one set, else the knob's default.
    pub fn knob(&self, key: &str) -> Option<KnobValue> {
        self.knobs.get(key).cloned().or_else(|| {
            let kind = kinds_with(key).into_iter().next()?;
            kind.knob(key).map(|k| k.default_value())
        })
    }

    /// The model configs for items of `ds`, or a message naming what is wrong.
    pub fn model_configs(&self, ds: &Dataset) -> Result<Vec<ModelConfig>, SettingsError> {
        self.model_configs_for(ds.shape, ds.num_classes())
    }

    /// The model configs for items of `shape`, or a message naming what is wrong.
    fn model_configs_for(
        &self,
        shape: ItemShape,
        classes: usize,
    ) -> Result<Vec<ModelConfig>, SettingsError> {
        if let Some(key) = self.knobs.keys().find(|k| kinds_with(k).is_empty()) {
            return Err(SettingsError::UnknownKnob(key.clone()));
        }
        let likelihood = Likelihood::for_shape(shape);
        self.models
            .iter()
            .map(|&kind| {
                let mut m = ModelConfig::new(kind, shape.dim(), likelihood);
                m.latent_dim = self.latent_dim;
                m.hidden = self.hidden.clone();
                if kind.is_conditional() {
                    m.classes = classes;
                }
                if self.arch == Arch::Conv {
                    m.arch = Arch::Conv;
                    m.hidden = crate::model::arch::DENSE.to_vec();
                    m.image = match shape {
                        ItemShape::Image {
                            width,
                            height,
                            channels,
                        } => Some(ImageDims {
                            channels,
                            height,
                            width,
                        }),
                        ItemShape::Points { .. } => None,
                    };
                }
                for (key, value) in &self.knobs {
                    if kind.knob(key).is_some() {
                        m.set_knob(key, value.clone())
                            .map_err(|e| SettingsError::model(kind, e))?;
                    }
                }
                Ok(m)
            })
            .collect()
    }

    /// The training config for `ds`, checked, or why these settings cannot train.
    pub fn train_config(&self, ds: &Dataset) -> Result<TrainConfig, SettingsError> {
        self.train_config_with(ds.shape, ds.num_classes())
    }

    /// The training config for items of `shape`, checked: lets a caller that knows the
    /// shape before the data (`data::peek_shape`) refuse bad settings before building it.
    /// The class count is not known before the data: a conditional kind (cvae) is checked
    /// as if the set had [`CLASSES_BEFORE_DATA`]; [`RunSpec::train_config`] uses the set's.
    pub fn train_config_for(&self, shape: ItemShape) -> Result<TrainConfig, SettingsError> {
        self.train_config_with(shape, CLASSES_BEFORE_DATA)
    }

    fn train_config_with(
        &self,
        shape: ItemShape,
        classes: usize,
    ) -> Result<TrainConfig, SettingsError> {
        let mut c = TrainConfig::new(self.model_configs_for(shape, classes)?);
        c.lr = self.lr;
        c.batch_size = self.batch_size;
        c.seed = self.seed;
        c.epochs = self.epochs;
        c.kl_warmup_epochs = self.kl_warmup_epochs;
        c.iw_samples = self.iw_samples;
        c.eval_every_secs = self.eval_every_secs;
        c.threads = self.threads;
        c.validate()?;
        Ok(c)
    }

    /// True when going from `self` to `other` needs new models: anything but the learning
    /// rate and the knobs marked live changed.
    pub fn needs_new_models(&self, other: &RunSpec) -> bool {
        let fixed = |s: &RunSpec| {
            let knobs: Vec<(String, Option<KnobValue>)> = crate::model::kinds::all_knobs()
                .into_iter()
                .filter(|k| !k.live)
                .map(|k| (k.key.to_string(), s.knob(k.key)))
                .collect();
            (
                s.dataset.clone(),
                s.models.clone(),
                s.latent_dim,
                s.hidden.clone(),
                s.arch,
                s.batch_size,
                s.seed,
                knobs,
            )
        };
        fixed(self) != fixed(other)
    }
}

/// Parses hidden sizes written as "512,256"; the message names the part that is wrong.
/// At most [`HIDDEN_LAYERS`] sizes, each within [`HIDDEN_SIZE`]; a longer list stops at the
/// first size too many, before reading the rest.
pub fn parse_hidden(text: &str) -> Result<Vec<usize>, SettingsError> {
    let mut sizes = Vec::new();
    for part in text.split(',') {
        if sizes.len() == HIDDEN_LAYERS.max {
            return Err(SettingsError::TooManyLayers);
        }
        let h = part
            .trim()
            .parse::<usize>()
            .map_err(|_| SettingsError::NotWhole(part.trim().to_string()))?;
        sizes.push(HIDDEN_SIZE.check(h).map_err(SettingsError::HiddenSize)?);
    }
    Ok(sizes)
}

/// Parses model kinds written as "ae,vae"; the message lists the known names.
pub fn parse_models(text: &str) -> Result<Vec<ModelKind>, SettingsError> {
    text.split(',')
        .map(|m| {
            ModelKind::from_name(m).ok_or_else(|| SettingsError::UnknownModel(m.trim().to_string()))
        })
        .collect()
}

/// Checks a learning rate; the message gives the range.
pub fn check_lr(lr: f64) -> Result<(), OutOfRange> {
    LR.check(lr).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{self, Sizes};

    fn tiny() -> Dataset {
        data::load_with_sizes(
            "moons",
            1,
            Some(Sizes {
                train: 50,
                test: 20,
            }),
        )
        .unwrap()
    }

    #[test]
    fn knobs_reach_exactly_the_kinds_that_have_them() {
        let spec = RunSpec {
            models: vec![ModelKind::Vae, ModelKind::BetaVae, ModelKind::Dae],
            knobs: [
                ("beta".to_string(), KnobValue::Number(2.5)),
                ("weight_decay".to_string(), KnobValue::Number(0.01)),
            ]
            .into(),
            ..RunSpec::default()
        };
        let c = spec.train_config(&tiny()).unwrap();
        let beta: Vec<Option<&KnobValue>> = c.models.iter().map(|m| m.knobs.get("beta")).collect();
        assert_eq!(beta, vec![None, Some(&KnobValue::Number(2.5)), None]);
        assert!(c.models.iter().all(|m| m.number("weight_decay") == 0.01));
        assert!(
            c.models
                .iter()
                .all(|m| m.likelihood == Likelihood::Gaussian)
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let ds = tiny();
        let bad_knob = RunSpec {
            knobs: [("temperature".to_string(), KnobValue::Number(1.0))].into(),
            ..RunSpec::default()
        };
        assert!(
            bad_knob
                .train_config(&ds)
                .unwrap_err()
                .to_string()
                .contains("'temperature'")
        );
        let out_of_range = RunSpec {
            models: vec![ModelKind::BetaVae],
            knobs: [("beta".to_string(), KnobValue::Number(-1.0))].into(),
            ..RunSpec::default()
        };
        assert!(
            out_of_range
                .train_config(&ds)
                .unwrap_err()
                .to_string()
                .contains("beta-vae: β -1")
        );
        let lr = RunSpec {
            lr: 11.0,
            ..RunSpec::default()
        };
        assert!(
            lr.train_config(&ds)
                .unwrap_err()
                .to_string()
                .contains("learning rate 11")
        );
        assert!(
            parse_hidden("512,x")
                .unwrap_err()
                .to_string()
                .contains("'x' is not a whole number")
        );
        assert!(
            parse_hidden("512,,8")
                .unwrap_err()
                .to_string()
                .contains("'' is not")
        );
        assert!(
            parse_hidden("9000")
                .unwrap_err()
                .to_string()
                .contains("9000 is out of range")
        );
        assert_eq!(parse_hidden(" 64, 32").unwrap(), vec![64, 32]);
        assert!(
            parse_models("ae,gan")
                .unwrap_err()
                .to_string()
                .contains("'gan'")
        );
    }

    #[test]
    fn live_knobs_and_lr_keep_the_models_but_architecture_does_not() {
        let a = RunSpec::default();
        let mut live = a.clone();
        live.lr = 0.01;
        live.knobs.insert("beta".into(), KnobValue::Number(2.0));
        assert!(!a.needs_new_models(&live));
        for changed in [
            RunSpec {
                latent_dim: 3,
                ..a.clone()
            },
            RunSpec {
                dataset: "moons".into(),
                ..a.clone()
            },
            RunSpec {
                hidden: vec![64],
                ..a.clone()
            },
        ] {
            assert!(a.needs_new_models(&changed), "{changed:?}");
        }
    }

    #[test]
    fn a_new_network_brings_its_learning_rate_unless_one_was_chosen() {
        use crate::model::Arch;
        let mut r = RunSpec::default();
        assert_eq!(r.lr, 0.003);
        r.set_arch(Arch::Conv);
        assert_eq!((r.arch, r.lr), (Arch::Conv, 0.001));
        r.set_arch(Arch::Mlp);
        assert_eq!((r.arch, r.lr), (Arch::Mlp, 0.003));
        r.lr = 0.02;
        r.set_arch(Arch::Conv);
        assert_eq!((r.arch, r.lr), (Arch::Conv, 0.02));
    }
}
