//! The latent grid (the manifold figure): a k×k mosaic of decodings over the plotted
//! plane, with axes labelled in z. A VAE's cells sit at prior quantiles (inverse normal
//! CDF); an AE's span its codes' range. Redrawn only when a snapshot or the view changes.

use super::actions::Action;
use super::items::{Tex, key_of, mosaic, show_items};
use super::selection::Selection;
use super::theme;
use super::view::{View, ViewCtx};
use crate::data::ItemShape;
use crate::explore::{GridSpan, grid_axis, inverse_normal_cdf};
use crate::train::ModelSnapshot;
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
fn span(m: &ModelSnapshot, selection: &Selection) -> GridSpan {
    if m.kind.is_variational() {
        GridSpan::Prior
    } else {
        let (x, y) = selection.code_box(m);
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

impl View for GridPanel {
    fn title(&self) -> &'static str {
        "Latent grid"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "A k × k map of the latent plane: each cell decodes one point z.",
            ABOUT,
        )
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        let mut k = cx.settings.grid_k;
        ui.horizontal(|ui| {
            ui.label("cells per side");
            ui.add(egui::Slider::new(&mut k, 5..=30));
        });
        ui.columns(cx.snap.models.len().max(1), |cols| {
            for (ui, m) in cols.iter_mut().zip(&cx.snap.models) {
                self.model_ui(ui, m, cx, k);
            }
        });
        if k == cx.settings.grid_k {
            Vec::new()
        } else {
            vec![Action::SetGridK(k)]
        }
    }

    fn clear(&mut self) {
        self.textures.clear();
        self.decoded.clear();
    }
}

const ABOUT: &str = "Axes: the same two code coordinates as the latent scatter, labelled in \
    z. Each cell is the decoder's output for the z at the cell's centre (no sampling; pixel \
    probabilities); the other dimensions of z stay at the probe's values. A VAE's cells sit \
    at equal-probability steps of its prior, z = Φ^-1((i + ½)/k) (the inverse normal CDF): dense near 0, wide in the \
    tails, so the grid covers where the prior puts its mass and every cell is a typical \
    sample. An AE has no prior, so its grid spans the range of its test codes instead; cells \
    between its clusters hold codes no input maps to, which is why some decode to blends or \
    noise. For 2-D point data the decoded grid points (colour) are drawn over the data \
    (grey): the curve the decoder can produce.";

impl GridPanel {
    /// One model's column: its `k`×`k` decodings as an image plot (or points over the data).
    fn model_ui(&mut self, ui: &mut Ui, m: &ModelSnapshot, cx: &ViewCtx<'_>, k: usize) {
        let color = theme::model_color(m.kind);
        ui.label(RichText::new(m.kind.title()).heading().color(color));
        let span = span(m, cx.selection);
        let codes = cell_codes(m, cx.selection, span, k);
        let key = key_of(&[cx.snap.step, k as u64], &codes);
        let entry = self
            .decoded
            .entry(m.name.clone())
            .or_insert((u64::MAX, Vec::new()));
        if entry.0 != key {
            *entry = (key, m.decoder.decode(&codes).unwrap_or_default());
        }
        let tex = self.textures.entry(m.name.clone()).or_default();
        let side = ui
            .available_width()
            .min(ui.available_height() - 40.0)
            .max(150.0);
        let name = format!("grid-{}", m.name);
        match cx.ds.shape {
            ItemShape::Image { width, height } => {
                let handle = tex
                    .get(ui.ctx(), &name, key, || mosaic(&entry.1, width, height, k))
                    .clone();
                let axes = [cx.selection.axis_name(m, 0), cx.selection.axis_name(m, 1)];
                image_plot_ui(ui, &m.name, &handle, axes, span, k, side);
            }
            ItemShape::Points { .. } => {
                let caption =
                    "decoded grid points (colour) over the data (gray): the model's manifold";
                ui.label(RichText::new(caption).small());
                show_items(ui, tex, &name, key, cx.ds, &entry.1, 1, side, color);
            }
        }
    }
}

/// The codes of the grid's cells, row by row from the top, on the shown plane.
fn cell_codes(m: &ModelSnapshot, selection: &Selection, span: GridSpan, k: usize) -> Vec<f32> {
    let xs = grid_axis(k, span, 0);
    let ys = grid_axis(k, span, 1);
    let mut codes = Vec::with_capacity(k * k * m.latent_dim);
    for &y in ys.iter().rev() {
        for &x in &xs {
            codes.extend(selection.code_at(m, [f64::from(x), f64::from(y)]));
        }
    }
    codes
}

/// The mosaic as a plot with its axes labelled in z.
fn image_plot_ui(
    ui: &mut Ui,
    model: &str,
    mosaic: &egui::TextureHandle,
    [x_name, y_name]: [String; 2],
    span: GridSpan,
    k: usize,
    side: f32,
) {
    let half = k as f64 / 2.0;
    Plot::new(("grid", model))
        .width(side)
        .height(side)
        .data_aspect(1.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_grid(false)
        .x_axis_label(x_name)
        .y_axis_label(y_name)
        .x_axis_formatter(move |mark, _| format!("{:.1}", z_at(span, 0, mark.value, k)))
        .y_axis_formatter(move |mark, _| format!("{:.1}", z_at(span, 1, mark.value, k)))
        .label_formatter(move |hover| {
            let p = hover_point(hover);
            let (x, y) = (z_at(span, 0, p.x, k), z_at(span, 1, p.y, k));
            Some(format!("z = ({x:.2}, {y:.2})"))
        })
        .show(ui, |pui| {
            pui.set_plot_bounds_x(0.0..=k as f64);
            pui.set_plot_bounds_y(0.0..=k as f64);
            let size = egui::vec2(k as f32, k as f32);
            let center = PlotPoint::new(half, half);
            pui.image(PlotImage::new("grid", mosaic.id(), center, size));
        });
}
