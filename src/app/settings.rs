//! What the user expects to find again next time: data set, models and knobs.

use crate::model::kinds::all_knobs;
use crate::train::RunSpec;
use serde::{Deserialize, Serialize};

/// Cells per side of the latent grid.
pub const GRID_K: crate::model::limits::Limit<usize> =
    crate::model::limits::Limit::new("grid cells per side", 2, 40);

/// Key under which eframe stores the settings.
pub const STORAGE_KEY: &str = "latentlab-settings";

/// One setting `sanitize` checks on its own: the check (its message names the field), and
/// how its default is put back when the check fails.
struct FieldRule {
    check: fn(&Settings) -> Result<(), String>,
    reset: fn(&mut Settings, &Settings),
}

/// `v` within `limit`, or the limit's message (the form a field rule reports).
fn within<T: PartialOrd + std::fmt::Display + Copy>(
    limit: &crate::model::limits::Limit<T>,
    v: T,
) -> Result<(), String> {
    limit.check(v).map(drop).map_err(|e| e.to_string())
}

/// The settings checked one by one, in the order their messages appear.
const FIELD_RULES: &[FieldRule] = {
    use crate::model::limits::{HIDDEN_LAYERS, HIDDEN_SIZE, IW_SAMPLES, LATENT_DIM};
    use crate::train::spec::{BATCH_SIZE, EPOCHS, EVAL_EVERY_SECS, KL_WARMUP, LR};
    &[
        FieldRule {
            check: |s| {
                if s.run.models.is_empty() {
                    return Err("no models".into());
                }
                let twice = s
                    .run
                    .models
                    .iter()
                    .enumerate()
                    .find(|(i, k)| s.run.models[..*i].contains(k));
                match twice {
                    Some((_, k)) => Err(format!("model '{}' listed twice, kept once", k.name())),
                    None => Ok(()),
                }
            },
            // A model listed twice is kept once, in its first place; no models at all
            // go back to the default pair.
            reset: |s, d| {
                let mut seen = Vec::new();
                s.run.models.retain(|k| {
                    let first = !seen.contains(k);
                    seen.push(*k);
                    first
                });
                if s.run.models.is_empty() {
                    s.run.models = d.run.models.clone();
                }
            },
        },
        FieldRule {
            check: |s| within(&LATENT_DIM, s.run.latent_dim),
            reset: |s, d| s.run.latent_dim = d.run.latent_dim,
        },
        FieldRule {
            check: |s| {
                within(&HIDDEN_LAYERS, s.run.hidden.len()).and_then(|()| {
                    s.run
                        .hidden
                        .iter()
                        .try_for_each(|&h| within(&HIDDEN_SIZE, h))
                })
            },
            reset: |s, d| s.run.hidden = d.run.hidden.clone(),
        },
        FieldRule {
            check: |s| within(&LR, s.run.lr),
            reset: |s, d| s.run.lr = d.run.lr,
        },
        FieldRule {
            check: |s| within(&BATCH_SIZE, s.run.batch_size),
            reset: |s, d| s.run.batch_size = d.run.batch_size,
        },
        FieldRule {
            check: |s| s.run.epochs.map_or(Ok(()), |e| within(&EPOCHS, e)),
            reset: |s, d| s.run.epochs = d.run.epochs,
        },
        FieldRule {
            check: |s| within(&KL_WARMUP, s.run.kl_warmup_epochs),
            reset: |s, d| s.run.kl_warmup_epochs = d.run.kl_warmup_epochs,
        },
        FieldRule {
            check: |s| within(&IW_SAMPLES, s.run.iw_samples),
            reset: |s, d| s.run.iw_samples = d.run.iw_samples,
        },
        FieldRule {
            check: |s| {
                s.run
                    .eval_every_secs
                    .map_or(Ok(()), |v| within(&EVAL_EVERY_SECS, v))
            },
            reset: |s, d| s.run.eval_every_secs = d.run.eval_every_secs,
        },
        FieldRule {
            check: |s| within(&GRID_K, s.grid_k),
            reset: |s, d| s.grid_k = d.grid_k,
        },
    ]
};

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
    /// Checks every field read back from storage; a field out of range or unknown falls
    /// back to its default, alone. Returns one line per field that fell back (empty: all
    /// good), for one message in the window.
    pub fn sanitize(&mut self) -> Vec<String> {
        use crate::data::IMAGE_SIDE;
        use crate::model::limits::MAX_PARAMETERS;
        use crate::model::{Likelihood, ModelConfig};
        let defaults = Settings::default();
        let mut fixed = Vec::new();
        // Each field alone first: out of range, it goes back to its default.
        for rule in FIELD_RULES {
            if let Err(e) = (rule.check)(self) {
                fixed.push(e);
                (rule.reset)(self, &defaults);
            }
        }
        let mut keep = |ok: Result<(), String>| ok.map_err(|e| fixed.push(e)).is_ok();
        let run = &mut self.run;
        run.knobs.retain(|key, value| {
            let known = crate::model::kinds::all_knobs()
                .into_iter()
                .find(|k| k.key == key);
            let checked = known
                .ok_or_else(|| format!("unknown knob '{key}'"))
                .and_then(|k| k.check(value).map(drop).map_err(|e| e.to_string()));
            keep(checked)
        });
        // Fields each in range can still not fit together: too many parameters for a
        // 28×28 image, or knobs a kind's own check refuses (noise 8 with masking noise).
        for kind in run.models.clone() {
            let mut m = ModelConfig::new(kind, IMAGE_SIDE * IMAGE_SIDE, Likelihood::Bernoulli);
            m.latent_dim = run.latent_dim;
            m.hidden = run.hidden.clone();
            if kind.is_conditional() {
                // The classes come with the data; check as `train_config_for` does.
                m.classes = crate::train::spec::CLASSES_BEFORE_DATA;
            }
            if m.parameter_count() > MAX_PARAMETERS {
                keep(Err(format!("hidden {:?}: too many parameters", run.hidden)));
                run.hidden = defaults.run.hidden.clone();
            }
            for (key, value) in &run.knobs {
                if kind.knob(key).is_some() {
                    m.set_knob(key, value.clone()).ok();
                }
            }
            if let Some(check) = kind.spec().check
                && !keep(check(&m).map_err(|e| format!("{kind}: {e}")))
            {
                run.knobs.retain(|key, _| kind.knob(key).is_none());
            }
        }
        // Each model within the cap can still be over it together (the run's own rule).
        let total = |run: &crate::train::RunSpec| -> u64 {
            run.models
                .iter()
                .map(|&kind| {
                    let mut m =
                        ModelConfig::new(kind, IMAGE_SIDE * IMAGE_SIDE, Likelihood::Bernoulli);
                    m.latent_dim = run.latent_dim;
                    m.hidden = run.hidden.clone();
                    m.parameter_count()
                })
                .sum()
        };
        if total(run) > MAX_PARAMETERS {
            keep(Err(format!(
                "hidden {:?}: too many parameters for {} models together",
                run.hidden,
                run.models.len()
            )));
            run.hidden = defaults.run.hidden.clone();
        }
        fixed
    }

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
        diff("network", a.arch.to_string(), b.arch.to_string());
        // The learning rate applies at once, except with a new network: it comes with it.
        if a.arch != b.arch {
            diff("learning rate", a.lr.to_string(), b.lr.to_string());
        }
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
    fn absurd_saved_values_fall_back_one_field_at_a_time() {
        let saved = "(run: (latent_dim: 100000, batch_size: 0, lr: NaN, hidden: [64], \
                     knobs: {\"beta\": 2.0, \"warp\": 1.0, \"noise\": 7.0}), \
                     grid_k: 0)";
        let mut s: Settings = ron::from_str(saved).unwrap();
        let fixed = s.sanitize();
        assert_eq!(fixed.len(), 6, "{fixed:?}");
        assert!(
            fixed.iter().any(|f| f.contains("latent dimension 100000")),
            "{fixed:?}"
        );
        assert!(
            fixed.iter().any(|f| f.contains("unknown knob 'warp'")),
            "{fixed:?}"
        );
        let d = Settings::default();
        assert_eq!(
            (s.run.latent_dim, s.run.batch_size, s.run.lr),
            (d.run.latent_dim, d.run.batch_size, d.run.lr)
        );
        assert_eq!(s.grid_k, d.grid_k);
        // The good fields stay as they were.
        assert_eq!(s.run.hidden, vec![64]);
        assert_eq!(s.run.knobs.len(), 1, "only beta is kept: {:?}", s.run.knobs);
        assert!(s.sanitize().is_empty(), "sanitized settings are good");
    }

    /// Found by the settings fuzzer: knobs each in range that a kind's check refuses
    /// together, and hidden sizes each in range with too many parameters in all.
    #[test]
    fn a_saved_cvae_is_kept_as_it_is() {
        // Its classes come with the data set, so settings alone must not refuse it.
        let mut s: Settings = ron::from_str("(run: (models: [\"vae\", \"cvae\"]))").unwrap();
        assert_eq!(s.sanitize(), Vec::<String>::new());
        assert_eq!(s.run.models, vec![ModelKind::Vae, ModelKind::Cvae]);
    }

    #[test]
    fn fields_that_do_not_fit_together_fall_back_too() {
        let saved = "(run: (models: [\"dae\", \"vae\"], \
                     knobs: {\"noise_kind\": \"masking\", \"noise_level\": 8.0, \
                     \"beta\": 2.0}))";
        let mut s: Settings = ron::from_str(saved).unwrap();
        let fixed = s.sanitize();
        assert_eq!(fixed.len(), 1, "{fixed:?}");
        assert!(fixed[0].contains("dae: noise 8"), "{fixed:?}");
        assert!(!s.run.knobs.contains_key("noise_level"));
        assert_eq!(s.run.knobs.len(), 1, "beta stays: {:?}", s.run.knobs);
        let too_big: Settings = ron::from_str("(run: (hidden: [4000, 4000, 4000]))").unwrap();
        let mut big = too_big.clone();
        assert_eq!(big.sanitize().len(), 1);
        assert_eq!(big.run.hidden, Settings::default().run.hidden);
        for mut s in [s, big] {
            let image = crate::data::ItemShape::gray(28, 28);
            assert!(s.sanitize().is_empty());
            assert!(s.run.train_config_for(image).is_ok());
        }
    }

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
        // A new network needs new models, and brings its learning rate with them.
        let mut conv = old.clone();
        conv.run.set_arch(crate::model::Arch::Conv);
        assert!(old.needs_reset(&conv));
        assert_eq!(
            old.changes(&conv),
            ["network: mlp -> conv", "learning rate: 0.003 -> 0.001"]
        );
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
