//! A running lesson: the banner above the tabs (step text, Back / Next, the step number),
//! its keys (PageDown / PageUp, Alt+Right / Alt+Left, which presenters' clickers send), and the
//! actions that set the app up for a step. The lessons themselves (files, parsing,
//! checks, the folding of steps) are in [`crate::lessons`].

use super::actions::Action;
use super::settings::Settings;
use super::{LatentLabApp, knobs, theme};
use crate::lessons::{self, Lesson, LessonError, Setup};
use egui::{Key, Modifiers, RichText, Ui};

/// The lesson being taught and where it is.
#[derive(Clone, Debug)]
pub struct LessonRun {
    /// The lesson, its tabs checked against the window's.
    pub lesson: Lesson,
    /// Index of the step shown.
    pub step: usize,
}

impl LessonRun {
    /// The subjects the step shown declares (none if it declares none).
    pub fn subjects(&self) -> &[&'static str] {
        self.lesson
            .steps
            .get(self.step)
            .and_then(|s| s.changes.subjects.as_ref())
            .map_or(&[], |a| a.value.as_slice())
    }
}

/// The titles of the window's tabs, in order.
pub fn tab_titles() -> Vec<&'static str> {
    super::tabs().iter().map(|v| v.title()).collect()
}

/// A lesson by built-in name first, then as a file, checked against the window's tabs
/// (`latentlab --lesson NAME|FILE` calls it before any window opens).
pub fn load_lesson(name_or_path: &str) -> Result<Lesson, LessonError> {
    let mut lesson = lessons::find(name_or_path)?;
    lesson.check_tabs(&tab_titles())?;
    Ok(lesson)
}

impl LatentLabApp {
    /// Starts `lesson` at its first step, or says why it cannot run here.
    pub(super) fn start_lesson(&mut self, mut lesson: Lesson) {
        if let Err(e) = lesson.check_tabs(&self.tab_titles()) {
            self.session.error(e.to_string());
            return;
        }
        self.lesson = Some(LessonRun { lesson, step: 0 });
        self.presentation.lesson_models = true;
        self.lesson_step(0);
    }

    /// Reads a lesson file (or a class bundle) and starts it; a malformed one says where
    /// and why.
    pub(super) fn open_lesson_file(&mut self, path: &std::path::Path) {
        match lessons::open_file(path) {
            Ok(lesson) => self.start_lesson(lesson),
            Err(e) => self.session.error(e.to_string()),
        }
    }

    /// Shows step `i` (clamped) of the running lesson and sets the app up for it.
    pub(super) fn lesson_step(&mut self, i: usize) {
        let Some(run) = &mut self.lesson else {
            return;
        };
        run.step = i.min(run.lesson.steps.len().saturating_sub(1));
        let setup = run.lesson.setup(run.step);
        for action in self.setup_actions(&setup) {
            self.apply(action);
        }
        // The side panel shows what the lesson set, and does not send its old values back.
        self.controls.draft = self.settings.clone();
    }

    /// The actions that bring the app to `setup`: new models only when the models, data,
    /// code size or seed differ; the learning rate and live knobs change in place.
    pub(super) fn setup_actions(&self, setup: &Setup) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(path) = &setup.open {
            out.push(Action::LessonOpenRun(path.clone()));
        }
        let run = setup.run_spec(&self.settings.run);
        let grid_k = setup.grid.unwrap_or(self.settings.grid_k);
        if self.settings.run.needs_new_models(&run) {
            out.push(Action::ApplySettings(Box::new(Settings { run, grid_k })));
        } else {
            out.extend(knobs::live_changes(&self.settings.run, &run));
            if grid_k != self.settings.grid_k {
                out.push(Action::SetGridK(grid_k));
            }
        }
        match setup.training {
            Some(true) => out.push(Action::Train),
            Some(false) => out.push(Action::Pause),
            None => {}
        }
        if let Some(tab) = &setup.tab {
            out.push(Action::SelectTab(tab.clone()));
        }
        if let Some(on) = setup.presentation {
            out.push(Action::Present(on));
        }
        out.push(Action::Highlight(Box::new(setup.highlight.clone())));
        out
    }

    /// Shows the tab called `title` (any case); says so if there is none.
    pub(super) fn select_tab(&mut self, title: &str) {
        match self
            .views
            .iter()
            .position(|v| v.title().eq_ignore_ascii_case(title))
        {
            Some(i) => self.tab = i,
            None => self.session.notice(format!("there is no tab '{title}'")),
        }
    }

    /// Next / Back from the keyboard or a presenter's clicker while a lesson runs.
    pub(super) fn lesson_keys(&self, ui: &Ui) -> Option<Action> {
        let run = self.lesson.as_ref()?;
        let pressed = |mods: Modifiers, key: Key| ui.input_mut(|i| i.consume_key(mods, key));
        let next =
            pressed(Modifiers::NONE, Key::PageDown) | pressed(Modifiers::ALT, Key::ArrowRight);
        let back = pressed(Modifiers::NONE, Key::PageUp) | pressed(Modifiers::ALT, Key::ArrowLeft);
        let last = run.lesson.steps.len().saturating_sub(1);
        if next && run.step < last {
            Some(Action::LessonStep(run.step + 1))
        } else if back && run.step > 0 {
            Some(Action::LessonStep(run.step - 1))
        } else {
            None
        }
    }

    /// The banner of the running lesson, above the tabs (in presentation mode too).
    pub(super) fn lesson_banner(&self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let Some(run) = &self.lesson else {
            return;
        };
        egui::Panel::top("lesson").show(ui, |ui| {
            egui::Frame::new()
                .stroke(egui::Stroke::new(2.0, theme::LESSON))
                .inner_margin(8.0)
                .corner_radius(4.0)
                .show(ui, |ui| actions.extend(banner_ui(ui, run)));
        });
    }
}

/// Title row with the buttons, then the step's text: its paragraphs side by side where
/// the window is wide, so the banner leaves the plots their height.
fn banner_ui(ui: &mut Ui, run: &LessonRun) -> Option<Action> {
    let Some(step) = run.lesson.steps.get(run.step) else {
        return Some(Action::EndLesson);
    };
    let n = run.lesson.steps.len();
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("step {} of {n}", run.step + 1)).strong());
        ui.label(RichText::new(&step.title).size(18.0).strong());
        // The buttons keep their place at the right; the lesson's title takes what is
        // left (whole on hover). No tooltips here: they would cover the text.
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("End lesson").clicked() {
                action = Some(Action::EndLesson);
            }
            let next = egui::Button::new(RichText::new("Next").strong());
            if ui.add_enabled(run.step + 1 < n, next).clicked() {
                action = Some(Action::LessonStep(run.step + 1));
            }
            if ui
                .add_enabled(run.step > 0, egui::Button::new("Back"))
                .clicked()
            {
                action = Some(Action::LessonStep(run.step - 1));
            }
            let title = RichText::new(&run.lesson.title).color(theme::LESSON);
            ui.add(egui::Label::new(title).truncate());
        });
    });
    let paragraphs: Vec<&str> = step.text.split("\n\n").collect();
    let side_by_side =
        paragraphs.len() > 1 && ui.available_width() >= 300.0 * paragraphs.len() as f32;
    if side_by_side {
        ui.columns(paragraphs.len(), |cols| {
            for (ui, p) in cols.iter_mut().zip(&paragraphs) {
                paragraph_ui(ui, p);
            }
        });
    } else {
        for p in paragraphs {
            paragraph_ui(ui, p);
        }
    }
    action
}

/// One paragraph: `**bold**` spans strong, a leading "Do:" or "Notice:" in colour.
fn paragraph_ui(ui: &mut Ui, paragraph: &str) {
    let size = 16.0;
    let mut job = egui::text::LayoutJob::default();
    let style = ui.style().clone();
    let mut rest = paragraph;
    for lead in ["Do:", "Notice:", "Why:"] {
        if let Some(r) = paragraph.strip_prefix(lead) {
            RichText::new(lead)
                .size(size)
                .strong()
                .color(theme::LESSON)
                .append_to(
                    &mut job,
                    &style,
                    egui::FontSelection::Default,
                    egui::Align::Center,
                );
            rest = r;
        }
    }
    for (i, part) in rest.split("**").enumerate() {
        let mut text = RichText::new(part).size(size);
        if i % 2 == 1 {
            text = text.strong();
        }
        text.append_to(
            &mut job,
            &style,
            egui::FontSelection::Default,
            egui::Align::Center,
        );
    }
    job.wrap.max_width = ui.available_width();
    ui.label(job);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::latent::LatentPanel;
    use crate::app::view::View;
    use crate::data::Sizes;
    use crate::lessons::Highlight;
    use crate::model::{KnobValue, ModelKind};

    #[test]
    fn the_default_highlight_is_the_latent_tabs_own() {
        let p = LatentPanel::default();
        let h = Highlight::default();
        assert_eq!(
            (
                p.same_axes,
                p.show_prior,
                p.show_posterior,
                p.hidden_classes
            ),
            (
                h.same_axes,
                h.prior_circles,
                h.posterior_ellipses,
                h.hidden_classes
            )
        );
        let mut p = LatentPanel::default();
        let on = Highlight {
            same_axes: true,
            prior_circles: false,
            posterior_ellipses: true,
            hidden_classes: [3, 4].into(),
        };
        p.highlight(&on);
        assert!(p.same_axes && !p.show_prior && p.show_posterior);
        assert_eq!(p.hidden_classes, [3, 4].into());
    }

    fn app_with(models: Vec<ModelKind>) -> LatentLabApp {
        let mut settings = Settings::default();
        settings.run.models = models;
        let sizes = Sizes {
            train: 64,
            test: 32,
        };
        LatentLabApp::with_settings(&egui::Context::default(), settings, Some(sizes))
    }

    #[test]
    fn a_step_builds_new_models_only_when_it_must() {
        let text = "---\nname: t\ntitle: T\n---\n\
            ## A\nmodels: ae, beta-vae\nbeta: 2\nlr: 0.01\ntab: Samples\ntraining: pause\n\na\n\n\
            ## B\nlatent_dim: 3\npresentation: on\n\nb\n";
        let lesson = Lesson::parse("t.md", text).unwrap();
        let app = app_with(vec![ModelKind::Ae, ModelKind::BetaVae]);
        // Same models: β and the learning rate change in place.
        let a = app.setup_actions(&lesson.setup(0));
        assert_eq!(
            a,
            vec![
                Action::SetLr(0.01),
                Action::SetKnob {
                    key: "beta".into(),
                    value: KnobValue::Number(2.0)
                },
                Action::Pause,
                Action::SelectTab("Samples".into()),
                Action::Highlight(Box::default()),
            ]
        );
        // Another code size: new models, with everything the steps so far set.
        let b = app.setup_actions(&lesson.setup(1));
        let Some(Action::ApplySettings(s)) = b.first() else {
            panic!("{b:?}");
        };
        assert_eq!((s.run.latent_dim, s.run.lr), (3, 0.01));
        assert_eq!(s.run.knob("beta"), Some(KnobValue::Number(2.0)));
        assert!(b.contains(&Action::Present(true)));
        // Other models than the app's: new models for the first step too.
        let other = app_with(vec![ModelKind::Vae]);
        let first = other.setup_actions(&lesson.setup(0));
        assert!(
            matches!(first.first(), Some(Action::ApplySettings(_))),
            "{first:?}"
        );
    }
}
