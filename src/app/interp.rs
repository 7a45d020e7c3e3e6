//! Interpolation: each model decodes the straight line between the codes of two test
//! items, one row per model.

use super::actions::Action;
use super::decodes::Decodes;
use super::items::{Tex, display_input, key_of, row, show_decoded, show_items};
use super::selection::decode_class_ui;
use super::theme;
use super::view::{View, ViewCtx};
use crate::explore::interpolate;
use crate::train::ModelSnapshot;
use egui::{RichText, Ui};
use std::collections::HashMap;

/// Points on the line, both ends included.
pub const STEPS: usize = 10;
const _: () = assert!(STEPS == 10, "the tab's about text says 10 points");

/// State of the interpolation tab.
pub struct InterpPanel {
    /// Display-item index of the start.
    pub a: usize,
    /// Display-item index of the end.
    pub b: usize,
    textures: HashMap<String, Tex>,
    decodes: Decodes,
}

impl Default for InterpPanel {
    fn default() -> Self {
        Self {
            a: 0,
            b: 1,
            textures: HashMap::new(),
            decodes: Decodes::default(),
        }
    }
}

impl View for InterpPanel {
    fn busy(&self) -> bool {
        self.decodes.busy()
    }

    fn title(&self) -> &'static str {
        "Interpolation"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "Each model decodes the straight line between the codes of two test items.",
            "First row: the two test items (pick them by number, from the pinned item, or at \
             random). Each model's row decodes 10 evenly spaced points on the straight line \
             from the first item's code to the second's, ends included (the AE's codes; the \
             VAE's posterior means μ), as the decoder's output (pixel probabilities). A smooth \
             morph means the codes along the line all decode to plausible items; a jump or \
             noise in the middle means the line crosses a gap where no input is encoded, \
             which is more common for an AE, whose codes no prior holds together.",
        )
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        // Items with both a label and a test index (the same count in a consistent snapshot).
        let n = cx
            .snap
            .display_labels
            .len()
            .min(cx.snap.display_indices.len());
        if n < 2 {
            ui.label("Not enough test items to interpolate.");
            return Vec::new();
        }
        ui.horizontal(|ui| {
            self.ends_ui(ui, cx, n);
            decode_class_ui(ui, cx.selection, cx.snap, cx.ds);
        });
        let (a, b) = (self.a.min(n - 1), self.b.min(n - 1));
        let rows = (1 + cx.snap.models.len()) as f32;
        let by_height = (ui.available_height() - 8.0) / rows - 12.0;
        let cell = ((ui.available_width() - 180.0) / STEPS as f32)
            .min(by_height)
            .clamp(16.0, theme::ITEM_IMAGE * 1.5);
        let shown = egui::Grid::new("interp")
            .num_columns(2)
            .spacing([12.0, 10.0])
            .show(ui, |ui| {
                self.inputs_row_ui(ui, cx, [a, b], cell);
                for m in &cx.snap.models {
                    self.model_row_ui(ui, m, cx, [a, b], cell);
                }
            });
        cx.rects
            .subject("interpolation rows", ui, shown.response.rect);
        Vec::new()
    }

    fn clear(&mut self) {
        self.textures.clear();
        self.decodes.clear();
    }
}

impl InterpPanel {
    /// The two ends: pickers, "at pinned" buttons and a random pair.
    fn ends_ui(&mut self, ui: &mut Ui, cx: &ViewCtx<'_>, n: usize) {
        let (snap, ds) = (cx.snap, cx.ds);
        let class = |i: usize| {
            let label = snap.display_labels.get(i.min(n - 1));
            label
                .and_then(|&l| ds.class_names.get(l as usize))
                .cloned()
                .unwrap_or_default()
        };
        ui.label("from test item");
        ui.add(egui::DragValue::new(&mut self.a).range(0..=n - 1));
        ui.label(format!("(class {})", class(self.a)));
        ui.label("to");
        ui.add(egui::DragValue::new(&mut self.b).range(0..=n - 1));
        ui.label(format!("(class {})", class(self.b)));
        if let Some(p) = cx.selection.pinned {
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
    }

    /// The two inputs, side by side.
    fn inputs_row_ui(&mut self, ui: &mut Ui, cx: &ViewCtx<'_>, [a, b]: [usize; 2], cell: f32) {
        ui.label(RichText::new("inputs").strong());
        let indices = &cx.snap.display_indices;
        match (
            display_input(cx.ds, indices, a),
            display_input(cx.ds, indices, b),
        ) {
            (Some(start), Some(end)) => {
                let ends = [start, end].concat();
                let t = self.textures.entry("ends".into()).or_default();
                let key = key_of(&[a as u64, b as u64], &[]);
                let outline = theme::MARKER_OUTLINE;
                show_items(ui, t, "interp-ends", key, cx.ds, &ends, 2, cell, outline);
            }
            _ => {
                ui.label("these items are not in the data set");
            }
        }
        ui.end_row();
    }

    /// One model's decodings along the line between the two codes.
    fn model_row_ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        cx: &ViewCtx<'_>,
        [a, b]: [usize; 2],
        cell: f32,
    ) {
        let color = theme::model_color(m.kind);
        ui.label(RichText::new(m.kind.title()).strong().color(color));
        let d = m.latent_dim;
        if let (Some(za), Some(zb)) = (row(&m.codes, a, d), row(&m.codes, b, d)) {
            let key = key_of(&[cx.snap.step, a as u64, b as u64], &[]);
            let codes = || interpolate(za, zb, STEPS);
            match self.decodes.get(
                ui.ctx(),
                &m.name,
                key,
                &m.decoder,
                cx.selection.decode_class,
                codes,
            ) {
                Some(shown) => {
                    let t = self.textures.entry(m.name.clone()).or_default();
                    let name = format!("interp-{}", m.name);
                    let (key, decoded) = (shown.key, shown.decoded);
                    show_decoded(ui, t, &name, key, cx.ds, decoded, STEPS, cell, color);
                }
                None => {
                    ui.spinner();
                }
            }
        } else {
            ui.label("no codes for these items in this snapshot");
        }
        ui.end_row();
    }
}
