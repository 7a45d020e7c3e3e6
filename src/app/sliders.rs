//! One slider per z dimension for every model (the same code as the latent probe), with
//! each model's decoding updating live; sample the prior or jump to a class's mean code.

use super::actions::Action;
use super::items::{Tex, show_decoded};
use super::selection::decode_class_ui;
use super::theme;
use super::view::{View, ViewCtx};
use crate::explore::scores::{ACTIVE_UNIT_VARIANCE, code_variances};
use crate::train::ModelSnapshot;
use egui::{RichText, Ui};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;

/// State of the sliders tab.
#[derive(Default)]
pub struct SlidersPanel {
    class: usize,
    draws: u64,
    /// The sliders hold a draw from N(0, I) that nobody has moved since.
    from_prior: bool,
    textures: HashMap<String, Tex>,
    /// A conditional model's row: the sliders' z decoded as every class.
    class_rows: super::class_rows::ClassRows,
}

/// What a prior sample means for a model without a prior, said where it happens.
const NO_PRIOR: &str = "An AE has no prior: this z ~ N(0, I) is just a point near its \
    origin, which may lie between or outside its clusters (its sliders span the range of its \
    codes and hold a value beyond it at the end).";

const ABOUT: &str = "Each slider sets one coordinate z_j of the code; the image is the \
    decoder's output for exactly that z (no sampling; pixel probabilities), so moving one \
    slider shows what that dimension controls. The sliders and the latent probe are the same \
    point. A VAE's sliders span ±3, its prior's scale; an AE's span the range of its test \
    codes. \"Sample from the prior\" sets every model's sliders to a random z ~ N(0, I): for \
    the VAE a draw from the prior it was trained toward, which decodes to something \
    data-like. An AE has no prior: N(0, I) means nothing to it, its codes live on their own \
    scale, so the same draw is an arbitrary point that often decodes to a blend or a blur. \
    \"Set to the mean code of this class\" moves each model to the mean code of that class's \
    test items (for a VAE, the mean of μ).";

/// What an unused (inactive) dimension is, for hover texts.
const UNUSED: &str = "An unused dimension (not an active unit, Burda et al. 2016): its mean \
    code μ_j varies by less than 0.01 over the test items, so the encoder says the same for \
    every input. Its slider still changes the decoding if the decoder reads z_j; in a \
    collapsed VAE dimension it usually does nothing.";

/// Most sliders shown per model (codes can have up to 64 dimensions).
const MAX_SLIDERS: usize = 32;

impl View for SlidersPanel {
    fn title(&self) -> &'static str {
        "Sliders"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "One slider per coordinate of the code z; each image decodes that z.",
            ABOUT,
        )
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        ui.horizontal(|ui| {
            self.toolbar_ui(ui, cx);
            decode_class_ui(ui, cx.selection, cx.snap, cx.ds);
        });
        ui.separator();
        ui.columns(cx.snap.models.len().max(1), |cols| {
            for (ui, m) in cols.iter_mut().zip(&cx.snap.models) {
                self.model_ui(ui, m, cx);
            }
        });
        Vec::new()
    }

    fn clear(&mut self) {
        self.textures.clear();
        self.class_rows.clear();
    }
}

impl SlidersPanel {
    /// Sample the prior, or jump to a class's mean code.
    fn toolbar_ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) {
        let sample = ui
            .button(RichText::new("Sample from the prior").strong())
            .on_hover_text("z ~ N(0, I) for every model. An AE has no prior: for it this is an arbitrary point.");
        cx.rects.subject("sliders", ui, sample.rect);
        if sample.clicked() {
            self.from_prior = true;
            self.draws += 1;
            let mut rng = crate::rng::PortableRng::seed_from_u64(self.draws);
            for m in &cx.snap.models {
                let z = (0..m.latent_dim)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                cx.selection.set_probe(&m.name, z);
            }
        }
        ui.separator();
        let class_label = ui.label("class");
        egui::ComboBox::from_id_salt("slider-class")
            .selected_text(
                cx.ds
                    .class_names
                    .get(self.class)
                    .cloned()
                    .unwrap_or_default(),
            )
            .show_ui(ui, |ui| {
                for (c, name) in cx.ds.class_names.iter().enumerate() {
                    ui.selectable_value(&mut self.class, c, name);
                }
            })
            .response
            .labelled_by(class_label.id);
        if ui.button("Set to the mean code of this class").clicked() {
            self.from_prior = false;
            for m in &cx.snap.models {
                if let Some(mean) = class_mean(m, &cx.snap.display_labels, self.class) {
                    cx.selection.set_probe(&m.name, mean);
                }
            }
        }
    }

    /// One model's column: the probe's decoding and one slider per dimension.
    fn model_ui(&mut self, ui: &mut Ui, m: &ModelSnapshot, cx: &mut ViewCtx<'_>) {
        let color = theme::model_color(m.kind);
        ui.label(RichText::new(m.kind.title()).heading().color(color));
        if let Some(snapped) = cx
            .selection
            .probes
            .get(&m.name)
            .and_then(|p| super::codebook::snapped_caption(m, &p.code))
        {
            super::codebook::note_ui(ui, m, &format!("decodes the nearest entry: {snapped}"));
        }
        let ranges = slider_ranges(m);
        let active = active_dims(m, ranges.len());
        let order = slider_order(&active);
        if m.latent_dim > 2 {
            let n = active.iter().filter(|&&a| a).count();
            ui.label(format!("{n} of {} active; unused last, grey", m.latent_dim))
                .on_hover_text(UNUSED);
        }
        let Some(probe) = cx.selection.probes.get_mut(&m.name) else {
            return;
        };
        probe.code.resize(ranges.len(), 0.0);
        // The sliders come first and the image takes the height that is left, so the
        // sliders a lesson points at are never pushed below the window.
        let shown = ranges.len().min(MAX_SLIDERS);
        let row = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
        let sliders_height = (shown as f32 * row).min(ui.available_height() * 0.6);
        let sliders = egui::ScrollArea::vertical()
            .id_salt(("sliders", &m.name))
            .max_height(sliders_height)
            .show(ui, |ui| {
                // The value box and the "z12" label sit beside each slider.
                // An unused dimension's label ("z12 · unused") is wider.
                let label = if active.iter().all(|&a| a) {
                    150.0
                } else {
                    210.0
                };
                ui.spacing_mut().slider_width = (ui.available_width() - label).max(40.0);
                for &i in order.iter().take(MAX_SLIDERS) {
                    let (lo, hi) = ranges[i];
                    let label = if active[i] {
                        RichText::new(format!("z{}", i + 1)).strong()
                    } else {
                        RichText::new(format!("z{} · unused", i + 1)).color(theme::QUIET)
                    };
                    let slider = egui::Slider::new(&mut probe.code[i], lo..=hi).text(label);
                    let slider = ui.add(slider);
                    if !active[i] {
                        slider.clone().on_hover_text(UNUSED);
                    }
                    if slider.changed() {
                        self.from_prior = false;
                    }
                }
                if ranges.len() > MAX_SLIDERS {
                    ui.label(format!(
                        "(first {MAX_SLIDERS} of {} dimensions)",
                        ranges.len()
                    ));
                }
            });
        cx.rects.subject("sliders", ui, sliders.inner_rect);
        let warning = self.from_prior && !m.kind.is_variational();
        // A conditional model shows the same z as every class in a row under its image.
        let class_row = m.decoder.classes > 0 && cx.ds.shape.is_image();
        let row_height = if class_row {
            super::class_rows::one_row_height(ui, m.decoder.classes)
        } else {
            0.0
        };
        let below = if warning { 40.0 } else { 8.0 } + row_height;
        let size = (ui.available_width() * 0.8)
            .min(ui.available_height() - below)
            .clamp(48.0, theme::PROBE_IMAGE * 1.6);
        let key = probe.refresh_decoding(m, cx.snap.step, cx.selection.decode_class);
        let tex = self.textures.entry(m.name.clone()).or_default();
        let name = format!("slider-{}", m.name);
        let image = show_decoded(ui, tex, &name, key, cx.ds, &probe.decoded, 1, size, color);
        cx.rects.subject("slider images", ui, image.rect);
        if class_row {
            let caption = "this z as every class: the class changes, the style stays";
            let weights = std::sync::Arc::as_ptr(&m.decoder) as u64;
            let key = super::items::key_of(&[weights], &probe.code);
            self.class_rows.ui(ui, m, cx.ds, &probe.code, key, caption);
        }
        if warning {
            ui.add(egui::Label::new(RichText::new(NO_PRIOR).color(theme::WARNING)).wrap());
        }
    }
}

/// The range of each slider: a VAE's codes live on the prior's scale, an AE's wherever
/// training put them. At least one slider, as before for a 0-dimensional code.
fn slider_ranges(m: &ModelSnapshot) -> Vec<(f32, f32)> {
    let d = m.latent_dim.max(1);
    (0..d)
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
        .collect()
}

/// Whether each of the `d` dimensions is an active unit of `m` (every one when the
/// snapshot has no codes yet, so nothing is greyed before there is evidence).
fn active_dims(m: &ModelSnapshot, d: usize) -> Vec<bool> {
    if m.codes.len() < 2 * d.max(1) || m.latent_dim != d {
        return vec![true; d];
    }
    code_variances(&m.codes, d)
        .iter()
        .map(|&v| v > ACTIVE_UNIT_VARIANCE)
        .collect()
}

/// The order of the sliders: active dimensions first, then the unused ones, each in the
/// dimensions' own order (so a slider does not move while it is being dragged).
fn slider_order(active: &[bool]) -> Vec<usize> {
    let (mut first, last): (Vec<usize>, Vec<usize>) = (0..active.len()).partition(|&i| active[i]);
    first.extend(last);
    first
}

/// The mean code of the display items of `class`, or `None` if there are none.
fn class_mean(m: &ModelSnapshot, labels: &[u32], class: usize) -> Option<Vec<f32>> {
    let d = m.latent_dim;
    if d == 0 {
        return None;
    }
    let mut mean = vec![0.0f32; d];
    let mut n = 0.0f32;
    for (code, &l) in m.codes.chunks_exact(d).zip(labels) {
        if l as usize == class {
            mean.iter_mut().zip(code).for_each(|(a, b)| *a += b);
            n += 1.0;
        }
    }
    (n > 0.0).then(|| mean.iter().map(|x| x / n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_dimensions_come_first_each_group_in_its_own_order() {
        let active = [false, true, false, true, true];
        assert_eq!(slider_order(&active), vec![1, 3, 4, 0, 2]);
        assert_eq!(slider_order(&[true, true]), vec![0, 1]);
        assert_eq!(slider_order(&[]), Vec::<usize>::new());
    }
}
