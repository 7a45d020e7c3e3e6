//! The same test inputs, reconstructed by every model, with the per-item loss under each.

use super::actions::Action;
use super::items::{Tex, key_of, show_items};
use super::theme;
use super::view::{View, ViewCtx};
use crate::train::ModelSnapshot;
use egui::{RichText, Ui};
use std::collections::HashMap;

/// State of the reconstructions tab.
#[derive(Default)]
pub struct ReconPanel {
    textures: HashMap<String, Tex>,
}

impl View for ReconPanel {
    fn title(&self) -> &'static str {
        "Reconstructions"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "Test inputs (top row) and each model's reconstruction of them, with its loss \
             in nats under each image.",
            "Top row: test items (\"Shuffle inputs\" picks others). Each model's row encodes \
             the input and decodes z = μ: the AE's code, the VAE's posterior mean (not a \
             sample); the image is the decoder's output (pixel probabilities). A denoising AE \
             encodes the corrupted input shown in its \"sees\" row. The number under each \
             image is −log p(x | z) of the clean input under that decoding, in nats (lower is \
             better): the reconstruction term alone, without KL or penalty. The training \
             curve's reconstruction differs for a VAE: there z is sampled around μ. For 2-D \
             point data, the mean over the items is shown.",
        )
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            if ui.button("Shuffle inputs").clicked() {
                actions.push(Action::ShuffleRecon);
            }
        });
        let n = cx.snap.recon_indices.len().max(1);
        // Every row fits the height too: a lesson compares the rows, so none may fall
        // below the window.
        let rows_shown = 1 + cx
            .snap
            .models
            .iter()
            .map(|m| 1 + usize::from(m.noisy_inputs.is_some()))
            .sum::<usize>();
        // Each row: its images, the loss under each, the grid's spacing.
        let per_row = 40.0;
        let by_height = (ui.available_height() - 8.0) / rows_shown as f32 - per_row;
        let cell = ((ui.available_width() - 170.0) / n as f32)
            .min(by_height)
            .clamp(16.0, theme::ITEM_IMAGE * 1.5);
        let rows = Rows { cx, n, cell };
        let shown = egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("recon-rows")
                .num_columns(2)
                .spacing([12.0, 10.0])
                .show(ui, |ui| {
                    self.input_row_ui(ui, &rows);
                    for m in &rows.cx.snap.models {
                        if let Some(noisy) = &m.noisy_inputs {
                            self.noisy_row_ui(ui, &rows, m, noisy);
                        }
                        self.model_row_ui(ui, &rows, m);
                    }
                })
                .response
                .rect
        });
        // What the scroll area shows is the visible part.
        let clip = shown.inner_rect.intersect(ui.clip_rect());
        cx.rects
            .subject_in("reconstruction rows", shown.inner, clip);
        actions
    }

    fn clear(&mut self) {
        self.textures.clear();
    }
}

/// What every row shares: the context, the items per row and the size of one.
struct Rows<'c, 'a> {
    cx: &'c ViewCtx<'a>,
    n: usize,
    cell: f32,
}

impl ReconPanel {
    /// The test inputs.
    fn input_row_ui(&mut self, ui: &mut Ui, rows: &Rows<'_, '_>) {
        let snap = rows.cx.snap;
        ui.label(RichText::new("input").strong());
        let t = self.textures.entry("input".into()).or_default();
        let shown = &snap.recon_inputs[..snap.recon_inputs.len().min(64)];
        let key = key_of(&[snap.step], shown);
        let outline = theme::MARKER_OUTLINE;
        let (ds, n, cell) = (rows.cx.ds, rows.n, rows.cell);
        show_items(
            ui,
            t,
            "recon-input",
            key,
            ds,
            &snap.recon_inputs,
            n,
            cell,
            outline,
        );
        ui.end_row();
    }

    /// The corrupted inputs a denoising model saw.
    fn noisy_row_ui(&mut self, ui: &mut Ui, rows: &Rows<'_, '_>, m: &ModelSnapshot, noisy: &[f32]) {
        let color = theme::model_color(m.kind);
        ui.label(RichText::new(format!("{} sees", m.kind.title())).color(color));
        let t = self
            .textures
            .entry(format!("{}-noisy", m.name))
            .or_default();
        let key = key_of(&[rows.cx.snap.step, 1], &[]);
        let name = format!("noisy-{}", m.name);
        let (ds, n, cell) = (rows.cx.ds, rows.n, rows.cell);
        show_items(ui, t, &name, key, ds, noisy, n, cell, color);
        ui.end_row();
    }

    /// A model's reconstructions with the loss of each under it.
    fn model_row_ui(&mut self, ui: &mut Ui, rows: &Rows<'_, '_>, m: &ModelSnapshot) {
        let color = theme::model_color(m.kind);
        ui.label(RichText::new(m.kind.title()).strong().color(color));
        ui.vertical(|ui| {
            let t = self.textures.entry(m.name.clone()).or_default();
            let key = key_of(&[rows.cx.snap.step, 2], &[]);
            let name = format!("recon-{}", m.name);
            let (ds, n, cell) = (rows.cx.ds, rows.n, rows.cell);
            show_items(ui, t, &name, key, ds, &m.recon, n, cell, color);
            losses_ui(ui, ds.shape.is_image(), &m.recon_losses, cell);
        });
        ui.end_row();
    }
}

/// Each item's loss under its image, or the mean for 2-D points.
fn losses_ui(ui: &mut Ui, per_item: bool, losses: &[f32], cell: f32) {
    if per_item {
        ui.horizontal(|ui| {
            ui.spacing_mut().item_spacing.x = 0.0;
            for loss in losses {
                let label = egui::Label::new(RichText::new(format!("{loss:.0}")).small());
                ui.add_sized([cell, 16.0], label);
            }
        });
    } else {
        let mean = losses.iter().sum::<f32>() / losses.len().max(1) as f32;
        ui.label(RichText::new(format!("mean loss {mean:.2} nats")).small());
    }
}
