//! Presentation mode (F5, the "Present" button, `latentlab --presentation`) and the choice of
//! which models the tabs show.
//!
//! Presentation mode hides the side panel, zooms the whole window by `scale` (text, plots,
//! thumbnails, markers and lines all grow, and every panel lays itself out in the space it
//! gets) and shows one pair of models, an autoencoder and a VAE by default. A slim bar at the
//! top keeps Train/Pause, Reset, the pair and the scale within reach.
//! Outside it, the user may hide models from the tabs (the loss plot keeps them all).

use super::actions::Action;
use super::theme;
use crate::train::Snapshot;
use egui::{RichText, Ui};
use std::collections::BTreeSet;

/// The fewest points presentation mode leaves on screen, across and down.
pub const MIN_POINTS: egui::Vec2 = egui::vec2(1000.0, 560.0);

/// Smallest and largest presentation zoom.
pub const SCALE_RANGE: std::ops::RangeInclusive<f32> = 1.2..=2.5;

/// Presentation mode and the models shown.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Presentation {
    /// Presentation mode is on.
    pub on: bool,
    /// Its zoom, relative to the normal zoom.
    pub scale: f32,
    /// The pair shown in presentation mode, by model name (empty: an AE and a VAE).
    pub pair: [String; 2],
    /// Show the loss plots in presentation mode (off: the room goes to the tab).
    pub show_losses: bool,
    /// Models hidden from the tabs outside presentation mode, by name.
    pub hidden: BTreeSet<String>,
    /// The zoom to return to when presentation mode ends.
    normal_zoom: f32,
    /// A lesson runs: its models are what its steps talk about, so presentation mode shows
    /// them all (up to [`MAX_LESSON_MODELS`]) instead of one pair.
    #[serde(skip)]
    pub lesson_models: bool,
}

/// The most models presentation mode shows side by side for a lesson.
pub const MAX_LESSON_MODELS: usize = 3;

impl Default for Presentation {
    fn default() -> Self {
        Self {
            on: false,
            scale: 1.6,
            pair: Default::default(),
            show_losses: false,
            hidden: BTreeSet::new(),
            normal_zoom: 1.0,
            lesson_models: false,
        }
    }
}

impl Presentation {
    /// Storage key in eframe's persistence.
    pub const STORAGE_KEY: &'static str = "presentation";

    /// Turns presentation mode on or off, zooming the window accordingly.
    pub fn set(&mut self, ctx: &egui::Context, on: bool) {
        if on == self.on {
            return;
        }
        if on {
            self.normal_zoom = ctx.zoom_factor();
            ctx.set_zoom_factor(self.normal_zoom * self.scale);
        } else {
            ctx.set_zoom_factor(self.normal_zoom);
        }
        self.on = on;
    }

    /// Keeps the presentation zoom within what the window can hold: never so large that
    /// fewer than [`MIN_POINTS`] remain (a 1280×720 projector at 1.6 would leave 800×450
    /// points, too few for two plots and a lesson banner). Called every frame.
    pub fn fit_zoom(&self, ctx: &egui::Context) {
        if !self.on {
            return;
        }
        let zoom = ctx.zoom_factor();
        // The window's size in the points of normal zoom.
        let size = ctx.content_rect().size() * zoom / self.normal_zoom;
        let fit = (size.x / MIN_POINTS.x).min(size.y / MIN_POINTS.y);
        let want = self.normal_zoom * self.scale.min(fit).max(1.0);
        if want.is_finite() && (want - zoom).abs() > 0.005 {
            ctx.set_zoom_factor(want);
        }
    }

    /// Makes a state read back from storage safe: a scale in range, and the zoom it implies.
    pub fn sanitize(&mut self) {
        if !self.scale.is_finite() {
            self.scale = Self::default().scale;
        }
        self.scale = self.scale.clamp(*SCALE_RANGE.start(), *SCALE_RANGE.end());
        if !(0.5..=3.0).contains(&self.normal_zoom) {
            self.normal_zoom = 1.0;
        }
    }

    /// Changes the zoom of presentation mode (applied at once if it is on).
    pub fn set_scale(&mut self, ctx: &egui::Context, scale: f32) {
        self.scale = scale.clamp(*SCALE_RANGE.start(), *SCALE_RANGE.end());
        if self.on {
            ctx.set_zoom_factor(self.normal_zoom * self.scale);
        }
    }

    /// Indices into `snap.models` of the models the tabs show now.
    pub fn shown(&self, snap: &Snapshot) -> Vec<usize> {
        if self.on && self.lesson_models && snap.models.len() <= MAX_LESSON_MODELS {
            return (0..snap.models.len()).collect();
        }
        if self.on {
            return self.pair_indices(snap);
        }
        let shown: Vec<usize> = (0..snap.models.len())
            .filter(|&i| !self.hidden.contains(&snap.models[i].name))
            .collect();
        if shown.is_empty() {
            (0..snap.models.len()).collect()
        } else {
            shown
        }
    }

    /// The pair by index: the chosen names where they exist, else the first AE-like model
    /// and the first VAE-like model, else the first two.
    fn pair_indices(&self, snap: &Snapshot) -> Vec<usize> {
        let find = |name: &str| snap.models.iter().position(|m| m.name == name);
        let plain = snap.models.iter().position(|m| !m.kind.is_variational());
        let variational = snap.models.iter().position(|m| m.kind.is_variational());
        let defaults = [plain.or(Some(0)), variational.or(Some(1))];
        let mut out: Vec<usize> = Vec::new();
        for (name, fallback) in self.pair.iter().zip(defaults) {
            let pick = find(name).or(fallback).filter(|&i| i < snap.models.len());
            if let Some(i) = pick.filter(|i| !out.contains(i)) {
                out.push(i);
            }
        }
        if out.len() < 2.min(snap.models.len()) {
            let extra = (0..snap.models.len()).find(|i| !out.contains(i));
            out.extend(extra);
        }
        out.sort_unstable();
        out
    }

    /// The bar at the top in presentation mode: training buttons, the tab, the pair, the
    /// losses, the zoom.
    pub fn bar_ui(
        &mut self,
        ui: &mut Ui,
        snap: Option<&Snapshot>,
        training: bool,
        titles: &[&'static str],
        tab: &mut usize,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        ui.horizontal_wrapped(|ui| {
            // `training`: running, or new models on their way that will train: Pause
            // stays reachable while they are built.
            let (label, action) = if training {
                ("Pause", Action::Pause)
            } else {
                ("Train", Action::Train)
            };
            if ui.button(RichText::new(label).strong()).clicked() {
                actions.push(action);
            }
            if ui.button("Reset").clicked() {
                actions.push(Action::Reset);
            }
            ui.separator();
            let current = titles.get(*tab).copied().unwrap_or_default();
            egui::ComboBox::from_id_salt("presentation-tab")
                .height(600.0)
                .selected_text(RichText::new(current).strong())
                .show_ui(ui, |ui| {
                    for (i, title) in titles.iter().enumerate() {
                        ui.selectable_value(tab, i, *title);
                    }
                });
            if let Some(snap) = snap
                && !(self.lesson_models && snap.models.len() <= MAX_LESSON_MODELS)
            {
                self.pair_ui(ui, snap);
            }
            ui.toggle_value(&mut self.show_losses, "losses");
            ui.separator();
            let mut scale = self.scale;
            ui.label("size");
            ui.spacing_mut().slider_width = 70.0;
            let slider = egui::Slider::new(&mut scale, SCALE_RANGE).max_decimals(1);
            if ui.add(slider).changed() {
                actions.push(Action::SetPresentationScale(scale));
            }
            let exit = ui
                .button("Exit (F5)")
                .on_hover_text("leave presentation mode (F5 or Esc)");
            if exit.clicked() {
                actions.push(Action::Present(false));
            }
        });
        actions
    }

    /// Two pickers: which models face each other.
    fn pair_ui(&mut self, ui: &mut Ui, snap: &Snapshot) {
        let current = self.pair_indices(snap);
        for slot in 0..2.min(snap.models.len()) {
            let shown = current
                .get(slot)
                .map_or("", |&i| snap.models[i].name.as_str());
            let id = ("presentation-pair", slot);
            egui::ComboBox::from_id_salt(id)
                .width(80.0)
                .selected_text(RichText::new(shown).color(model_color(snap, shown)))
                .show_ui(ui, |ui| {
                    for m in &snap.models {
                        let text = RichText::new(&m.name).color(theme::model_color(m.kind));
                        if ui.selectable_label(m.name == shown, text).clicked() {
                            self.pair[slot] = m.name.clone();
                        }
                    }
                });
            if slot == 0 {
                ui.label("vs");
            }
        }
    }

    /// Outside presentation mode: one toggle per model, to hide some from the tabs.
    pub fn filter_ui(&mut self, ui: &mut Ui, snap: &Snapshot) {
        if snap.models.len() < 2 {
            return;
        }
        ui.scope(|ui| {
            ui.label(RichText::new("show:").weak());
            for m in &snap.models {
                let mut on = !self.hidden.contains(&m.name);
                let text = RichText::new(&m.name).color(theme::model_color(m.kind));
                if ui.checkbox(&mut on, text).changed() {
                    if on {
                        self.hidden.remove(&m.name);
                    } else {
                        self.hidden.insert(m.name.clone());
                    }
                }
            }
        });
    }
}

fn model_color(snap: &Snapshot, name: &str) -> egui::Color32 {
    snap.models
        .iter()
        .find(|m| m.name == name)
        .map_or(theme::QUIET, |m| theme::model_color(m.kind))
}

/// The snapshot with only the models at `keep` (in their order).
pub fn only(snap: &Snapshot, keep: &[usize]) -> Snapshot {
    if keep.len() == snap.models.len() {
        return snap.clone();
    }
    Snapshot {
        step: snap.step,
        epoch: snap.epoch,
        display_indices: snap.display_indices.clone(),
        display_labels: snap.display_labels.clone(),
        recon_indices: snap.recon_indices.clone(),
        recon_inputs: snap.recon_inputs.clone(),
        models: keep
            .iter()
            .filter_map(|&i| snap.models.get(i).cloned())
            .collect(),
    }
}
