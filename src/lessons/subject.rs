//! What a lesson step asks the class to look at: its *subjects*, one table of names. A step
//! declares them (`subject: sliders, slider images`); the window records where it drew
//! each one, and the fit check (`latentlab lessons --check`, the lessons' window test)
//! fails a step whose subject is not wholly on screen.

/// Something the user must do before a subject exists on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Nothing: the tab draws it as soon as the models are built.
    Nothing,
    /// A pinned test item (the step says "click a dot").
    PinnedItem,
    /// A drawn item (the step says "start from a test item" or "draw").
    DrawnItem,
}

/// One subject: its name in lesson files, the tab it lives on, what it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SubjectSpec {
    /// The name a lesson file uses.
    pub name: &'static str,
    /// The tab that shows it (`None`: every tab, such as the loss plots).
    pub tab: Option<&'static str>,
    /// What must exist first (the fit check sets it up as a student would).
    pub needs: Needs,
    /// The least width and height (points) each of its rectangles must have to read from
    /// the back of a room in presentation mode (0: any size); normal mode asks 70% of it.
    pub min_side: f32,
    /// One line for the lessons README and messages.
    pub what: &'static str,
}

/// Every subject a step can name.
pub const SUBJECTS: &[SubjectSpec] = &[
    SubjectSpec {
        name: "latent plots",
        tab: Some("Latent space"),
        min_side: 140.0,
        needs: Needs::Nothing,
        what: "every shown model's latent scatter, whole (axes, prior circles, probe)",
    },
    SubjectSpec {
        name: "probe images",
        tab: Some("Latent space"),
        min_side: 48.0,
        needs: Needs::Nothing,
        what: "the decoding of the probe beside each latent scatter",
    },
    SubjectSpec {
        name: "pinned item",
        tab: Some("Latent space"),
        min_side: 0.0,
        needs: Needs::PinnedItem,
        what: "a pinned dot's input and each model's decoding of it",
    },
    SubjectSpec {
        name: "grid",
        tab: Some("Latent grid"),
        min_side: 180.0,
        needs: Needs::Nothing,
        what: "each model's decoded latent grid",
    },
    SubjectSpec {
        name: "sliders",
        tab: Some("Sliders"),
        min_side: 0.0,
        needs: Needs::Nothing,
        what: "one slider per code dimension and Sample from the prior",
    },
    SubjectSpec {
        name: "slider images",
        tab: Some("Sliders"),
        min_side: 64.0,
        needs: Needs::Nothing,
        what: "each model's decoding of the sliders' code",
    },
    SubjectSpec {
        name: "reconstruction rows",
        tab: Some("Reconstructions"),
        min_side: 0.0,
        needs: Needs::Nothing,
        what: "the inputs and every shown model's row of reconstructions",
    },
    SubjectSpec {
        name: "samples",
        tab: Some("Samples"),
        min_side: 150.0,
        needs: Needs::Nothing,
        what: "every shown model's samples from the prior",
    },
    SubjectSpec {
        name: "interpolation rows",
        tab: Some("Interpolation"),
        min_side: 0.0,
        needs: Needs::Nothing,
        what: "every shown model's row of decoded points between the two ends",
    },
    SubjectSpec {
        name: "kl bars",
        tab: Some("KL per dimension"),
        min_side: 100.0,
        needs: Needs::Nothing,
        what: "every shown model's bars of KL per code dimension",
    },
    SubjectSpec {
        name: "traversals",
        tab: Some("Traversals"),
        min_side: 100.0,
        needs: Needs::Nothing,
        what: "every shown model's three most used traversal rows",
    },
    SubjectSpec {
        name: "canvas",
        tab: Some("Draw & inspect"),
        min_side: 100.0,
        needs: Needs::Nothing,
        what: "the drawing canvas and its buttons",
    },
    SubjectSpec {
        name: "inspector",
        tab: Some("Draw & inspect"),
        min_side: 0.0,
        needs: Needs::DrawnItem,
        what: "each model's table for the drawn item: its numbers, KL bars and ELBO line",
    },
    SubjectSpec {
        name: "lesson list",
        tab: Some("Lessons"),
        min_side: 100.0,
        needs: Needs::Nothing,
        what: "the list of lessons",
    },
    SubjectSpec {
        name: "losses",
        tab: None,
        min_side: 120.0,
        needs: Needs::Nothing,
        what: "the loss plots along the bottom, with their numbers",
    },
];

/// What `latentlab lessons --check` or `--render` asks of a lesson (the window's module
/// carries it out: the command line only parses it).
#[derive(Clone, Debug, PartialEq)]
pub struct FitRequest {
    /// A built-in lesson's name or a lesson file.
    pub lesson: String,
    /// The screen in pixels.
    pub size: (u32, u32),
    /// Render in presentation mode (`--render`; `--check` checks both modes).
    pub presentation: bool,
    /// `--render`: where the PNGs go; `None`: `--check`.
    pub render_to: Option<std::path::PathBuf>,
}

/// The subject called `name` (any case, surrounding spaces ignored).
pub fn subject(name: &str) -> Option<&'static SubjectSpec> {
    let name = name.trim();
    SUBJECTS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Parses a `subject:` value: names separated by commas, each known, none twice.
pub fn parse_subjects(value: &str) -> Result<Vec<&'static str>, SubjectError> {
    let mut out: Vec<&'static str> = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some(spec) = subject(part) else {
            return Err(SubjectError::Unknown(part.to_string()));
        };
        if out.contains(&spec.name) {
            return Err(SubjectError::Twice(spec.name));
        }
        out.push(spec.name);
    }
    if out.is_empty() {
        return Err(SubjectError::None);
    }
    Ok(out)
}

/// What is wrong with a `subject:` value.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SubjectError {
    /// A name that is not in [`SUBJECTS`].
    #[error("subject: unknown subject '{0}' (subjects: {names})", names = subject_names())]
    Unknown(String),
    /// A subject named twice.
    #[error("subject: '{0}' is named twice")]
    Twice(&'static str),
    /// No subject at all.
    #[error("subject: name at least one subject")]
    None,
}

fn subject_names() -> String {
    let names: Vec<&str> = SUBJECTS.iter().map(|s| s.name).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_parse_by_name_in_any_case_and_refuse_unknown_or_repeated_names() {
        assert_eq!(
            parse_subjects("Sliders, slider images").unwrap(),
            ["sliders", "slider images"]
        );
        let e = parse_subjects("sliders, slidrs").unwrap_err().to_string();
        assert!(e.contains("unknown subject 'slidrs'"), "{e}");
        assert!(e.contains("kl bars"), "lists the names: {e}");
        assert!(
            parse_subjects("grid, GRID")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(parse_subjects(" , ").is_err());
    }

    #[test]
    fn the_lessons_readme_documents_every_subject() {
        let readme = include_str!("../../assets/lessons/README.md");
        for s in SUBJECTS {
            assert!(
                readme.contains(&format!("| `{}` |", s.name)),
                "{} undocumented",
                s.name
            );
        }
    }

    #[test]
    fn every_subject_has_a_distinct_lowercase_name() {
        let mut names: Vec<&str> = SUBJECTS.iter().map(|s| s.name).collect();
        assert!(names.iter().all(|n| *n == n.to_lowercase()));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SUBJECTS.len());
    }
}
