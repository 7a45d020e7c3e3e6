//! The latent grid (the manifold figure): a k×k mosaic of decodings over the plotted
//! plane, with axes labelled in z. A VAE's cells sit at prior quantiles (inverse normal
//! CDF); an AE's span its codes' range. Redrawn only when a snapshot or the view changes.

use super::items::{Tex, key_of, show_items};
use super::latent::LatentPanel;
use super::theme;
use crate::data::{Dataset, ItemShape};
use crate::explore::{GridSpan, grid_axis, inverse_normal_cdf};
use crate::train::{ModelSnapshot, Snapshot};
use egui::{RichText, Ui};
use egui_plot::{Plot, PlotImage, PlotPoint};
use std::collections::HashMap;

/// State of the grid tab.
#[derive(Default)]
pub struct GridPanel {
    textures: HashMap<String, Tex>,
    decoded: HashMap<String, (u64, Vec<f32>)>,
}

/// The span of a model's grid on the shown plane.
fn span(m: &ModelSnapshot, latent: &LatentPanel) -> GridSpan {
    if m.kind.is_variational() {
        GridSpan::Prior
    } else {
        let (x, y) = latent.code_box(m);
        GridSpan::Range(x, y)
    }
}

/// The z value at fractional cell position `t` (0 to k) along one axis.
fn z_at(span: GridSpan, axis: usize, t: f64, k: usize) -> f64 {
    let u = (t / k as f64).clamp(1e-6, 1.0 - 1e-6);
    match span {
        GridSpan::Prior => inverse_normal_cdf(u),
        GridSpan::Range(x, y) => {
            let (lo, hi) = if axis == 0 { x } else { y };
            f64::from(lo) + f64::from(hi - lo) * u
        }
    }
}

/// Where the pointer is, whatever it is near.
pub fn hover_point(h: &egui_plot::HoverPosition<'_>) -> PlotPoint {
    match h {
        egui_plot::HoverPosition::NearDataPoint { position, .. }
        | egui_plot::HoverPosition::Elsewhere { position } => *position,
    }
}

impl GridPanel {
    /// Forgets cached grids (after a reset).
    pub fn clear(&mut self) {
        self.textures.clear();
        self.decoded.clear();
    }

    /// Draws the tab; `k` is the grid side (adjustable here).
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        k: &mut usize,
        snap: &Snapshot,
        ds: &Dataset,
        latent: &LatentPanel,
    ) {
        ui.horizontal(|ui| {
            ui.label("cells per side");
            ui.add(egui::Slider::new(k, 5..=30));
        });
        ui.label(RichText::new("Each cell is the decoding of one point of the plane, on the same axes as the scatter. A VAE's cells sit at quantiles of the prior N(0, I); an AE's cover the range of its codes.").weak());
        let k = *k;
        ui.columns(snap.models.len().max(1), |cols| {
            for (ui, m) in cols.iter_mut().zip(&snap.models) {
                ui.label(RichText::new(m.kind.title()).heading().color(theme::model_color(m.kind)));
                let span = span(m, latent);
                let xs = grid_axis(k, span, 0);
                let ys = grid_axis(k, span, 1);
                let mut codes = Vec::with_capacity(k * k * m.latent_dim);
                for &y in ys.iter().rev() {
                    for &x in &xs {
                        codes.extend(latent.code_at(m, [f64::from(x), f64::from(y)]));
                    }
                }
                let key = key_of(&[snap.step, k as u64], &codes);
                let entry = self.decoded.entry(m.name.clone()).or_insert((u64::MAX, Vec::new()));
                if entry.0 != key {
                    *entry = (key, m.decoder.decode(&codes).unwrap_or_default());
                }
                let tex = self.textures.entry(m.name.clone()).or_default();
                let side = ui.available_width().min(ui.available_height() - 40.0).max(150.0);
                match ds.shape {
                    ItemShape::Image { width, height } => {
                        let handle = tex.get(ui.ctx(), &format!("grid-{}", m.name), key, || super::items::mosaic(&entry.1, width, height, k)).clone();
                        let (xn, yn) = (latent.axis_name(m, 0), latent.axis_name(m, 1));
                        Plot::new(("grid", &m.name))
                            .width(side)
                            .height(side)
                            .data_aspect(1.0)
                            .allow_drag(false)
                            .allow_zoom(false)
                            .allow_scroll(false)
                            .allow_boxed_zoom(false)
                            .show_grid(false)
                            .x_axis_label(xn)
                            .y_axis_label(yn)
                            .x_axis_formatter(move |mark, _| format!("{:.1}", z_at(span, 0, mark.value, k)))
                            .y_axis_formatter(move |mark, _| format!("{:.1}", z_at(span, 1, mark.value, k)))
                            .label_formatter(move |hover| {
                                let p = hover_point(hover);
                                Some(format!("z = ({:.2}, {:.2})", z_at(span, 0, p.x, k), z_at(span, 1, p.y, k)))
                            })
                            .show(ui, |pui| {
                                pui.set_plot_bounds_x(0.0..=k as f64);
                                pui.set_plot_bounds_y(0.0..=k as f64);
                                pui.image(PlotImage::new("grid", handle.id(), PlotPoint::new(k as f64 / 2.0, k as f64 / 2.0), egui::vec2(k as f32, k as f32)));
                            });
                    }
                    ItemShape::Points { .. } => {
                        ui.label(RichText::new("decoded grid points (colour) over the data (gray): the model's manifold").small());
                        show_items(ui, tex, &format!("grid-{}", m.name), key, ds, &entry.1, 1, side, theme::model_color(m.kind));
                    }
                }
            }
        });
    }
}
