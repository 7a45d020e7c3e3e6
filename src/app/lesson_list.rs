//! The Lessons tab: the built-in lessons with a Start button each, and a teacher's own
//! lesson file (a file dialog, or a typed path for machines without one).

use super::actions::Action;
use super::dialog::OpenKind;
use super::theme;
use super::view::{View, ViewCtx};
use crate::lessons::{self, Lesson, LessonError};
use egui::{RichText, Ui};
use std::path::PathBuf;

/// State of the Lessons tab.
#[derive(Default)]
pub struct LessonListPanel {
    /// The built-in lessons, parsed on first view.
    builtin: Option<Result<Vec<Lesson>, LessonError>>,
    /// A lesson path typed by hand.
    typed_path: String,
}

const ABOUT: &str = "A lesson is a sequence of steps. Each step sets the app up (data set, \
    models, knobs such as β, the tab, presentation mode, what the latent plots highlight) \
    and says what to do and what to notice; its text stays in a banner above the tabs, in \
    presentation mode too. Next and Back (PageDown / PageUp, or Alt+Right / Alt+Left, which a \
    presenter's clicker sends) move between steps; going back sets the app up as that step \
    had it, and builds new models only when the data, models, code size or seed differ (β \
    and the other live knobs change in place). Every lesson starts from the default \
    settings, so a class sees the same thing on every laptop. Write your own as a Markdown \
    file (the format is in assets/lessons/README.md) and open it here or with `latentlab \
    --lesson FILE`.";

impl View for LessonListPanel {
    fn title(&self) -> &'static str {
        "Lessons"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "Guided lessons: each step sets the app up and says what to do and what to notice.",
            ABOUT,
        )
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        let mut actions = Vec::new();
        let list = egui::ScrollArea::vertical().show(ui, |ui| {
            let builtin = self.builtin.get_or_insert_with(lessons::builtin);
            match builtin {
                Ok(list) => list.iter().for_each(|l| lesson_ui(ui, l, &mut actions)),
                Err(e) => {
                    ui.colored_label(theme::ERROR, e.to_string());
                }
            }
            ui.add_space(12.0);
            self.own_lesson_ui(ui, &mut actions);
        });
        let shown = list.inner_rect.intersect(ui.clip_rect());
        cx.rects.subject_in("lesson list", shown, shown);
        actions
    }
}

/// One built-in lesson: title, what it is about, its steps, and Start.
fn lesson_ui(ui: &mut Ui, lesson: &Lesson, actions: &mut Vec<Action>) {
    egui::Frame::new()
        .stroke(egui::Stroke::new(1.0, theme::QUIET))
        .inner_margin(8.0)
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                let start = ui
                    .button(RichText::new("Start").strong())
                    .on_hover_text(format!("latentlab --lesson {}", lesson.name));
                if start.clicked() {
                    actions.push(Action::StartLesson(Box::new(lesson.clone())));
                }
                ui.label(RichText::new(&lesson.title).size(18.0).strong());
            });
            if !lesson.about.is_empty() {
                ui.label(&lesson.about);
            }
            let steps: Vec<&str> = lesson.steps.iter().map(|s| s.title.as_str()).collect();
            ui.label(RichText::new(format!("{} steps: {}", steps.len(), steps.join(" · "))).weak());
        });
    ui.add_space(4.0);
}

impl LessonListPanel {
    /// "Open lesson file…" and a typed path.
    fn own_lesson_ui(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        ui.label(RichText::new("Your own lesson").strong());
        ui.horizontal_wrapped(|ui| {
            if ui.button("Open lesson file…").clicked() {
                actions.push(Action::OpenDialog(OpenKind::Lesson));
            }
            let l = ui.label("or type a path");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.typed_path)
                        .hint_text("lessons/my-lesson.md")
                        .desired_width(260.0),
                )
                .labelled_by(l.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let path = self.typed_path.trim();
            if (ui.button("Open").clicked() || enter) && !path.is_empty() {
                actions.push(Action::OpenLessonFile(PathBuf::from(path)));
            }
        });
        ui.label(
            RichText::new(
                "A lesson is a Markdown file: a front matter (name, title), then one '## Title' \
                 per step with its settings and text. See assets/lessons/README.md.",
            )
            .weak(),
        );
    }
}
