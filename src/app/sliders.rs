//! One slider per z dimension for every model (the same code as the latent probe), with
//! each model's decoding updating live; sample the prior or jump to a class's mean code.

use super::items::{Tex, show_items};
use super::latent::LatentPanel;
use super::theme;
use crate::data::Dataset;
use crate::train::Snapshot;
use egui::{RichText, Ui};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;

/// State of the sliders tab.
#[derive(Default)]
pub struct SlidersPanel {
    class: usize,
    draws: u64,
    textures: HashMap<String, Tex>,
}

/// Most sliders shown per model (codes can have up to 64 dimensions).
const MAX_SLIDERS: usize = 32;

impl SlidersPanel {
    /// Draws the tab.
    pub fn ui(&mut self, ui: &mut Ui, snap: &Snapshot, ds: &Dataset, latent: &mut LatentPanel) {
        ui.label(RichText::new("Each slider sets one coordinate of the code z; the image is its decoding. The sliders and the latent probe are the same point.").weak());
        ui.horizontal(|ui| {
            if ui.button("Sample from the prior").clicked() {
                self.draws += 1;
                let mut rng = crate::rng::PortableRng::seed_from_u64(self.draws);
                for m in &snap.models {
                    if let Some(v) = latent.models.get_mut(&m.name) {
                        v.probe = (0..m.latent_dim)
                            .map(|_| StandardNormal.sample(&mut rng))
                            .collect();
                    }
                }
            }
            ui.separator();
            let class_label = ui.label("class");
            egui::ComboBox::from_id_salt("slider-class")
                .selected_text(ds.class_names.get(self.class).cloned().unwrap_or_default())
                .show_ui(ui, |ui| {
                    for (c, name) in ds.class_names.iter().enumerate() {
                        ui.selectable_value(&mut self.class, c, name);
                    }
                })
                .response
                .labelled_by(class_label.id);
            if ui.button("Set to the mean code of this class").clicked() {
                for m in &snap.models {
                    let d = m.latent_dim;
                    let mut mean = vec![0.0f32; d];
                    let mut n = 0.0f32;
                    for (code, &l) in m.codes.chunks_exact(d).zip(&snap.display_labels) {
                        if l as usize == self.class {
                            mean.iter_mut().zip(code).for_each(|(a, b)| *a += b);
                            n += 1.0;
                        }
                    }
                    if n > 0.0
                        && let Some(v) = latent.models.get_mut(&m.name)
                    {
                        v.probe = mean.iter().map(|x| x / n).collect();
                    }
                }
            }
        });
        ui.separator();
        ui.columns(snap.models.len().max(1), |cols| {
            for (ui, m) in cols.iter_mut().zip(&snap.models) {
                let color = theme::model_color(m.kind);
                ui.label(RichText::new(m.kind.title()).heading().color(color));
                let d = m.latent_dim.max(1);
                // A VAE's codes live on the prior's scale; an AE's wherever training put them.
                let ranges: Vec<(f32, f32)> = (0..d)
                    .map(|i| {
                        if m.kind.is_variational() {
                            return (-3.0, 3.0);
                        }
                        let (lo, hi) = m
                            .codes
                            .iter()
                            .skip(i)
                            .step_by(d)
                            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                                (lo.min(v), hi.max(v))
                            });
                        if lo < hi { (lo, hi) } else { (-3.0, 3.0) }
                    })
                    .collect();
                let Some(v) = latent.models.get_mut(&m.name) else {
                    continue;
                };
                v.probe.resize(d, 0.0);
                let size = (ui.available_width() * 0.6).clamp(100.0, theme::PROBE_IMAGE * 1.3);
                let key = v.refresh_decoding(m, snap.step);
                let tex = self.textures.entry(m.name.clone()).or_default();
                show_items(
                    ui,
                    tex,
                    &format!("slider-{}", m.name),
                    key,
                    ds,
                    &v.probe_decoded,
                    1,
                    size,
                    color,
                );
                egui::ScrollArea::vertical()
                    .id_salt(("sliders", &m.name))
                    .show(ui, |ui| {
                        for (i, (lo, hi)) in ranges.iter().enumerate().take(MAX_SLIDERS) {
                            ui.add(
                                egui::Slider::new(&mut v.probe[i], *lo..=*hi)
                                    .text(format!("z{}", i + 1)),
                            );
                        }
                        if d > MAX_SLIDERS {
                            ui.label(format!("(first {MAX_SLIDERS} of {d} dimensions)"));
                        }
                    });
            }
        });
    }
}
