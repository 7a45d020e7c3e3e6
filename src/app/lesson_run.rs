//! A running lesson: the banner above the tabs (step text, Back / Next, the step number),
//! its keys (PageDown / PageUp, Alt+Right / Alt+Left, which presenters' clickers send), and the
//! actions that set the app up for a step. The lessons themselves (files, parsing,
//! checks, the folding of steps) are in [`crate::lessons`].

use super::actions::Action;
use super::settings::Settings;
use super::{knobs, tabs, theme};
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

/// A lesson by built-in name first, then as a file, checked against the window's tabs
/// (`latentlab --lesson NAME|FILE` calls it before any window opens).
pub fn load_lesson(name_or_path: &str) -> Result<Lesson, LessonError> {
    let mut lesson = lessons::find(name_or_path)?;
    lesson.check_tabs(&tabs::titles())?;
    Ok(lesson)
}

impl LessonRun {
    /// Next / Back from the keyboard or a presenter's clicker.
    pub fn keys(&self, ui: &Ui) -> Option<Action> {
        let pressed = |mods: Modifiers, key: Key| ui.input_mut(|i| i.consume_key(mods, key));
        let next =
            pressed(Modifiers::NONE, Key::PageDown) | pressed(Modifiers::ALT, Key::ArrowRight);
        let back = pressed(Modifiers::NONE, Key::PageUp) | pressed(Modifiers::ALT, Key::ArrowLeft);
        let last = self.lesson.steps.len().saturating_sub(1);
        if next && self.step < last {
            Some(Action::LessonStep(self.step + 1))
        } else if back && self.step > 0 {
            Some(Action::LessonStep(self.step - 1))
        } else {
            None
        }
    }

    /// The banner above the tabs (in presentation mode too).
    pub fn banner(&self, ui: &mut Ui) -> Option<Action> {
        let mut action = None;
        egui::Panel::top("lesson").show(ui, |ui| {
            egui::Frame::new()
                .stroke(egui::Stroke::new(2.0, theme::LESSON))
                .inner_margin(8.0)
                .corner_radius(4.0)
                .show(ui, |ui| action = banner_ui(ui, self));
        });
        action
    }
}

/// The actions that bring the app from `settings` to `setup`: new models only when the
/// models, data, code size or seed differ; the learning rate and live knobs change in
/// place.
pub fn setup_actions(setup: &Setup, settings: &Settings) -> Vec<Action> {
    let mut out = Vec::new();
    if let Some(path) = &setup.open {
        out.push(Action::LessonOpenRun(path.clone()));
    }
    let run = setup.run_spec(&settings.run);
    let grid_k = setup.grid.unwrap_or(settings.grid_k);
    if settings.run.needs_new_models(&run) {
        out.push(Action::ApplySettings(Box::new(Settings { run, grid_k })));
    } else {
        out.extend(knobs::live_changes(&settings.run, &run));
        if grid_k != settings.grid_k {
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
