use super::*;
use crate::data::BUILTIN_NAMES;
use crate::model::ModelKind;

/// A lesson with the front matter filled in, then `body`.
fn lesson(body: &str) -> String {
    format!("---\nname: t\ntitle: T\n---\n{body}")
}

fn err(text: &str) -> (usize, String) {
    match Lesson::parse("t.md", text) {
        Err(LessonError::At {
            file,
            line,
            problem,
        }) => {
            assert_eq!(file, "t.md");
            (line, problem)
        }
        other => panic!("expected an error at a line, got {other:?}"),
    }
}

#[test]
fn every_builtin_lesson_parses_and_uses_only_builtin_data() {
    let list = builtin().expect("the built-in lessons parse");
    assert!(list.len() >= 5, "{} lessons", list.len());
    for (l, (file, _)) in list.iter().zip(BUILTIN) {
        assert_eq!(format!("{}.md", l.name), *file, "name is the file's stem");
        assert!(l.steps.len() >= 3, "{}: {} steps", l.name, l.steps.len());
        assert!(!l.about.is_empty(), "{}: no about", l.name);
        for (i, step) in l.steps.iter().enumerate() {
            let setup = l.setup(i);
            let data = setup.known_dataset().unwrap();
            assert!(BUILTIN_NAMES.contains(&data.as_str()), "{}: {data}", l.name);
            assert!(
                setup.open.is_none(),
                "built-in lessons work offline, without runs"
            );
            assert!(step.text.chars().count() <= MAX_STEP_CHARS);
            // Every knob a step sets belongs to one of its models (the check's own rule,
            // here applied to the folded setup).
            let models = setup.known_models().unwrap();
            for key in step.changes.knobs.keys() {
                assert!(
                    models.iter().any(|m| m.knob(key).is_some()),
                    "{}: {key}",
                    l.name
                );
            }
        }
        // The first step sets the models up itself, whatever the app had before.
        let first = &l.steps[0].changes;
        assert!(first.dataset.is_some() && first.models.is_some() && first.tab.is_some());
    }
    let names: Vec<&str> = list.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ae-vs-vae",
            "prior-samples",
            "elbo",
            "denoising-contractive",
            "interpolation",
            "posterior-collapse",
            "beta-disentanglement",
            "beyond-the-vae"
        ]
    );
}

#[test]
fn malformed_lessons_say_which_line_and_what_is_wrong() {
    // (text, line, words the message must contain)
    let cases: Vec<(String, usize, &str)> = vec![
        ("".into(), 1, "empty"),
        ("name: x\n".into(), 1, "front matter"),
        ("---\nname: x\ntitle: T\n".into(), 3, "never ends"),
        ("---\ntitle: T\n---\n## S\n\ntext\n".into(), 3, "no 'name:'"),
        ("---\nname: x\nname: y\n".into(), 3, "twice"),
        (
            "---\nname: Big Name\ntitle: T\n---\n".into(),
            2,
            "lowercase",
        ),
        (
            "---\nname: x\ntitle: T\nauthor: me\n---\n".into(),
            4,
            "unknown front matter key",
        ),
        (lesson(""), 4, "no steps"),
        (lesson("\nSome words.\n"), 6, "text outside a step"),
        (lesson("# Title\n"), 5, "only '## '"),
        (lesson("## \n\ntext\n"), 5, "needs a title"),
        (lesson("## S\nmodels: ae\n"), 5, "has no text"),
        (lesson("## S\nPress Train.\n"), 6, "expected 'key: value'"),
        (
            lesson("## S\nmodles: ae\n\ntext\n"),
            6,
            "unknown key 'modles'",
        ),
        (lesson("## S\nmodels:\n\ntext\n"), 6, "has no value"),
        (
            lesson("## S\nmodels: ae, gan\n\ntext\n"),
            6,
            "unknown model 'gan'",
        ),
        (lesson("## S\nmodels: ae, ae\n\ntext\n"), 6, "listed twice"),
        (
            lesson("## S\ndataset: cifar\n\ntext\n"),
            6,
            "unknown data set 'cifar'",
        ),
        (
            lesson("## S\nlatent_dim: 0\n\ntext\n"),
            6,
            "out of range (1 to 64)",
        ),
        (
            lesson("## S\nlatent_dim: two\n\ntext\n"),
            6,
            "not a whole number",
        ),
        (lesson("## S\narch: cnn\n\ntext\n"), 6, "cnn"),
        (
            lesson("## S\nlr: 50\n\ntext\n"),
            6,
            "learning rate 50 is out of range",
        ),
        (
            lesson("## S\ngrid: 99\n\ntext\n"),
            6,
            "grid 99 is out of range",
        ),
        (
            lesson("## S\nsame_axes: maybe\n\ntext\n"),
            6,
            "not on or off",
        ),
        (
            lesson("## S\ntraining: go\n\ntext\n"),
            6,
            "not run or pause",
        ),
        (lesson("## S\ntab: x\ntab: y\n\ntext\n"), 7, "given twice"),
        (
            lesson("## S\nmodels: beta-vae\nbeta: lots\n\ntext\n"),
            7,
            "not a number",
        ),
        (
            lesson("## S\nmodels: beta-vae\nbeta: -1\n\ntext\n"),
            7,
            "out of range",
        ),
        (
            lesson("## S\nmodels: dae\nnoise_kind: salt\n\ntext\n"),
            7,
            "not one of",
        ),
        (
            lesson("## S\nmodels: ae, vae\nbeta: 2\n\ntext\n"),
            7,
            "no model of this step",
        ),
        (
            lesson("## S\nmodels: ae\nposterior_ellipses: on\n\ntext\n"),
            7,
            "VAE kinds only",
        ),
        (
            lesson("## S\nclasses: 4, eleven\n\ntext\n"),
            6,
            "no class 'eleven'",
        ),
        (
            lesson("## S\ndataset: csv:a.csv\nclasses: 1\n\ntext\n"),
            7,
            "known only once",
        ),
        (
            lesson("## S\nopen: runs/a\nmodels: ae\n\ntext\n"),
            7,
            "brings its own",
        ),
        (
            lesson("## A\n\nok\n\n## B\n\nthis is **bold\n"),
            9,
            "unclosed '**'",
        ),
        (
            lesson(&format!("## S\n\n{}\n", "word ".repeat(200))),
            5,
            "on a projector",
        ),
    ];
    for (text, line, words) in cases {
        let (got_line, problem) = err(&text);
        assert!(
            got_line == line && problem.contains(words),
            "for {text:?}: expected line {line} with '{words}', got line {got_line}: {problem}"
        );
    }
}

#[test]
fn the_message_starts_with_file_and_line() {
    let e = Lesson::parse("lessons/x.md", &lesson("## S\nbeta: 2\n\ntext\n")).unwrap_err();
    // The default models are ae and vae: neither has β.
    assert!(
        e.to_string().starts_with("lessons/x.md:6: beta: no model"),
        "{e}"
    );
}

#[test]
fn a_step_keeps_what_earlier_steps_set_and_back_gives_the_same_setup() {
    let text = lesson(
        "## One\ndataset: moons\nmodels: vae, beta-vae\nbeta: 2\ntab: Samples\n\na\n\n\
         ## Two\nbeta: 8\nsame_axes: on\n\nb\n\n\
         ## Three\nlatent_dim: 3\nclasses: upper moon\n\nc\n\n\
         ## Four\ndataset: digits\n\nd\n",
    );
    let l = Lesson::parse("t.md", &text).unwrap();
    let spec = |i: usize| l.setup(i).run_spec(&RunSpec::default());
    assert_eq!(spec(0).dataset, "moons");
    assert_eq!(spec(0).knob("beta"), Some(KnobValue::Number(2.0)));
    assert_eq!(spec(1).knob("beta"), Some(KnobValue::Number(8.0)));
    assert_eq!(spec(2).models, vec![ModelKind::Vae, ModelKind::BetaVae]);
    assert_eq!(spec(2).latent_dim, 3);
    assert_eq!(spec(1).latent_dim, RunSpec::default().latent_dim);
    assert_eq!(
        l.setup(2).tab.as_deref(),
        Some("Samples"),
        "kept from step one"
    );
    assert!(l.setup(2).highlight.same_axes && !l.setup(0).highlight.same_axes);
    // moons: upper moon (0), lower moon (1); showing only the upper hides class 1.
    assert_eq!(l.setup(2).highlight.hidden_classes, BTreeSet::from([1]));
    // Other data, other classes: all shown again.
    assert!(l.setup(3).highlight.hidden_classes.is_empty());
    // Going back is the same as getting there.
    assert_eq!(l.setup(1), l.setup(1));
    let there = l.setup(1);
    let _ = l.setup(3);
    assert_eq!(l.setup(1), there);
    // Past the end: the last step.
    assert_eq!(l.setup(99), l.setup(3));
}

#[test]
fn classes_become_the_indices_to_hide() {
    let l = Lesson::parse("t.md", &lesson("## S\nclasses: 4, 9\n\ntext\n")).unwrap();
    assert_eq!(
        l.setup(0).highlight.hidden_classes,
        BTreeSet::from([0, 1, 2, 3, 5, 6, 7, 8])
    );
}

#[test]
fn colour_by_names_a_factor_of_the_data_set_in_force() {
    let text = lesson(
        "## Sprites\ndataset: sprites\ncolour_by: x\n\na\n\n\
         ## Same\nbeta: 2\nmodels: beta-vae\n\nb\n\n\
         ## By class\ncolour_by: Class\n\nc\n\n\
         ## New data\ncolour_by: scale\n\nd\n\n## Other data\ndataset: colour-sprites\n\ne\n",
    );
    let l = Lesson::parse("t.md", &text).unwrap();
    let by = |i: usize| l.setup(i).highlight.colour_by;
    // sprites' factors: shape, scale, orientation, x, y. It stays until a step changes it,
    // and new data goes back to the classes.
    assert_eq!(
        (by(0), by(1), by(2), by(3), by(4)),
        (Some(3), Some(3), None, Some(1), None)
    );
    // Not a factor of the set: the line says which there are.
    let (line, e) = err(&lesson(
        "## S\ndataset: sprites\ncolour_by: colour\n\ntext\n",
    ));
    assert_eq!(line, 7, "{e}");
    assert!(
        e.contains("no factor 'colour' (choose class, shape, scale, orientation, x, y)"),
        "{e}"
    );
    let (_, e) = err(&lesson("## S\ndataset: digits\ncolour_by: x\n\ntext\n"));
    assert!(e.contains("'digits' has no factors"), "{e}");
}

#[test]
fn view_picks_the_latent_plots_projection_and_stays() {
    use crate::explore::projection::Projection;
    let text =
        lesson("## A\nview: t-SNE\n\na\n\n## B\ntab: Sliders\n\nb\n\n## C\nview: pca\n\nc\n");
    let l = Lesson::parse("t.md", &text).unwrap();
    let view = |i: usize| l.setup(i).highlight.view;
    assert_eq!(
        (view(0), view(1), view(2)),
        (
            Some(Projection::Tsne),
            Some(Projection::Tsne),
            Some(Projection::Pca)
        )
    );
    let (line, e) = err(&lesson("## S\nview: isomap\n\ntext\n"));
    assert_eq!(
        (line, e.as_str()),
        (6, "view: 'isomap' is not one of pca, tsne, umap")
    );
}

#[test]
fn a_saved_run_makes_later_steps_change_the_run_in_place() {
    let text = lesson(
        "## Before\nmodels: vae, beta-vae\nlatent_dim: 4\n\na\n\n\
         ## Open\nopen: runs/class\n\nb\n\n## After\nbeta: 9\n\nc\n",
    );
    let l = Lesson::parse("t.md", &text).unwrap();
    assert_eq!(l.setup(1).open, Some(PathBuf::from("runs/class")));
    assert_eq!(
        l.setup(2).open,
        None,
        "only the step that names it opens it"
    );
    let current = RunSpec {
        dataset: "shapes".into(),
        latent_dim: 6,
        ..RunSpec::default()
    };
    // Before the run: the lesson's own settings.
    assert_eq!(l.setup(0).run_spec(&current).latent_dim, 4);
    // After: the run as it is, with the later changes on top.
    let after = l.setup(2).run_spec(&current);
    assert_eq!((after.dataset.as_str(), after.latent_dim), ("shapes", 6));
    assert_eq!(after.knob("beta"), Some(KnobValue::Number(9.0)));
    assert_eq!(l.setup(2).known_models(), None);
}

#[test]
fn lessons_are_found_by_name_then_by_path() {
    assert_eq!(find("elbo").unwrap().name, "elbo");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("run")).unwrap();
    let file = dir.path().join("mine.md");
    std::fs::write(&file, lesson("## S\nopen: run\n\ntext\n")).unwrap();
    let mine = find(file.to_str().unwrap()).unwrap();
    assert_eq!(
        mine.steps[0].changes.open.as_ref().unwrap().value,
        dir.path().join("run")
    );
    // A run folder that is not there: the line says so.
    std::fs::write(&file, lesson("## S\nopen: gone\n\ntext\n")).unwrap();
    let e = find(file.to_str().unwrap()).unwrap_err().to_string();
    assert!(e.contains("mine.md:6: open: there is no saved run"), "{e}");
    let e = find("no-such-lesson").unwrap_err().to_string();
    assert!(
        e.contains("not a built-in lesson (ae-vs-vae, prior-samples"),
        "{e}"
    );
}

#[test]
fn tabs_are_checked_against_the_window_and_spelt_as_it_does() {
    let mut l = Lesson::parse("t.md", &lesson("## S\ntab: latent SPACE\n\ntext\n")).unwrap();
    l.check_tabs(&["Latent space", "Samples"]).unwrap();
    assert_eq!(l.setup(0).tab.as_deref(), Some("Latent space"));
    let mut l = Lesson::parse(
        "t.md",
        &lesson("## S\n\ntext\n\n## T\ntab: Histogram\n\nx\n"),
    )
    .unwrap();
    let e = l
        .check_tabs(&["Latent space", "Samples"])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "t.md:10: no tab 'Histogram' (tabs: Latent space, Samples)"
    );
}

#[test]
fn text_keeps_paragraphs_and_windows_line_ends() {
    let text = lesson("## S\r\ntab: Samples\r\n\r\nDo: one\r\nline.\r\n\r\nNotice: two.\r\n");
    let l = Lesson::parse("t.md", &text).unwrap();
    assert_eq!(l.steps[0].text, "Do: one line.\n\nNotice: two.");
    assert_eq!(l.steps[0].changes.tab.as_ref().unwrap().line, 6);
}

#[test]
fn sizes_are_capped_before_the_work() {
    // Steps: the one past the cap is refused, at its heading.
    let steps = |n: usize| lesson(&"## S\n\nText.\n\n".repeat(n));
    let ok = Lesson::parse("t.md", &steps(MAX_STEPS)).unwrap();
    assert_eq!(ok.steps.len(), MAX_STEPS);
    let (line, p) = err(&steps(20_000));
    assert!(p.contains(&format!("more than {MAX_STEPS} steps")), "{p}");
    assert_eq!(line, 5 + 4 * MAX_STEPS);
    // A title of 8 MB: refused for the file's size, with a short message; a title of 300
    // characters for its own length.
    for (chars, expected) in [
        (8 << 20, "a lesson is at most 1048576"),
        (300, "'title' is longer than 200 characters"),
    ] {
        let text = format!(
            "---\nname: t\ntitle: {}\n---\n## S\n\nText.\n",
            "x".repeat(chars)
        );
        match Lesson::parse("t.md", &text) {
            Err(e) => {
                let m = e.to_string();
                assert!(m.contains(expected), "{m:.300}");
                assert!(m.len() < 400, "the message is short: {} bytes", m.len());
            }
            Ok(_) => panic!("a title of {chars} characters was accepted"),
        }
    }
    let (_, p) = err(&lesson(&format!("## {}\n\nText.\n", "y".repeat(300))));
    assert!(p.contains("'a step heading' is longer than 200"), "{p}");
    // A file too large is not read.
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.md");
    std::fs::write(&big, steps(1) + &" ".repeat(2 << 20)).unwrap();
    let e = Lesson::from_file(&big).unwrap_err().to_string();
    assert!(e.contains("a lesson is at most 1048576"), "{e}");
    let fifo_like = tmp.path().join("folder.md");
    std::fs::create_dir(&fifo_like).unwrap();
    let e = Lesson::from_file(&fifo_like).unwrap_err().to_string();
    assert!(e.contains("it is not a file"), "{e}");
}

#[test]
fn the_check_sees_each_step_as_setup_does() {
    let l = builtin().unwrap().into_iter().next().unwrap();
    let mut fold = Fold::default();
    for (i, step) in l.steps.iter().enumerate() {
        fold.add(step);
        assert_eq!(fold.setup(Some(step)), l.setup(i), "step {i}");
    }
}

#[test]
fn a_step_chooses_the_network_and_later_steps_keep_it() {
    let text = lesson(
        "## One\ndataset: sprites\narch: conv\n\na\n\n## Two\nlatent_dim: 4\n\nb\n\n\
         ## Three\narch: mlp\n\nc\n",
    );
    let l = Lesson::parse("t.md", &text).unwrap();
    let spec = |i: usize| l.setup(i).run_spec(&RunSpec::default());
    assert_eq!(RunSpec::default().arch, crate::model::Arch::Mlp);
    assert_eq!(spec(0).arch, crate::model::Arch::Conv);
    assert_eq!(spec(1).arch, crate::model::Arch::Conv, "kept from step one");
    assert_eq!(spec(2).arch, crate::model::Arch::Mlp);
}
