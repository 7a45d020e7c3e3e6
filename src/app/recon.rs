//! The same test inputs, reconstructed by every model, with the per-item loss under each.

use super::items::{Tex, key_of, show_items};
use super::theme;
use crate::data::Dataset;
use crate::train::{Snapshot, TrainCommand};
use egui::{RichText, Ui};
use std::collections::HashMap;

/// State of the reconstructions tab.
#[derive(Default)]
pub struct ReconPanel {
    textures: HashMap<String, Tex>,
}

impl ReconPanel {
    /// Draws the tab; returns a command when the user asks for new inputs.
    pub fn ui(&mut self, ui: &mut Ui, snap: &Snapshot, ds: &Dataset) -> Option<TrainCommand> {
        let mut cmd = None;
        ui.horizontal(|ui| {
            if ui.button("Shuffle inputs").clicked() {
                cmd = Some(TrainCommand::ShuffleRecon);
            }
            ui.label(RichText::new("First row: test inputs. Below: each model's reconstruction, with its loss in nats per item (lower is better).").weak());
        });
        let n = snap.recon_indices.len().max(1);
        let cell = ((ui.available_width() - 170.0) / n as f32).clamp(24.0, theme::ITEM_IMAGE * 1.5);
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("recon-rows")
                .num_columns(2)
                .spacing([12.0, 10.0])
                .show(ui, |ui| {
                    ui.label(RichText::new("input").strong());
                    let t = self.textures.entry("input".into()).or_default();
                    show_items(
                        ui,
                        t,
                        "recon-input",
                        key_of(
                            &[snap.step],
                            &snap.recon_inputs[..snap.recon_inputs.len().min(64)],
                        ),
                        ds,
                        &snap.recon_inputs,
                        n,
                        cell,
                        theme::MARKER_OUTLINE,
                    );
                    ui.end_row();
                    for m in &snap.models {
                        let color = theme::model_color(m.kind);
                        if let Some(noisy) = &m.noisy_inputs {
                            ui.label(
                                RichText::new(format!("{} sees", m.kind.title())).color(color),
                            );
                            let t = self
                                .textures
                                .entry(format!("{}-noisy", m.name))
                                .or_default();
                            show_items(
                                ui,
                                t,
                                &format!("noisy-{}", m.name),
                                key_of(&[snap.step, 1], &[]),
                                ds,
                                noisy,
                                n,
                                cell,
                                color,
                            );
                            ui.end_row();
                        }
                        ui.label(RichText::new(m.kind.title()).strong().color(color));
                        ui.vertical(|ui| {
                            let t = self.textures.entry(m.name.clone()).or_default();
                            show_items(
                                ui,
                                t,
                                &format!("recon-{}", m.name),
                                key_of(&[snap.step, 2], &[]),
                                ds,
                                &m.recon,
                                n,
                                cell,
                                color,
                            );
                            if ds.shape.is_image() {
                                ui.horizontal(|ui| {
                                    ui.spacing_mut().item_spacing.x = 0.0;
                                    for loss in &m.recon_losses {
                                        ui.add_sized(
                                            [cell, 16.0],
                                            egui::Label::new(
                                                RichText::new(format!("{loss:.0}")).small(),
                                            ),
                                        );
                                    }
                                });
                            } else {
                                let mean = m.recon_losses.iter().sum::<f32>()
                                    / m.recon_losses.len().max(1) as f32;
                                ui.label(
                                    RichText::new(format!("mean loss {mean:.2} nats")).small(),
                                );
                            }
                        });
                        ui.end_row();
                    }
                });
        });
        cmd
    }
}
