//! The window's frame around the tabs: the messages strip, the tab's one-line
//! explanation, the spinner before there is anything to show, and files dropped on the
//! window. Plain functions of what they draw; what the user asks comes back as an
//! [`Action`].

use super::actions::Action;
use super::session::Message;
use super::theme;
use super::view::View;
use egui::{RichText, Ui};

/// An image file dropped on the window becomes the drawn item.
pub fn dropped_image(ui: &Ui) -> Option<Action> {
    let path = ui.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()))?;
    Some(Action::DrawFromFile(path))
}

/// The tab's one-line explanation, opening onto the longer one.
pub fn about_ui(ui: &mut Ui, view: &dyn View) {
    let (line, text) = view.about();
    egui::CollapsingHeader::new(RichText::new(line).strong())
        .id_salt(("about", view.title()))
        .default_open(false)
        .show(ui, |ui| ui.label(text));
}

/// A spinner while there is nothing to show yet.
/// What the central area waits for: the data set, the models, or nothing (the models
/// could not be built: the message above says why, and no spinner promises them).
pub fn waiting_ui(ui: &mut Ui, loading: bool, building: bool) {
    ui.vertical_centered(|ui| {
        ui.add_space(80.0);
        if !loading && !building {
            ui.label(
                RichText::new(
                    "No models to show: the message above says why. Change the settings and \
                     press Apply, or Reset.",
                )
                .color(theme::QUIET),
            );
            return;
        }
        ui.spinner();
        ui.label(if loading {
            "Loading the data set…"
        } else {
            "Building the models…"
        });
    });
}

/// The messages (newest first, at most three, a line each); returns a dismissal when one
/// is clicked.
pub fn messages_ui(ui: &mut Ui, messages: &[Message]) -> Option<Action> {
    let mut dismiss = None;
    for (i, m) in messages.iter().enumerate().rev().take(3) {
        let color = if m.is_error {
            theme::ERROR
        } else {
            theme::WARNING
        };
        // One line each, so three messages never push the tabs down far; a cut text shows
        // whole on hover.
        ui.spacing_mut().item_spacing.y = 2.0;
        ui.horizontal(|ui| {
            let kind = if m.is_error { "Error:" } else { "Note:" };
            ui.label(RichText::new(kind).color(color).strong());
            if ui.small_button("dismiss").clicked() {
                dismiss = Some(Action::DismissMessage(i));
            }
            ui.add(egui::Label::new(RichText::new(&m.text).color(color)).truncate());
        });
    }
    dismiss
}
