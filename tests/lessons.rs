//! Lessons as a teacher uses them: `latentlab lessons` lists them, `latentlab --lesson`
//! refuses a malformed file before any window opens, every built-in lesson names real tabs,
//! and in the window Next / Back set each step up.

use egui_kittest::kittest::Queryable;
use latentlab::app::{LatentLabApp, load_lesson, tab_titles};
use latentlab::model::{KnobValue, ModelKind};
use std::path::Path;

mod common;
mod ui;
use common::latentlab;
use ui::{harness, small_settings, steps, wait_for};

/// (name, title) from each file's front matter, read by hand.
fn lesson_files() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/lessons");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") || path.ends_with("README.md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap_or_else(|| panic!("{}: no {k}", path.display()))
                .trim()
                .to_string()
        };
        out.push((field("name:"), field("title:")));
    }
    out.sort();
    out
}

#[test]
fn latentlab_lessons_lists_every_lesson_file_as_name_tab_title() {
    let o = latentlab(&["lessons"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    let mut listed: Vec<(String, String)> = stdout
        .lines()
        .map(|l| {
            let (name, title) = l.split_once('\t').expect("NAME<TAB>TITLE");
            (name.to_string(), title.to_string())
        })
        .collect();
    assert_eq!(
        stdout.lines().next().unwrap().split('\t').next(),
        Some("ae-vs-vae")
    );
    listed.sort();
    let files = lesson_files();
    assert_eq!(files.len(), 8, "eight lessons in assets/lessons");
    assert_eq!(listed, files);
}

#[test]
fn every_builtin_lesson_names_tabs_the_window_has() {
    let titles = tab_titles();
    for (name, _) in lesson_files() {
        let lesson = load_lesson(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let used: Vec<String> = (0..lesson.steps.len())
            .filter_map(|i| lesson.setup(i).tab)
            .collect();
        assert!(!used.is_empty(), "{name} shows no tab");
        for t in used {
            assert!(titles.contains(&t.as_str()), "{name}: tab {t}");
        }
    }
}

#[test]
fn a_malformed_lesson_stops_before_the_window_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.md");
    std::fs::write(
        &bad,
        "---\nname: bad\ntitle: Bad\n---\n\n## One\nmodels: ae, gan\n\nPress Train.\n",
    )
    .unwrap();
    // No display is needed: the lesson is refused before a window is tried.
    let o = latentlab(&["--lesson", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("bad.md:7: unknown model 'gan'"),
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("window"), "no window was tried: {stderr}");

    std::fs::write(
        &bad,
        "---\nname: bad\ntitle: Bad\n---\n\n## One\ntab: Histogram\n\nx\n",
    )
    .unwrap();
    let o = latentlab(&["--lesson", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("bad.md:7: no tab 'Histogram'"),
        "stderr: {stderr}"
    );

    let o = latentlab(&["--lesson", "no-such-lesson"]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("not a built-in lesson"), "stderr: {stderr}");
}

#[test]
fn every_lesson_text_has_glyphs_in_the_window_fonts() {
    let mut h = harness(small_settings(), false);
    h.run_steps(1);
    let font = egui::FontId::proportional(16.0);
    for (name, _) in lesson_files() {
        let lesson = load_lesson(&name).unwrap();
        let mut texts = vec![lesson.title.clone(), lesson.about.clone()];
        for s in &lesson.steps {
            texts.push(s.title.clone());
            texts.push(s.text.clone());
        }
        for text in texts {
            let missing: String = text
                .chars()
                .filter(|&c| !c.is_whitespace() && !h.ctx.fonts_mut(|f| f.has_glyph(&font, c)))
                .collect();
            assert!(
                missing.is_empty(),
                "{name}: no glyph for {missing:?} in {text:?}"
            );
        }
    }
}

fn tab(app: &LatentLabApp) -> &'static str {
    app.views[app.tab].title()
}

fn beta_of_running_model(app: &LatentLabApp) -> Option<f32> {
    let snap = app.session.snapshot.as_ref()?;
    let m = snap.models.iter().find(|m| m.kind == ModelKind::BetaVae)?;
    Some(m.config.number("beta"))
}

#[test]
fn a_lesson_started_from_its_tab_sets_each_step_up_on_next_and_back() {
    let mut h = harness(small_settings(), false);
    wait_for(&mut h, "models", |a| a.session.snapshot.is_some());
    h.get_by_label("Lessons").click();
    h.run_steps(2);
    // The third lesson is the ELBO one.
    let starts: Vec<_> = h.get_all_by_label("Start").collect();
    assert_eq!(starts.len(), 8);
    starts[2].click();
    h.run_steps(1);
    let lesson = h.state().lesson.as_ref().expect("a lesson runs");
    assert_eq!((lesson.lesson.name.as_str(), lesson.step), ("elbo", 0));
    // Step 1: a VAE and a β-VAE with 8 dimensions, β = 4, reconstructions, training.
    wait_for(&mut h, "the lesson's models", |a| {
        a.session.snapshot.as_ref().is_some_and(|s| {
            s.models.iter().map(|m| m.kind).collect::<Vec<_>>()
                == [ModelKind::Vae, ModelKind::BetaVae]
                && s.models.iter().all(|m| m.latent_dim == 8)
        })
    });
    assert_eq!(tab(h.state()), "Reconstructions");
    assert_eq!(beta_of_running_model(h.state()), Some(4.0));
    assert!(
        h.query_by_label_contains("step 1 of 5").is_some(),
        "the banner"
    );
    wait_for(&mut h, "training", |a| steps(a) > 0);

    h.get_by_label("Next").click();
    h.run_steps(2);
    assert_eq!(tab(h.state()), "Draw & inspect");
    h.key_press(egui::Key::PageDown);
    h.run_steps(2);
    assert_eq!(tab(h.state()), "KL per dimension");

    // Step 4: β = 10 reaches the running model without new models.
    let before = steps(h.state());
    h.key_press(egui::Key::PageDown);
    h.run_steps(1);
    assert_eq!(h.state().lesson.as_ref().unwrap().step, 3);
    wait_for(&mut h, "β = 10 on the running model", |a| {
        beta_of_running_model(a) == Some(10.0)
    });
    assert!(steps(h.state()) >= before, "the same models kept training");
    h.run_steps(5);
    let beta = h.state().settings.run.knob("beta");
    assert_eq!(
        beta,
        Some(KnobValue::Number(10.0)),
        "the side panel did not undo it"
    );

    // Back: step 3 as it was, β = 4 again.
    h.key_press_modifiers(egui::Modifiers::ALT, egui::Key::ArrowLeft);
    h.run_steps(1);
    assert_eq!(h.state().lesson.as_ref().unwrap().step, 2);
    wait_for(&mut h, "β = 4 again", |a| {
        beta_of_running_model(a) == Some(4.0)
    });
    assert_eq!(tab(h.state()), "KL per dimension");

    // The banner stays in presentation mode, where the side panel goes.
    h.key_press(egui::Key::F5);
    h.run_steps(2);
    assert!(h.state().presentation.on);
    assert!(
        h.query_by_label_contains("step 3 of 5").is_some(),
        "the banner"
    );
    h.key_press(egui::Key::F5);
    h.run_steps(2);

    h.get_by_label("End lesson").click();
    h.run_steps(2);
    assert!(h.state().lesson.is_none());
    assert!(
        h.query_by_label_contains("step 3 of 5").is_none(),
        "the banner is gone"
    );
}

/// A teacher's file, checked before class: a step that fits says so, a step without a
/// subject is warned about, and a screen too small for a subject fails with its name.
#[test]
fn lessons_check_reports_each_step_and_fails_when_a_subject_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.md");
    std::fs::write(
        &file,
        "---\nname: mine\ntitle: Mine\n---\n\
         ## Sliders\ndataset: moons\nmodels: ae, vae\ntab: Sliders\nsubject: sliders, slider images\n\nMove one.\n\n\
         ## Nothing named\ntab: Samples\n\nLook.\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let o = latentlab(&["lessons", "--check", path]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", common::stderr(&o));
    assert!(
        out.contains("1280x720 normal: step 1 'Sliders': fits"),
        "{out}"
    );
    assert!(
        out.contains("1280x720 presentation: step 1 'Sliders': fits"),
        "{out}"
    );
    assert!(
        common::stderr(&o).contains("step 2 'Nothing named' declares no subject"),
        "{}",
        common::stderr(&o)
    );
    // On a screen far too small the sliders' image cannot be whole.
    let o = latentlab(&["lessons", "--check", path, "--size", "400x320"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("step 1 'Sliders': '"), "{out}");
    assert!(
        common::stderr(&o).contains("do not show their subject at 400x320"),
        "{}",
        common::stderr(&o)
    );
}
