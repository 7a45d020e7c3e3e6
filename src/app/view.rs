//! The one pattern every tab follows: a struct with its own transient state that draws
//! itself from a [`ViewCtx`] and returns the [`Action`]s the user asked for. The app
//! applies them in one place (the window's `apply`); a panel never touches the
//! session or the settings itself.

use super::actions::Action;
use super::selection::Selection;
use super::settings::Settings;
use crate::data::Dataset;
use crate::train::Snapshot;
use egui::Ui;
use std::collections::HashMap;

/// A tab of the central area.
pub trait View {
    /// The tab's title, also its label in the tab row.
    fn title(&self) -> &'static str;

    /// What the tab shows: one line ("what am I looking at"), and the longer text behind
    /// it (the axes, what is decoded, what to look for). The host draws both, collapsed,
    /// above the tab.
    fn about(&self) -> (&'static str, &'static str);

    /// Draws the panel; returns what the user asked the app to do.
    fn ui(&mut self, ui: &mut Ui, ctx: &mut ViewCtx<'_>) -> Vec<Action>;

    /// Forgets caches that belong to one run (called after a reset).
    fn clear(&mut self) {}

    /// Takes what a lesson step highlights (only the latent scatters have such options).
    fn highlight(&mut self, _highlight: &crate::lessons::Highlight) {}

    /// Whether it is still computing a picture in the background (a t-SNE or UMAP), so a
    /// screenshot would catch it half done.
    fn busy(&self) -> bool {
        false
    }
}

/// What a panel sees while it draws.
pub struct ViewCtx<'a> {
    /// The latest snapshot of every model.
    pub snap: &'a Snapshot,
    /// The data set the models train on.
    pub ds: &'a Dataset,
    /// Probes, pinned item and plane, shared by every tab.
    pub selection: &'a mut Selection,
    /// The settings as applied (read only: changes go through actions).
    pub settings: &'a Settings,
    /// Where things were drawn, for tests that drive the mouse.
    pub rects: &'a mut ScreenRects,
    /// Presentation mode is on: leave out help text, keep to what the class must see.
    pub presenting: bool,
}

/// Screen rectangles of the last frame. Not state: only tests read them, to aim the mouse.
#[derive(Clone, Debug, Default)]
pub struct ScreenRects {
    /// Each model's latent scatter, by model name.
    pub latent_plots: HashMap<String, egui::Rect>,
    /// Where each t-SNE or UMAP scatter draws the display items, in plot coordinates, by
    /// model name (absent where the scatter shows a plane; empty before the first picture).
    pub latent_maps: HashMap<String, Vec<[f64; 2]>>,
    /// Where each model's scatter marks the drawn item, by model name.
    pub drawn_markers: HashMap<String, egui::Pos2>,
    /// The drawing canvas of the "Draw & inspect" tab.
    pub draw_canvas: Option<egui::Rect>,
    /// Lesson subjects drawn in this frame (emptied at the start of each frame).
    pub subjects: Vec<SubjectRect>,
}

/// Where a lesson subject ([`crate::lessons::subject::SUBJECTS`]) was drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SubjectRect {
    /// The subject's name.
    pub name: &'static str,
    /// The rectangle it takes, in points.
    pub rect: egui::Rect,
    /// The part of the screen its panel shows (a scroll area or panel clips the rest).
    pub clip: egui::Rect,
}

impl ScreenRects {
    /// Records that `name` is drawn at `rect` by `ui` (clipped as `ui` clips).
    pub fn subject(&mut self, name: &'static str, ui: &egui::Ui, rect: egui::Rect) {
        debug_assert!(
            crate::lessons::subject::subject(name).is_some(),
            "unknown subject {name}"
        );
        self.subject_in(name, rect, ui.clip_rect());
    }

    /// Records that `name` is drawn at `rect`, of which only `clip` can be seen.
    pub fn subject_in(&mut self, name: &'static str, rect: egui::Rect, clip: egui::Rect) {
        self.subjects.push(SubjectRect { name, rect, clip });
    }
}
