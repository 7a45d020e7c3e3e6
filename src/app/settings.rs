//! What the user expects to find again next time: data set, models and knobs.

use crate::data::Dataset;
use crate::model::{DEFAULT_BETA, Likelihood, ModelConfig, ModelKind, NoiseKind};
use crate::train::TrainConfig;
use serde::{Deserialize, Serialize};

/// Key under which eframe stores the settings.
pub const STORAGE_KEY: &str = "latentlab-settings";

/// Persisted settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Data-set spec: a built-in name or `idx:DIR`, `folder:DIR`, `csv:FILE`.
    pub dataset: String,
    /// Which kinds train, in display order (stored by name: "beta-vae" is no RON identifier).
    #[serde(with = "kind_names")]
    pub models: Vec<ModelKind>,
    /// Size of the code.
    pub latent_dim: usize,
    /// Hidden sizes as typed ("512,256").
    pub hidden: String,
    /// β of the β-VAE.
    pub beta: f32,
    /// Noise level of the denoising AE.
    pub noise: f32,
    /// Noise kind of the denoising AE.
    pub noise_kind: NoiseKind,
    /// L1 weight of the sparse AE.
    pub sparsity: f32,
    /// Jacobian weight of the contractive AE.
    pub contraction: f32,
    /// Adam learning rate.
    pub lr: f64,
    /// Items per batch.
    pub batch_size: usize,
    /// Seed of data, weights and batches.
    pub seed: u64,
    /// Side of the latent grid.
    pub grid_k: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            dataset: "digits".into(),
            models: vec![ModelKind::Ae, ModelKind::Vae],
            latent_dim: 2,
            hidden: "512,256".into(),
            beta: DEFAULT_BETA,
            noise: 0.3,
            noise_kind: NoiseKind::Gaussian,
            sparsity: 0.5,
            contraction: 0.1,
            lr: 1e-3,
            batch_size: 128,
            seed: 1,
            grid_k: 15,
        }
    }
}

impl Settings {
    /// The hidden sizes, or a message naming what is wrong with the text.
    pub fn hidden_sizes(&self) -> Result<Vec<usize>, String> {
        let sizes: Result<Vec<usize>, _> = self
            .hidden
            .split(',')
            .map(|h| h.trim().parse::<usize>())
            .collect();
        match sizes {
            Ok(s) if !s.is_empty() && s.iter().all(|&h| (1..=8192).contains(&h)) => Ok(s),
            _ => Err(format!(
                "hidden sizes '{}' must be whole numbers from 1 to 8192, separated by commas",
                self.hidden
            )),
        }
    }

    /// The training config for `ds`, or why these settings cannot train.
    pub fn train_config(&self, ds: &Dataset) -> Result<TrainConfig, String> {
        let hidden = self.hidden_sizes()?;
        let likelihood = if ds.shape.is_image() {
            Likelihood::Bernoulli
        } else {
            Likelihood::Gaussian
        };
        let models = self
            .models
            .iter()
            .map(|&kind| {
                let mut m = ModelConfig::new(kind, ds.dim(), likelihood);
                m.latent_dim = self.latent_dim;
                m.hidden = hidden.clone();
                if kind == ModelKind::BetaVae {
                    m.beta = self.beta;
                }
                m.noise_level = self.noise;
                m.noise_kind = self.noise_kind;
                m.sparsity = self.sparsity;
                m.contraction = self.contraction;
                m
            })
            .collect();
        let mut c = TrainConfig::new(models);
        c.lr = self.lr;
        c.batch_size = self.batch_size;
        c.seed = self.seed;
        c.validate()?;
        Ok(c)
    }

    /// True when going from `self` to `other` needs new models (a reset).
    pub fn needs_reset(&self, other: &Settings) -> bool {
        let structural = |s: &Settings| {
            (
                s.dataset.clone(),
                s.models.clone(),
                s.latent_dim,
                s.hidden.clone(),
                s.batch_size,
                s.seed,
                s.sparsity.to_bits(),
                s.contraction.to_bits(),
                s.noise_kind,
            )
        };
        structural(self) != structural(other)
    }
}

/// Model kinds stored as their names.
mod kind_names {
    use crate::model::ModelKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kinds: &[ModelKind], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(kinds.iter().map(|k| k.name()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ModelKind>, D::Error> {
        // Names this build does not know are dropped rather than losing every setting.
        let names = Vec::<String>::deserialize(d)?;
        Ok(names
            .iter()
            .filter_map(|n| ModelKind::from_name(n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_the_storage_format() {
        // eframe stores app state as RON.
        let s = Settings {
            models: ModelKind::ALL.to_vec(),
            latent_dim: 5,
            dataset: "idx:/data/mnist".into(),
            noise_kind: NoiseKind::Masking,
            ..Settings::default()
        };
        let text = ron::to_string(&s).unwrap();
        let back: Settings = ron::from_str(&text).unwrap();
        assert_eq!(back, s);
        // Older or partial settings fill in defaults.
        let partial: Settings = ron::from_str("(latent_dim: 3)").unwrap();
        assert_eq!(partial.latent_dim, 3);
        assert_eq!(partial.models, Settings::default().models);
    }

    #[test]
    fn live_knobs_do_not_need_a_reset_but_architecture_does() {
        let a = Settings::default();
        let live = Settings {
            lr: 0.01,
            beta: 2.0,
            noise: 0.1,
            ..a.clone()
        };
        assert!(!a.needs_reset(&live));
        assert!(a.needs_reset(&Settings {
            latent_dim: 3,
            ..a.clone()
        }));
        assert!(a.needs_reset(&Settings {
            dataset: "moons".into(),
            ..a.clone()
        }));
    }

    #[test]
    fn bad_hidden_text_is_named() {
        let s = Settings {
            hidden: "512,,x".into(),
            ..Settings::default()
        };
        assert!(s.hidden_sizes().unwrap_err().contains("'512,,x'"));
        assert_eq!(Settings::default().hidden_sizes().unwrap(), vec![512, 256]);
    }
}
