//! Lesson text → [`Lesson`]: the front matter, the steps, and each `key: value` line, every
//! problem reported with its line. Checks that need more than one line are in `check.rs`.

use super::{
    At, Changes, Classes, ColourBy, Lesson, LessonError, MAX_LESSON_BYTES, MAX_STEP_CHARS,
    MAX_STEPS, MAX_TITLE_CHARS, Step,
};
use crate::data::DataError;
use crate::explore::projection::Projection;
use crate::model::arch::ArchError;
use crate::model::kinds::{KnobRange, all_knobs};
use crate::model::limits::OutOfRange;
use crate::model::{Arch, KnobValue, ModelKind};
use crate::train::spec::{SettingsError, check_lr, parse_models};
use std::path::PathBuf;

/// The keys a step takes besides the knobs, in the order the README lists them.
pub const STEP_KEYS: &[&str] = &[
    "dataset",
    "models",
    "latent_dim",
    "arch",
    "lr",
    "seed",
    "grid",
    "tab",
    "presentation",
    "training",
    "same_axes",
    "prior_circles",
    "posterior_ellipses",
    "classes",
    "colour_by",
    "view",
    "open",
    "subject",
];

/// The front matter's keys.
const FRONT_KEYS: &[&str] = &["name", "title", "about"];

/// Lines with their 1-based numbers.
type Lines<'a> = std::iter::Peekable<std::iter::Enumerate<std::str::Lines<'a>>>;

/// Parses a lesson's text; `file` names it in messages.
pub fn parse(file: &str, text: &str) -> Result<Lesson, LessonError> {
    let at = |line: usize, problem: String| LessonError::At {
        file: file.to_string(),
        line,
        problem,
    };
    // Sizes first, before any work that grows with them.
    if text.len() as u64 > MAX_LESSON_BYTES {
        return Err(at(
            1,
            format!(
                "the lesson is {} bytes; a lesson is at most {MAX_LESSON_BYTES}",
                text.len()
            ),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Lines<'_> = text.lines().enumerate().peekable();
    let (name, title, about) = front_matter(&mut lines).map_err(|(l, p)| at(l, p))?;
    let mut steps = Vec::new();
    while let Some((i, line)) = lines.next() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some(heading) = line.strip_prefix("## ") else {
            return Err(at(n, not_a_step(line)));
        };
        if steps.len() == MAX_STEPS {
            return Err(at(
                n,
                format!("more than {MAX_STEPS} steps; split the lesson into several"),
            ));
        }
        steps.push(step(heading, n, &mut lines).map_err(|(l, p)| at(l, p))?);
    }
    if steps.is_empty() {
        let last = text.lines().count().max(1);
        return Err(at(
            last,
            "the lesson has no steps (start each step with a heading '## Title')".into(),
        ));
    }
    Ok(Lesson {
        name,
        title,
        about,
        file: file.to_string(),
        steps,
    })
}

/// What a line outside a step is, said helpfully.
fn not_a_step(line: &str) -> String {
    if line.starts_with('#') {
        "only '## ' headings are allowed: each starts a step".into()
    } else {
        format!(
            "text outside a step: '{}' (start each step with a heading '## Title')",
            short(line)
        )
    }
}

/// At most 40 characters of a line, for messages.
fn short(line: &str) -> String {
    let t = line.trim();
    match t.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

/// `---`, `name:`, `title:`, optional `about:`, `---`.
fn front_matter(lines: &mut Lines<'_>) -> Result<(String, String, String), (usize, String)> {
    let start = "a lesson starts with a front matter: a line '---', then 'name: …' and \
                 'title: …', then '---'";
    let first = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((i, l)) if l.trim() == "---" => break i + 1,
            Some((i, _)) => return Err((i + 1, start.into())),
            None => return Err((1, format!("the file is empty ({start})"))),
        }
    };
    let mut fields: Vec<(&str, String, usize)> = Vec::new();
    let mut last = first;
    for (i, line) in lines.by_ref() {
        let n = i + 1;
        last = n;
        if line.trim() == "---" {
            let get = |k: &str| fields.iter().find(|f| f.0 == k).map(|f| f.1.clone());
            let name = get("name").ok_or((n, "the front matter has no 'name:'".to_string()))?;
            let title = get("title").ok_or((n, "the front matter has no 'title:'".to_string()))?;
            return Ok((name, title, get("about").unwrap_or_default()));
        }
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = key_value(line).ok_or((n, expected_key_value(line)))?;
        let most = if key == "about" {
            MAX_STEP_CHARS
        } else {
            MAX_TITLE_CHARS
        };
        too_long(key, value, most).map_err(|p| (n, p.to_string()))?;
        let Some(key) = FRONT_KEYS.iter().find(|k| **k == key) else {
            return Err((
                n,
                format!("unknown front matter key '{key}' (keys: name, title, about)"),
            ));
        };
        if fields.iter().any(|f| f.0 == *key) {
            return Err((n, format!("'{key}' is given twice")));
        }
        if *key == "name" && !valid_name(value) {
            return Err((
                n,
                format!(
                    "name '{value}' must be lowercase letters, digits and '-' (like ae-vs-vae)"
                ),
            ));
        }
        fields.push((key, value.to_string(), n));
    }
    Err((
        last,
        "the front matter never ends: add a line '---' after it".into(),
    ))
}

/// A title, name or about line longer than `most` characters: refused before it is used.
fn too_long(what: &str, value: &str, most: usize) -> Result<(), ValueError> {
    let chars = value.chars().take(most + 1).count();
    if chars > most {
        return Err(ValueError::TooLong {
            what: what.to_string(),
            most,
            start: short(value),
        });
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `key: value` with a lowercase key; `None` for any other line.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    is_key.then_some((key, value.trim()))
}

fn expected_key_value(line: &str) -> String {
    format!(
        "expected 'key: value', found '{}' (a step's settings come right after its heading; \
         leave a blank line before its text)",
        short(line)
    )
}

/// One step: its heading, the `key: value` lines right under it, a blank line, the text.
fn step(heading: &str, line: usize, lines: &mut Lines<'_>) -> Result<Step, (usize, String)> {
    too_long("a step heading", heading.trim(), MAX_TITLE_CHARS)
        .map_err(|p| (line, p.to_string()))?;
    let title = heading.trim().to_string();
    if title.is_empty() {
        return Err((line, "a step heading needs a title after '## '".into()));
    }
    let mut changes = Changes::default();
    while let Some((i, l)) = lines.next_if(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')) {
        let (key, value) = key_value(l).ok_or((i + 1, expected_key_value(l)))?;
        if value.is_empty() {
            return Err((i + 1, format!("'{key}' has no value")));
        }
        set(&mut changes, key, value, i + 1).map_err(|p| (i + 1, p.to_string()))?;
    }
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    while let Some((i, l)) = lines.next_if(|(_, l)| !l.starts_with("## ")) {
        if l.starts_with('#') {
            return Err((
                i + 1,
                "only '## ' headings are allowed: each starts a step".into(),
            ));
        }
        if l.trim().is_empty() {
            flush(&mut paragraphs, &mut current);
        } else {
            current.push(l.trim());
        }
    }
    flush(&mut paragraphs, &mut current);
    check_text(&title, line, &paragraphs)?;
    Ok(Step {
        title,
        line,
        text: paragraphs.join("\n\n"),
        changes,
    })
}

fn flush(paragraphs: &mut Vec<String>, current: &mut Vec<&str>) {
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
        current.clear();
    }
}

/// A step says something, not too much, and closes its `**bold**`.
fn check_text(title: &str, line: usize, paragraphs: &[String]) -> Result<(), (usize, String)> {
    if paragraphs.is_empty() {
        return Err((
            line,
            format!(
                "step '{title}' has no text: after its settings, leave a blank line and say \
                 what to do and what to notice"
            ),
        ));
    }
    let chars: usize = paragraphs
        .iter()
        .map(|p| p.replace("**", "").chars().count())
        .sum();
    if chars > MAX_STEP_CHARS {
        return Err((
            line,
            format!(
                "step '{title}' has {chars} characters of text; at most {MAX_STEP_CHARS} read \
                 well on a projector (split it into two steps)"
            ),
        ));
    }
    if let Some(p) = paragraphs.iter().find(|p| p.matches("**").count() % 2 == 1) {
        return Err((
            line,
            format!("unclosed '**' in step '{title}': '{}'", short(p)),
        ));
    }
    Ok(())
}

/// Sets one key of a step; the message says what is wrong with the value.
fn set(c: &mut Changes, key: &str, value: &str, line: usize) -> Result<(), ValueError> {
    let not_a_number = || ValueError::NotANumber {
        key: key.to_string(),
        value: value.to_string(),
    };
    if let Some(knob) = all_knobs().into_iter().find(|k| k.key == key) {
        if c.knobs.contains_key(key) {
            return Err(ValueError::Twice(key.to_string()));
        }
        let raw = match knob.range {
            KnobRange::Number { .. } => {
                KnobValue::Number(value.parse::<f32>().map_err(|_| not_a_number())?)
            }
            KnobRange::Choice { .. } => KnobValue::Choice(value.to_string()),
        };
        let checked = knob.check(&raw).map_err(|why| ValueError::Knob {
            key: key.to_string(),
            why: why.to_string(),
        })?;
        c.knobs.insert(
            key.to_string(),
            At {
                value: checked,
                line,
            },
        );
        return Ok(());
    }
    if twice(c, key) {
        return Err(ValueError::Twice(key.to_string()));
    }
    match key {
        "dataset" => {
            if !super::known_dataset(value) {
                return Err(DataError::UnknownSpec(value.to_string()).into());
            }
            c.dataset = at(value.to_string(), line);
        }
        "models" => c.models = at(models(value)?, line),
        "latent_dim" => c.latent_dim = at(whole(key, value, 1, 64)?, line),
        "arch" => c.arch = at(Arch::from_name(value)?, line),
        "lr" => {
            let lr: f64 = value.parse().map_err(|_| not_a_number())?;
            check_lr(lr)?;
            c.lr = at(lr, line);
        }
        "seed" => {
            c.seed = at(
                value.parse().map_err(|_| ValueError::NotWhole {
                    key: key.to_string(),
                    value: value.to_string(),
                })?,
                line,
            )
        }
        "grid" => c.grid = at(whole(key, value, 5, 30)?, line),
        "tab" => c.tab = at(value.to_string(), line),
        "presentation" => c.presentation = at(on_off(key, value)?, line),
        "training" => c.training = at(run_pause(value)?, line),
        "same_axes" => c.same_axes = at(on_off(key, value)?, line),
        "prior_circles" => c.prior_circles = at(on_off(key, value)?, line),
        "posterior_ellipses" => c.posterior_ellipses = at(on_off(key, value)?, line),
        "classes" => c.classes = at(classes(value)?, line),
        "colour_by" => {
            c.colour_by = at(
                ColourBy {
                    name: value.to_string(),
                    factor: None,
                },
                line,
            )
        }
        "view" => {
            let p = Projection::from_name(value).ok_or_else(|| ValueError::Choice {
                key: key.to_string(),
                value: value.to_string(),
                choices: "pca, tsne, umap",
            })?;
            c.view = at(p, line)
        }
        "open" => c.open = at(PathBuf::from(value), line),
        "subject" => c.subjects = at(super::subject::parse_subjects(value)?, line),
        _ => return Err(ValueError::UnknownKey(key.to_string())),
    }
    Ok(())
}

/// A value set at `line`.
fn at<T>(value: T, line: usize) -> Option<At<T>> {
    Some(At { value, line })
}

/// Is `key` already set in this step?
fn twice(c: &Changes, key: &str) -> bool {
    match key {
        "dataset" => c.dataset.is_some(),
        "models" => c.models.is_some(),
        "latent_dim" => c.latent_dim.is_some(),
        "arch" => c.arch.is_some(),
        "lr" => c.lr.is_some(),
        "seed" => c.seed.is_some(),
        "grid" => c.grid.is_some(),
        "tab" => c.tab.is_some(),
        "presentation" => c.presentation.is_some(),
        "training" => c.training.is_some(),
        "same_axes" => c.same_axes.is_some(),
        "prior_circles" => c.prior_circles.is_some(),
        "posterior_ellipses" => c.posterior_ellipses.is_some(),
        "classes" => c.classes.is_some(),
        "colour_by" => c.colour_by.is_some(),
        "view" => c.view.is_some(),
        "open" => c.open.is_some(),
        "subject" => c.subjects.is_some(),
        _ => false,
    }
}

/// What is wrong with one `key: value` line of a step (or a title too long).
#[derive(Debug, thiserror::Error)]
pub(super) enum ValueError {
    #[error("'{what}' is longer than {most} characters ('{start}')")]
    TooLong {
        what: String,
        most: usize,
        start: String,
    },
    #[error("'{0}' is given twice in this step")]
    Twice(String),
    #[error("{key}: '{value}' is not a number")]
    NotANumber { key: String, value: String },
    #[error("{key}: '{value}' is not a whole number")]
    NotWhole { key: String, value: String },
    #[error("{key} {value} is out of range ({min} to {max})")]
    OutOfRange {
        key: String,
        value: usize,
        min: usize,
        max: usize,
    },
    #[error("{key}: {why}")]
    Knob { key: String, why: String },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Range(#[from] OutOfRange),
    #[error(transparent)]
    Arch(#[from] ArchError),
    #[error("models: '{0}' is listed twice")]
    ModelTwice(ModelKind),
    #[error("{key}: '{value}' is not on or off")]
    NotOnOff { key: String, value: String },
    #[error("training: '{0}' is not run or pause")]
    NotRunPause(String),
    #[error("{key}: '{value}' is not one of {choices}")]
    Choice {
        key: String,
        value: String,
        choices: &'static str,
    },
    #[error("classes: '{0}' has an empty name (write all, or names like 1, 7)")]
    EmptyClass(String),
    #[error(transparent)]
    Subject(#[from] super::subject::SubjectError),
    #[error("unknown key '{0}' (keys: {keys}; knobs: {knobs})", keys = STEP_KEYS.join(", "), knobs = knob_keys())]
    UnknownKey(String),
}

fn knob_keys() -> String {
    let knobs: Vec<&str> = all_knobs().iter().map(|k| k.key).collect();
    knobs.join(", ")
}

fn models(value: &str) -> Result<Vec<ModelKind>, ValueError> {
    let kinds = parse_models(value)?;
    for (i, k) in kinds.iter().enumerate() {
        if kinds[..i].contains(k) {
            return Err(ValueError::ModelTwice(*k));
        }
    }
    Ok(kinds)
}

fn whole(key: &str, value: &str, min: usize, max: usize) -> Result<usize, ValueError> {
    match value.parse::<usize>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        Ok(v) => Err(ValueError::OutOfRange {
            key: key.to_string(),
            value: v,
            min,
            max,
        }),
        Err(_) => Err(ValueError::NotWhole {
            key: key.to_string(),
            value: value.to_string(),
        }),
    }
}

fn on_off(key: &str, value: &str) -> Result<bool, ValueError> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "yes" | "true" => Ok(true),
        "off" | "no" | "false" => Ok(false),
        _ => Err(ValueError::NotOnOff {
            key: key.to_string(),
            value: value.to_string(),
        }),
    }
}

fn run_pause(value: &str) -> Result<bool, ValueError> {
    match value.to_ascii_lowercase().as_str() {
        "run" => Ok(true),
        "pause" => Ok(false),
        _ => Err(ValueError::NotRunPause(value.to_string())),
    }
}

fn classes(value: &str) -> Result<Classes, ValueError> {
    if value.eq_ignore_ascii_case("all") {
        return Ok(Classes::All);
    }
    let names: Vec<String> = value.split(',').map(|n| n.trim().to_string()).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(ValueError::EmptyClass(value.to_string()));
    }
    Ok(Classes::Only {
        names,
        hidden: Default::default(),
    })
}
