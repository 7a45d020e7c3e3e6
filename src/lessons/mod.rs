//! Guided lessons: plain-text files (Markdown with a small front matter, described in
//! `assets/lessons/README.md`) whose steps set the app up and say what to do and what to
//! notice. The built-in ones are compiled into the binary, so they work offline and from
//! any folder.
//!
//! This module parses and validates lessons, and folds the steps into the [`Setup`] the
//! app applies. It knows the model kinds, knobs and data sets; the tab titles belong to the
//! window, which checks them with [`Lesson::check_tabs`].

pub mod bundle;
mod check;
mod parse;
pub mod subject;

use crate::explore::projection::Projection;
use crate::model::{Arch, KnobValue, ModelKind};
use crate::train::RunSpec;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The longest step text (characters) that still reads on a projector banner.
pub const MAX_STEP_CHARS: usize = 520;
/// Largest lesson file read (a long lesson takes some 20 kB).
pub const MAX_LESSON_BYTES: u64 = 1 << 20;
/// Most steps a lesson may have (a class hour holds a few dozen).
pub const MAX_STEPS: usize = 500;
/// Longest title, name or about line of a lesson or a step's heading, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// The built-in lessons: file name and text, in the order they are taught.
const BUILTIN: &[(&str, &str)] = &[
    (
        "ae-vs-vae.md",
        include_str!("../../assets/lessons/ae-vs-vae.md"),
    ),
    (
        "prior-samples.md",
        include_str!("../../assets/lessons/prior-samples.md"),
    ),
    ("elbo.md", include_str!("../../assets/lessons/elbo.md")),
    (
        "denoising-contractive.md",
        include_str!("../../assets/lessons/denoising-contractive.md"),
    ),
    (
        "interpolation.md",
        include_str!("../../assets/lessons/interpolation.md"),
    ),
    (
        "posterior-collapse.md",
        include_str!("../../assets/lessons/posterior-collapse.md"),
    ),
    (
        "beta-disentanglement.md",
        include_str!("../../assets/lessons/beta-disentanglement.md"),
    ),
    (
        "beyond-the-vae.md",
        include_str!("../../assets/lessons/beyond-the-vae.md"),
    ),
];

/// A lesson that cannot be found, read or understood.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum LessonError {
    /// A problem at a line of a lesson file.
    #[error("{file}:{line}: {problem}")]
    At {
        /// The file, as the user named it.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong, and what would be right.
        problem: String,
    },
    /// Neither a built-in lesson nor a readable file.
    #[error("{0}")]
    NotFound(String),
    /// A class bundle that cannot be opened (see [`bundle::BundleError`]).
    #[error("{0}")]
    Bundle(String),
}

/// A parsed and checked lesson.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    /// Short name (`ae-vs-vae`), as `latentlab --lesson NAME` takes it.
    pub name: String,
    /// Title for the list and the banner.
    pub title: String,
    /// One sentence for the lesson list (may be empty).
    pub about: String,
    /// Where it came from (`assets/lessons/…` or the path given).
    pub file: String,
    /// The steps, at least one.
    pub steps: Vec<Step>,
}

/// One step: what it sets up, and its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The heading after `## `.
    pub title: String,
    /// Line of the heading.
    pub line: usize,
    /// What to do and what to notice: paragraphs separated by a blank line (`\n\n`).
    pub text: String,
    /// What this step changes; everything else stays as the step before left it.
    pub changes: Changes,
}

/// A value a step sets, with the line that sets it.
#[derive(Clone, Debug, PartialEq)]
pub struct At<T> {
    /// The value.
    pub value: T,
    /// 1-based line in the lesson file.
    pub line: usize,
}

/// Which classes the latent scatters show.
#[derive(Clone, Debug, PartialEq)]
pub enum Classes {
    /// Every class.
    All,
    /// Only these (by name); `hidden` holds the indices of the others once checked.
    Only {
        /// The class names as written.
        names: Vec<String>,
        /// Indices of the classes to hide (filled in by the check).
        hidden: BTreeSet<u32>,
    },
}

/// What the latent scatters colour their points by.
#[derive(Clone, Debug, PartialEq)]
pub struct ColourBy {
    /// As written: `class`, or a factor's name (`shape`, `x`, …).
    pub name: String,
    /// The factor's index among the data set's factors; `None` for `class` (filled in by
    /// the check).
    pub factor: Option<usize>,
}

/// What one step sets. `None`: this step leaves it as it was.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// Data set spec.
    pub dataset: Option<At<String>>,
    /// The model kinds side by side.
    pub models: Option<At<Vec<ModelKind>>>,
    /// Size of the code z.
    pub latent_dim: Option<At<usize>>,
    /// The network: dense layers or convolutions.
    pub arch: Option<At<Arch>>,
    /// Learning rate.
    pub lr: Option<At<f64>>,
    /// Seed.
    pub seed: Option<At<u64>>,
    /// Knob values by key (`beta`, `noise_level`, ...).
    pub knobs: BTreeMap<String, At<KnobValue>>,
    /// Cells per side of the latent grid.
    pub grid: Option<At<usize>>,
    /// The tab to show (a tab title).
    pub tab: Option<At<String>>,
    /// Presentation mode on or off.
    pub presentation: Option<At<bool>>,
    /// Training runs (true) or pauses (false).
    pub training: Option<At<bool>>,
    /// Latent scatters share their axes.
    pub same_axes: Option<At<bool>>,
    /// The prior's 1σ/2σ circles.
    pub prior_circles: Option<At<bool>>,
    /// Posterior ellipses.
    pub posterior_ellipses: Option<At<bool>>,
    /// Classes shown in the latent scatters.
    pub classes: Option<At<Classes>>,
    /// What the latent scatters colour their points by.
    pub colour_by: Option<At<ColourBy>>,
    /// How the latent plots show codes of more than two dimensions.
    pub view: Option<At<Projection>>,
    /// A saved run to open.
    pub open: Option<At<PathBuf>>,
    /// What the class must see in this step (names from [`subject::SUBJECTS`]); this
    /// step's own, never inherited.
    pub subjects: Option<At<Vec<&'static str>>>,
}

/// What the latent scatters highlight. Every step sets all of it (unset keys take their
/// defaults, which match the latent tab's own).
#[derive(Clone, Debug, PartialEq)]
pub struct Highlight {
    /// One scale (and one probe) for every model.
    pub same_axes: bool,
    /// The prior's 1σ and 2σ circles on VAE plots.
    pub prior_circles: bool,
    /// Each item's posterior 1σ ellipse on VAE plots.
    pub posterior_ellipses: bool,
    /// Classes hidden from the scatters, by index.
    pub hidden_classes: BTreeSet<u32>,
    /// The factor the points are coloured by (its index); `None`: by class.
    pub colour_by: Option<usize>,
    /// PCA, t-SNE or UMAP for every latent plot of more than two dimensions; `None`: the
    /// plane the user chose.
    pub view: Option<Projection>,
}

impl Default for Highlight {
    fn default() -> Self {
        Self {
            same_axes: false,
            prior_circles: true,
            posterior_ellipses: false,
            hidden_classes: BTreeSet::new(),
            colour_by: None,
            view: None,
        }
    }
}

/// What the run settings of a step start from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RunBase {
    /// The default settings: every class sees the same models.
    #[default]
    Defaults,
    /// The settings as they are (after a step that opened a saved run).
    Current,
}

/// The app as a step wants it, with every earlier step folded in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Setup {
    /// A saved run this step opens (this step's own, never inherited).
    pub open: Option<PathBuf>,
    /// What the run settings start from.
    pub run_base: RunBase,
    /// The run settings changed since the start (or since the last saved run opened).
    pub run: Changes,
    /// Cells per side of the grid (`None`: as it is).
    pub grid: Option<usize>,
    /// Tab title (`None`: as it is).
    pub tab: Option<String>,
    /// Presentation mode (`None`: as it is).
    pub presentation: Option<bool>,
    /// Train (true) or pause (false); `None`: as it is.
    pub training: Option<bool>,
    /// What the scatters highlight.
    pub highlight: Highlight,
}

impl Setup {
    /// The run settings this step asks for, given the ones in force.
    pub fn run_spec(&self, current: &RunSpec) -> RunSpec {
        let mut r = match self.run_base {
            RunBase::Defaults => RunSpec::default(),
            RunBase::Current => current.clone(),
        };
        let c = &self.run;
        if let Some(d) = &c.dataset {
            r.dataset = d.value.clone();
        }
        if let Some(m) = &c.models {
            r.models = m.value.clone();
        }
        if let Some(d) = &c.latent_dim {
            r.latent_dim = d.value;
        }
        if let Some(a) = &c.arch {
            r.set_arch(a.value);
        }
        if let Some(lr) = &c.lr {
            r.lr = lr.value;
        }
        if let Some(s) = &c.seed {
            r.seed = s.value;
        }
        for (key, v) in &c.knobs {
            r.knobs.insert(key.clone(), v.value.clone());
        }
        r.threads = current.threads;
        r
    }

    /// The models in force, when the lesson alone says which (not after a saved run).
    pub fn known_models(&self) -> Option<Vec<ModelKind>> {
        match (&self.run.models, self.run_base) {
            (Some(m), _) => Some(m.value.clone()),
            (None, RunBase::Defaults) => Some(RunSpec::default().models),
            (None, RunBase::Current) => None,
        }
    }

    /// The data set in force, when the lesson alone says which.
    pub fn known_dataset(&self) -> Option<String> {
        match (&self.run.dataset, self.run_base) {
            (Some(d), _) => Some(d.value.clone()),
            (None, RunBase::Defaults) => Some(RunSpec::default().dataset),
            (None, RunBase::Current) => None,
        }
    }
}

/// The steps so far folded into what the app shows: each step is added once, so the
/// setups of all steps take one pass (a check per step stays linear in the steps).
#[derive(Clone, Debug, Default)]
pub(crate) struct Fold {
    s: Setup,
    highlight: Changes,
}

impl Fold {
    /// Folds in one more step.
    pub(crate) fn add(&mut self, step: &Step) {
        let (s, highlight) = (&mut self.s, &mut self.highlight);
        let c = &step.changes;
        if c.open.is_some() {
            s.run_base = RunBase::Current;
            s.run = Changes::default();
        }
        // Other data has other classes: a new data set shows them all again.
        if c.dataset.is_some() || c.open.is_some() {
            highlight.classes = None;
            highlight.colour_by = None;
        }
        keep(&mut s.run.dataset, &c.dataset);
        keep(&mut s.run.models, &c.models);
        keep(&mut s.run.latent_dim, &c.latent_dim);
        keep(&mut s.run.arch, &c.arch);
        keep(&mut s.run.lr, &c.lr);
        keep(&mut s.run.seed, &c.seed);
        for (k, v) in &c.knobs {
            s.run.knobs.insert(k.clone(), v.clone());
        }
        set(&c.grid, &mut s.grid);
        set(&c.tab, &mut s.tab);
        set(&c.presentation, &mut s.presentation);
        set(&c.training, &mut s.training);
        keep(&mut highlight.same_axes, &c.same_axes);
        keep(&mut highlight.prior_circles, &c.prior_circles);
        keep(&mut highlight.posterior_ellipses, &c.posterior_ellipses);
        keep(&mut highlight.classes, &c.classes);
        keep(&mut highlight.colour_by, &c.colour_by);
        keep(&mut highlight.view, &c.view);
    }

    /// The setup once `last` (the step folded in last) is shown.
    pub(crate) fn setup(&self, last: Option<&Step>) -> Setup {
        let mut s = self.s.clone();
        s.open = last.and_then(|st| st.changes.open.clone()).map(|a| a.value);
        s.highlight = highlight_of(&self.highlight);
        s
    }
}

/// Sets `to` to the value of `from` where a step sets it.
fn set<T: Clone>(from: &Option<At<T>>, to: &mut Option<T>) {
    if let Some(a) = from {
        *to = Some(a.value.clone());
    }
}

/// Keeps `new` where it is set, else `old`.
fn keep<T: Clone>(old: &mut Option<At<T>>, new: &Option<At<T>>) {
    if new.is_some() {
        old.clone_from(new);
    }
}

impl Lesson {
    /// Parses and checks a lesson; `file` names it in messages. Relative paths (`open:`,
    /// `idx:DIR`, ...) stay as written; [`Lesson::from_file`] resolves them.
    pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
        let mut lesson = parse::parse(file, text)?;
        check::check(&mut lesson)?;
        Ok(lesson)
    }

    /// Reads, parses and checks a lesson file; relative paths in it are taken from the
    /// file's folder, and a saved run it opens must exist.
    pub fn from_file(path: &Path) -> Result<Lesson, LessonError> {
        let file = path.display().to_string();
        let cannot = |e: String| LessonError::NotFound(format!("cannot read lesson {file}: {e}"));
        let meta = std::fs::metadata(path).map_err(|e| cannot(e.to_string()))?;
        if !meta.is_file() {
            return Err(cannot("it is not a file".into()));
        }
        if meta.len() > MAX_LESSON_BYTES {
            return Err(cannot(format!(
                "it is {} bytes; a lesson is at most {MAX_LESSON_BYTES}",
                meta.len()
            )));
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_LESSON_BYTES + 1).read_to_string(&mut text))
            .map_err(|e| cannot(e.to_string()))?;
        let mut lesson = parse::parse(&file, &text)?;
        let folder = path.parent().unwrap_or(Path::new("."));
        check::resolve_paths(&mut lesson, folder)?;
        check::check(&mut lesson)?;
        Ok(lesson)
    }

    /// The app as step `i` wants it (clamped to the last step).
    pub fn setup(&self, i: usize) -> Setup {
        let last = i.min(self.steps.len().saturating_sub(1));
        let mut fold = Fold::default();
        for step in self.steps.iter().take(last + 1) {
            fold.add(step);
        }
        fold.setup(self.steps.get(last))
    }

    /// Checks every `tab:` against the window's tab titles (any case) and writes it as the
    /// title is spelt.
    pub fn check_tabs(&mut self, titles: &[&str]) -> Result<(), LessonError> {
        for step in &mut self.steps {
            let Some(tab) = &mut step.changes.tab else {
                continue;
            };
            match titles
                .iter()
                .find(|t| t.eq_ignore_ascii_case(tab.value.trim()))
            {
                Some(t) => tab.value = t.to_string(),
                None => {
                    return Err(LessonError::At {
                        file: self.file.clone(),
                        line: tab.line,
                        problem: format!("no tab '{}' (tabs: {})", tab.value, titles.join(", ")),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The highlight the folded keys describe; unset ones take their defaults.
fn highlight_of(c: &Changes) -> Highlight {
    let d = Highlight::default();
    let on = |o: &Option<At<bool>>, default: bool| o.as_ref().map_or(default, |a| a.value);
    Highlight {
        same_axes: on(&c.same_axes, d.same_axes),
        prior_circles: on(&c.prior_circles, d.prior_circles),
        posterior_ellipses: on(&c.posterior_ellipses, d.posterior_ellipses),
        hidden_classes: match &c.classes {
            Some(At {
                value: Classes::Only { hidden, .. },
                ..
            }) => hidden.clone(),
            _ => BTreeSet::new(),
        },
        colour_by: c.colour_by.as_ref().and_then(|a| a.value.factor),
        view: c.view.as_ref().map(|a| a.value),
    }
}

/// Every built-in lesson, parsed and checked (not against the tabs: the window does that).
pub fn builtin() -> Result<Vec<Lesson>, LessonError> {
    BUILTIN
        .iter()
        .map(|(file, text)| Lesson::parse(&format!("assets/lessons/{file}"), text))
        .collect()
}

/// The built-in lesson called `name`, if there is one.
pub fn builtin_named(name: &str) -> Option<Result<Lesson, LessonError>> {
    let stem = |file: &str| file.trim_end_matches(".md").to_string();
    BUILTIN
        .iter()
        .find(|(file, _)| stem(file) == name)
        .map(|(file, text)| Lesson::parse(&format!("assets/lessons/{file}"), text))
}

/// A lesson by built-in name first, then as a file path, a lesson or a class bundle
/// (`latentlab --lesson NAME|FILE`).
pub fn find(name_or_path: &str) -> Result<Lesson, LessonError> {
    if let Some(lesson) = builtin_named(name_or_path) {
        return lesson;
    }
    let path = Path::new(name_or_path);
    if path.is_file() {
        return open_file(path);
    }
    let names: Vec<&str> = BUILTIN
        .iter()
        .map(|(f, _)| f.trim_end_matches(".md"))
        .collect();
    Err(LessonError::NotFound(format!(
        "no lesson '{name_or_path}': not a built-in lesson ({}) and not a file",
        names.join(", ")
    )))
}

/// A lesson file, or a class bundle (`.latentlab`) unpacked into the cache folder.
pub fn open_file(path: &Path) -> Result<Lesson, LessonError> {
    if !bundle::is_bundle(path) {
        return Lesson::from_file(path);
    }
    let cache = crate::data::fetch::cache_root(None).map_err(|e| {
        LessonError::Bundle(format!(
            "{}: no cache folder to unpack into: {e}",
            path.display()
        ))
    })?;
    bundle::open(path, &cache).map_err(|e| match e {
        bundle::BundleError::Lesson(e) => e,
        e => LessonError::Bundle(e.to_string()),
    })
}

/// Is `spec` a data set the app can load (by its form: files are not opened here)?
pub fn known_dataset(spec: &str) -> bool {
    crate::data::sources::find(spec).is_some_and(|(_, arg)| !arg.trim().is_empty())
}

#[cfg(test)]
mod tests;
