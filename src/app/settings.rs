//! What the user expects to find again next time: data set, models and knobs.

use crate::train::RunSpec;
use serde::{Deserialize, Serialize};

/// Key under which eframe stores the settings.
pub const STORAGE_KEY: &str = "latentlab-settings";

/// Persisted settings: the run the user set up (the same [`RunSpec`] the command line
/// builds) and how the views look.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Data set, models, architecture, knobs and optimisation.
    pub run: RunSpec,
    /// Side of the latent grid.
    pub grid_k: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            run: RunSpec::default(),
            grid_k: 15,
        }
    }
}

impl Settings {
    /// True when going from `self` to `other` needs new models (a reset).
    pub fn needs_reset(&self, other: &Settings) -> bool {
        self.run.needs_new_models(&other.run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KnobValue, ModelKind};

    #[test]
    fn settings_survive_the_storage_format() {
        // eframe stores app state as RON.
        let mut s = Settings::default();
        s.run.models = ModelKind::all().collect();
        s.run.latent_dim = 5;
        s.run.dataset = "idx:/data/mnist".into();
        s.run
            .knobs
            .insert("noise_kind".into(), KnobValue::Choice("masking".into()));
        s.run.knobs.insert("beta".into(), KnobValue::Number(2.5));
        let text = ron::to_string(&s).unwrap();
        let back: Settings = ron::from_str(&text).unwrap();
        assert_eq!(back, s);
        // Older or partial settings fill in defaults.
        let partial: Settings = ron::from_str("(run: (latent_dim: 3))").unwrap();
        assert_eq!(partial.run.latent_dim, 3);
        assert_eq!(partial.run.models, RunSpec::default().models);
        // Settings written before the run spec existed fall back to the defaults.
        let old: Settings = ron::from_str("(latent_dim: 3, beta: 2.0, grid_k: 9)").unwrap();
        assert_eq!(old.run, RunSpec::default());
        assert_eq!(old.grid_k, 9);
    }
}
