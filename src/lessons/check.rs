//! Checks that look at more than one line: a knob that no model of its step has, class
//! names of the data set in force, posterior ellipses without a VAE, a saved run opened
//! together with models of its own, and the paths of a lesson file.

use super::{At, Classes, ColourBy, Lesson, LessonError, RunBase};
use crate::data::{self, Sizes};
use crate::model::ModelKind;
use std::collections::BTreeSet;
use std::path::Path;

/// What a check of more than one line found wrong at a step's line.
#[derive(Debug, thiserror::Error)]
enum Problem {
    #[error("subject '{name}' is on the '{home}' tab, but this step shows '{shown}'")]
    OtherTab {
        name: String,
        home: &'static str,
        shown: String,
    },
    #[error(
        "subject '{name}' is on the '{home}' tab: set 'tab: {home}' in this step or an \
         earlier one"
    )]
    NoTab { name: String, home: &'static str },
    #[error(
        "{key}: no model of this step has this knob (models: {models}; it belongs to {belongs_to})"
    )]
    NoKnob {
        key: String,
        models: String,
        belongs_to: String,
    },
    #[error("{what} are drawn for VAE kinds only, and this step's models ({models}) have none")]
    NoVae { what: &'static str, models: String },
    #[error("classes: after a saved run, set 'dataset' too so the class names are known")]
    ClassesAfterRun,
    #[error("classes: '{dataset}' has no class '{class}' (classes: {classes})")]
    NoClass {
        dataset: String,
        class: String,
        classes: String,
    },
    #[error(
        "classes: the class names of '{0}' are known only once it is loaded; use 'classes' \
         with built-in or downloaded data sets"
    )]
    ClassesUnknown(String),
    #[error("classes: {0}")]
    ClassesNotLoaded(data::DataError),
    #[error("colour_by: after a saved run, set 'dataset' too so its factors are known")]
    ColourByAfterRun,
    #[error(
        "colour_by: '{0}' has no factors; only 'class' (sprites, colour-sprites and dsprites have factors)"
    )]
    NoFactors(String),
    #[error("colour_by: '{dataset}' has no factor '{name}' (choose class, {factors})")]
    NoFactor {
        dataset: String,
        name: String,
        factors: String,
    },
    #[error("colour_by: {0}")]
    FactorsNotLoaded(data::DataError),
}

/// Runs every check over the steps, in order; fills in the hidden classes.
pub fn check(lesson: &mut Lesson) -> Result<(), LessonError> {
    let mut fold = super::Fold::default();
    for i in 0..lesson.steps.len() {
        // This step's setup before its own checks resolve it, the steps before resolved.
        let mut here = fold.clone();
        here.add(&lesson.steps[i]);
        let setup = here.setup(Some(&lesson.steps[i]));
        let models = setup.known_models();
        let dataset = setup.known_dataset();
        let file = lesson.file.clone();
        let at = |line: usize, problem: String| LessonError::At {
            file: file.clone(),
            line,
            problem,
        };
        let at_p = |line: usize, problem: Problem| at(line, problem.to_string());
        let c = &mut lesson.steps[i].changes;
        if c.open.is_some() {
            opened_run_brings_its_models(c).map_err(|(l, p)| at(l, p))?;
        }
        if let Some(models) = &models {
            for (key, v) in &c.knobs {
                knob_applies(key, models).map_err(|p| at_p(v.line, p))?;
            }
            for (name, o) in [
                ("posterior ellipses", &c.posterior_ellipses),
                ("prior circles", &c.prior_circles),
            ] {
                if let Some(a) = o.as_ref().filter(|a| a.value) {
                    needs_a_vae(name, models).map_err(|p| at_p(a.line, p))?;
                }
            }
        }
        if let Some(a) = &mut c.classes {
            let line = a.line;
            resolve_classes(a, dataset.as_deref(), setup.run_base).map_err(|p| at_p(line, p))?;
        }
        if let Some(a) = &mut c.colour_by {
            let line = a.line;
            resolve_factor(&mut a.value, dataset.as_deref()).map_err(|p| at_p(line, p))?;
        }
        if let Some(a) = &c.subjects {
            subjects_on_the_tab(&a.value, setup.tab.as_deref()).map_err(|p| at_p(a.line, p))?;
        }
        fold.add(&lesson.steps[i]);
    }
    Ok(())
}

/// Each subject lives on one tab: the step must show that tab.
fn subjects_on_the_tab(subjects: &[&str], tab: Option<&str>) -> Result<(), Problem> {
    for name in subjects {
        let Some(home) = super::subject::subject(name).and_then(|s| s.tab) else {
            continue;
        };
        match tab {
            Some(t) if t.trim().eq_ignore_ascii_case(home) => {}
            Some(t) => {
                return Err(Problem::OtherTab {
                    name: name.to_string(),
                    home,
                    shown: t.to_string(),
                });
            }
            None => {
                return Err(Problem::NoTab {
                    name: name.to_string(),
                    home,
                });
            }
        }
    }
    Ok(())
}

/// A step that opens a saved run takes data and models from it.
fn opened_run_brings_its_models(c: &super::Changes) -> Result<(), (usize, String)> {
    let clash = [
        ("dataset", c.dataset.as_ref().map(|a| a.line)),
        ("models", c.models.as_ref().map(|a| a.line)),
        ("latent_dim", c.latent_dim.as_ref().map(|a| a.line)),
        ("arch", c.arch.as_ref().map(|a| a.line)),
        ("seed", c.seed.as_ref().map(|a| a.line)),
    ];
    match clash.into_iter().find_map(|(k, l)| l.map(|l| (k, l))) {
        Some((key, line)) => Err((
            line,
            format!(
                "this step opens a saved run, which brings its own data set and models: \
                 leave out '{key}' (or move it to another step)"
            ),
        )),
        None => Ok(()),
    }
}

fn knob_applies(key: &str, models: &[ModelKind]) -> Result<(), Problem> {
    if models.iter().any(|m| m.knob(key).is_some()) {
        return Ok(());
    }
    let with: Vec<&str> = crate::model::kinds::kinds_with(key)
        .iter()
        .map(|k| k.name())
        .collect();
    Err(Problem::NoKnob {
        key: key.to_string(),
        models: names(models),
        belongs_to: with.join(", "),
    })
}

fn needs_a_vae(what: &'static str, models: &[ModelKind]) -> Result<(), Problem> {
    if models.iter().any(|m| m.is_variational()) {
        Ok(())
    } else {
        Err(Problem::NoVae {
            what,
            models: names(models),
        })
    }
}

fn names(models: &[ModelKind]) -> String {
    models
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds the indices of the classes to hide, from the names of the data set in force.
fn resolve_classes(
    a: &mut At<Classes>,
    dataset: Option<&str>,
    base: RunBase,
) -> Result<(), Problem> {
    let Classes::Only { names, hidden } = &mut a.value else {
        return Ok(());
    };
    let Some(dataset) = dataset else {
        debug_assert_eq!(base, RunBase::Current);
        return Err(Problem::ClassesAfterRun);
    };
    let all = class_names(dataset)?;
    for n in names.iter() {
        if !all.iter().any(|c| c == n) {
            return Err(Problem::NoClass {
                dataset: dataset.to_string(),
                class: n.clone(),
                classes: all.join(", "),
            });
        }
    }
    *hidden = (0..all.len() as u32)
        .filter(|&c| !names.contains(&all[c as usize]))
        .collect::<BTreeSet<u32>>();
    Ok(())
}

/// Finds the index of the factor to colour by among the factors of the data set in force.
fn resolve_factor(c: &mut ColourBy, dataset: Option<&str>) -> Result<(), Problem> {
    if c.name.eq_ignore_ascii_case("class") {
        c.factor = None;
        return Ok(());
    }
    let dataset = dataset.ok_or(Problem::ColourByAfterRun)?;
    let tiny = Sizes { train: 1, test: 1 };
    let factors = data::load_with_sizes(dataset, 1, Some(tiny))
        .map_err(Problem::FactorsNotLoaded)?
        .factor_names;
    if factors.is_empty() {
        return Err(Problem::NoFactors(dataset.to_string()));
    }
    let Some(j) = factors.iter().position(|f| f.eq_ignore_ascii_case(&c.name)) else {
        return Err(Problem::NoFactor {
            dataset: dataset.to_string(),
            name: c.name.clone(),
            factors: factors.join(", "),
        });
    };
    c.factor = Some(j);
    Ok(())
}

/// The class names of a built-in or downloaded data set, without loading much of it.
fn class_names(dataset: &str) -> Result<Vec<String>, Problem> {
    if let Some(set) = data::fetch::RemoteSet::from_name(dataset) {
        return Ok(set.class_names().iter().map(|s| s.to_string()).collect());
    }
    if !data::BUILTIN_NAMES.contains(&dataset) {
        return Err(Problem::ClassesUnknown(dataset.to_string()));
    }
    let tiny = Sizes { train: 1, test: 1 };
    data::load_with_sizes(dataset, 1, Some(tiny))
        .map(|d| d.class_names)
        .map_err(Problem::ClassesNotLoaded)
}

/// Makes the relative paths of a lesson file relative to its folder; a saved run must be a
/// folder that exists.
pub fn resolve_paths(lesson: &mut Lesson, folder: &Path) -> Result<(), LessonError> {
    for step in &mut lesson.steps {
        let c = &mut step.changes;
        if let Some(d) = &mut c.dataset
            && let Some((kind, path)) = d.value.split_once(':')
            && Path::new(path).is_relative()
        {
            d.value = format!("{kind}:{}", folder.join(path).display());
        }
        if let Some(o) = &mut c.open {
            if o.value.is_relative() {
                o.value = folder.join(&o.value);
            }
            if !o.value.is_dir() {
                return Err(LessonError::At {
                    file: lesson.file.clone(),
                    line: o.line,
                    problem: format!("open: there is no saved run at {}", o.value.display()),
                });
            }
        }
    }
    Ok(())
}
