//! Interpolation: each model decodes the straight line between the codes of two test
//! items, one row per model.

use super::items::{Tex, key_of, show_items};
use super::theme;
use crate::data::Dataset;
use crate::explore::interpolate;
use crate::train::Snapshot;
use egui::{RichText, Ui};
use std::collections::HashMap;

/// Points on the line, both ends included.
pub const STEPS: usize = 10;

/// State of the interpolation tab.
pub struct InterpPanel {
    /// Display-item index of the start.
    pub a: usize,
    /// Display-item index of the end.
    pub b: usize,
    textures: HashMap<String, Tex>,
}

impl Default for InterpPanel {
    fn default() -> Self {
        Self {
            a: 0,
            b: 1,
            textures: HashMap::new(),
        }
    }
}

impl InterpPanel {
    /// Draws the tab; `pinned` is the latent view's pinned item, offered as an end.
    pub fn ui(&mut self, ui: &mut Ui, snap: &Snapshot, ds: &Dataset, pinned: Option<usize>) {
        let n = snap.display_labels.len();
        if n < 2 {
            ui.label("Not enough test items to interpolate.");
            return;
        }
        let class = |i: usize| {
            ds.class_names
                .get(snap.display_labels[i] as usize)
                .cloned()
                .unwrap_or_default()
        };
        ui.horizontal(|ui| {
            ui.label("from test item");
            ui.add(egui::DragValue::new(&mut self.a).range(0..=n - 1));
            ui.label(format!("(class {})", class(self.a.min(n - 1))));
            ui.label("to");
            ui.add(egui::DragValue::new(&mut self.b).range(0..=n - 1));
            ui.label(format!("(class {})", class(self.b.min(n - 1))));
            if let Some(p) = pinned {
                if ui.button("start at pinned").clicked() {
                    self.a = p;
                }
                if ui.button("end at pinned").clicked() {
                    self.b = p;
                }
            }
            if ui.button("random pair").clicked() {
                let t = snap.step as usize;
                self.a = (self.a * 31 + t + 7) % n;
                self.b = (self.b * 17 + t + 3) % n;
            }
        });
        ui.label(RichText::new(format!("Each row decodes {STEPS} evenly spaced points on the straight line between the two codes.")).weak());
        let (a, b) = (self.a.min(n - 1), self.b.min(n - 1));
        let cell =
            ((ui.available_width() - 180.0) / STEPS as f32).clamp(24.0, theme::ITEM_IMAGE * 1.5);
        egui::Grid::new("interp")
            .num_columns(2)
            .spacing([12.0, 10.0])
            .show(ui, |ui| {
                let dim = ds.dim();
                let mut ends = ds.test.item(snap.display_indices[a], dim).to_vec();
                ends.extend_from_slice(ds.test.item(snap.display_indices[b], dim));
                ui.label(RichText::new("inputs").strong());
                let t = self.textures.entry("ends".into()).or_default();
                show_items(
                    ui,
                    t,
                    "interp-ends",
                    key_of(&[a as u64, b as u64], &[]),
                    ds,
                    &ends,
                    2,
                    cell,
                    theme::MARKER_OUTLINE,
                );
                ui.end_row();
                for m in &snap.models {
                    let d = m.latent_dim;
                    let line = interpolate(
                        &m.codes[a * d..(a + 1) * d],
                        &m.codes[b * d..(b + 1) * d],
                        STEPS,
                    );
                    let decoded = m.decoder.decode(&line).unwrap_or_default();
                    let color = theme::model_color(m.kind);
                    ui.label(RichText::new(m.kind.title()).strong().color(color));
                    let t = self.textures.entry(m.name.clone()).or_default();
                    show_items(
                        ui,
                        t,
                        &format!("interp-{}", m.name),
                        key_of(&[snap.step, a as u64, b as u64], &[]),
                        ds,
                        &decoded,
                        STEPS,
                        cell,
                        color,
                    );
                    ui.end_row();
                }
            });
    }
}
