//! What the user expects to find again next time: data set, models and knobs.

use crate::model::kinds::all_knobs;
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

    /// What differs between `self` (applied) and `other` (the draft) among the settings
    /// that need new models, one "name: old -> new" line each, in the order of the controls.
    pub fn changes(&self, other: &Settings) -> Vec<String> {
        let (a, b) = (&self.run, &other.run);
        let list = |s: &RunSpec| {
            let names: Vec<&str> = s.models.iter().map(|k| k.name()).collect();
            names.join(", ")
        };
        let hidden = |s: &RunSpec| {
            let sizes: Vec<String> = s.hidden.iter().map(usize::to_string).collect();
            sizes.join(",")
        };
        let mut out = Vec::new();
        let mut diff = |name: &str, old: String, new: String| {
            if old != new {
                out.push(format!("{name}: {old} -> {new}"));
            }
        };
        diff("data set", a.dataset.clone(), b.dataset.clone());
        diff("models", list(a), list(b));
        diff(
            "latent dim",
            a.latent_dim.to_string(),
            b.latent_dim.to_string(),
        );
        diff("hidden sizes", hidden(a), hidden(b));
        diff(
            "batch size",
            a.batch_size.to_string(),
            b.batch_size.to_string(),
        );
        diff("seed", a.seed.to_string(), b.seed.to_string());
        for knob in all_knobs().into_iter().filter(|k| !k.live) {
            let value = |s: &RunSpec| s.knob(knob.key).map_or("-".into(), |v| v.to_string());
            diff(knob.label, value(a), value(b));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KnobValue, ModelKind};

    #[test]
    fn changes_list_every_setting_that_needs_new_models() {
        let old = Settings::default();
        assert!(old.changes(&old).is_empty());
        let mut new = old.clone();
        new.run.dataset = "moons".into();
        new.run.models.push(ModelKind::Dae);
        new.run.latent_dim = 3;
        new.run.hidden = vec![256];
        new.run.batch_size = 128;
        new.run.seed = 7;
        // Applied at once, so not a pending change.
        new.run.lr = 0.01;
        new.grid_k = 9;
        assert_eq!(
            old.changes(&new),
            [
                "data set: digits -> moons",
                "models: ae, vae -> ae, vae, dae",
                "latent dim: 2 -> 3",
                "hidden sizes: 128,64 -> 256",
                "batch size: 64 -> 128",
                "seed: 1 -> 7",
            ]
        );
        // Each change alone is listed exactly when it needs new models.
        let edits: [fn(&mut Settings); 8] = [
            |s| s.run.dataset = "rings".into(),
            |s| s.run.models = vec![ModelKind::Vae],
            |s| s.run.latent_dim = 8,
            |s| s.run.hidden = vec![32, 16, 8],
            |s| s.run.batch_size = 1,
            |s| s.run.seed = 99,
            |s| s.run.lr = 0.1,
            |s| {
                s.run.knobs.insert("beta".into(), KnobValue::Number(8.0));
            },
        ];
        for edit in edits {
            let mut one = old.clone();
            edit(&mut one);
            assert_eq!(
                old.changes(&one).len(),
                usize::from(old.needs_reset(&one)),
                "{:?}",
                old.changes(&one)
            );
        }
    }

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
