//! The latent grid (the manifold figure): a k×k mosaic of decodings over the plotted
//! plane, with axes labelled in z. A VAE's cells sit at prior quantiles (inverse normal
//! CDF); an AE's span its codes' range. Redrawn only when a snapshot or the view changes.

use super::actions::Action;
use super::decodes::Decodes;
use super::items::{Tex, decode_failed_ui, key_of, mosaic, show_decoded};
use super::selection::Selection;
use super::selection::decode_class_ui;
use super::theme;
use super::view::{View, ViewCtx};
use crate::data::ItemShape;
use crate::explore::{GridSpan, grid_axis};
use crate::train::ModelSnapshot;
use egui::{RichText, Ui};
use egui_plot::{GridMark, Plot, PlotImage, PlotPoint};
use std::collections::HashMap;

/// State of the grid tab.
#[derive(Default)]
pub struct GridPanel {
    textures: HashMap<String, Tex>,
    decodes: Decodes,
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

/// Which cell (0 to k-1, low to high) holds plot coordinate `t` (0 to k) along an axis.
fn cell_at(t: f64, k: usize) -> usize {
    (t.max(0.0) as usize).min(k.saturating_sub(1))
}

/// The tick label at plot coordinate `t` along an axis whose cells sit at `zs` (low to
/// high): the z its cell was decoded at, written only at the cell's centre, since the
/// plot's edges (0 and k) are no cell's value (for the prior they are ±∞).
fn tick_label(zs: &[f32], t: f64) -> String {
    let i = (t - 0.5).round();
    if i < 0.0 || (t - 0.5 - i).abs() > 1e-6 {
        return String::new();
    }
    zs.get(i as usize)
        .map_or_else(String::new, |z| format!("{z:.2}"))
}

/// The least distance, in points, between two tick labels of a grid.
const TICK_GAP: f32 = 64.0;

/// Tick marks at cell centres, evenly spaced (at least `min_cells` cells apart) and
/// symmetric about the middle of the axis, where the prior's z is 0: the middle cell and
/// every `stride`-th from it on an odd grid; on an even one, whose middle is a boundary
/// between cells, pairs half an odd stride either side of it and every stride beyond.
fn cell_marks(k: usize, min_cells: f64) -> Vec<GridMark> {
    let mut stride = (min_cells.ceil() as usize).max(1);
    if k.is_multiple_of(2) && stride.is_multiple_of(2) {
        stride += 1;
    }
    (0..k)
        .filter(|&i| {
            // Twice the distance from the middle, in cells: an integer for every k.
            let twice = (2 * i).abs_diff(k - 1);
            let from_lattice = twice % (2 * stride);
            from_lattice == if k % 2 == 1 { 0 } else { stride }
        })
        .map(|i| GridMark {
            value: i as f64 + 0.5,
            step_size: stride as f64,
        })
        .collect()
}

/// Where the pointer is, whatever it is near.
pub fn hover_point(h: &egui_plot::HoverPosition<'_>) -> PlotPoint {
    match h {
        egui_plot::HoverPosition::NearDataPoint { position, .. }
        | egui_plot::HoverPosition::Elsewhere { position } => *position,
    }
}

impl View for GridPanel {
    fn busy(&self) -> bool {
        self.decodes.busy()
    }

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
            decode_class_ui(ui, cx.selection, cx.snap, cx.ds);
        });
        ui.columns(cx.snap.models.len().max(1), |cols| {
            for (ui, m) in cols.iter_mut().zip(&cx.snap.models) {
                let shown = ui.scope(|ui| self.model_ui(ui, m, cx, k)).response.rect;
                cx.rects.subject("grid", ui, shown);
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
        self.decodes.clear();
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
        let span = span(m, cx.selection);
        let codes = cell_codes(m, cx.selection, span, k);
        let key = key_of(&[cx.snap.step, k as u64], &codes);
        // Per k: a decoding of another k has another number of cells.
        let slot = format!("{}-{k}", m.name);
        let shown = self.decodes.get(
            ui.ctx(),
            &slot,
            key,
            &m.decoder,
            cx.selection.decode_class,
            || codes,
        );
        ui.horizontal(|ui| {
            ui.label(RichText::new(m.kind.title()).heading().color(color));
            if shown.as_ref().is_none_or(|s| s.stale) {
                ui.spinner()
                    .on_hover_text("decoding the grid of the newest snapshot");
            }
        });
        super::codebook::note_ui(ui, m, "each cell decodes the codebook entry nearest it");
        let Some(shown) = shown else {
            ui.label("decoding the grid…");
            return;
        };
        let tex = self.textures.entry(m.name.clone()).or_default();
        let side = ui
            .available_width()
            .min(ui.available_height() - 40.0)
            .max(60.0);
        let name = format!("grid-{}", m.name);
        if let Some(error) = shown.decoded.error() {
            decode_failed_ui(ui, error);
            return;
        }
        let (key, decoded) = (shown.key, shown.decoded);
        match cx.ds.shape {
            ItemShape::Image {
                channels,
                width,
                height,
            } => {
                let dims = (channels, width, height);
                let handle = tex
                    .get(ui.ctx(), &name, key, || mosaic(decoded.items(), dims, k))
                    .clone();
                let axes = [cx.selection.axis_name(m, 0), cx.selection.axis_name(m, 1)];
                image_plot_ui(ui, &m.name, &handle, axes, span, k, side);
            }
            ItemShape::Points { .. } => {
                let caption =
                    "decoded grid points (colour) over the data (gray): the model's manifold";
                ui.label(RichText::new(caption).small());
                show_decoded(ui, tex, &name, key, cx.ds, decoded, 1, side, color);
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
    // The z of every column and row, exactly as `cell_codes` decoded them.
    let [xs, ys] = [0, 1].map(|axis| grid_axis(k, span, axis));
    let (x_ticks, y_ticks, x_hover, y_hover) = (xs.clone(), ys.clone(), xs, ys);
    // A square room: a plot fills the width it is given, and the cells must stay square.
    let room = egui::vec2(side, side);
    ui.allocate_ui_with_layout(room, egui::Layout::top_down(egui::Align::Min), |ui| {
        ui.set_max_width(side);
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
            // The spacers get the plot units (cells) per TICK_GAP points as base_step_size.
            .grid_spacing(egui::Rangef::new(TICK_GAP, 300.0))
            .x_grid_spacer(move |input| cell_marks(k, input.base_step_size))
            .y_grid_spacer(move |input| cell_marks(k, input.base_step_size))
            .x_axis_formatter(move |mark, _| tick_label(&x_ticks, mark.value))
            .y_axis_formatter(move |mark, _| tick_label(&y_ticks, mark.value))
            .label_formatter(move |hover| {
                let p = hover_point(hover);
                let x = x_hover.get(cell_at(p.x, k))?;
                let y = y_hover.get(cell_at(p.y, k))?;
                Some(format!("this cell: z = ({x:.2}, {y:.2})"))
            })
            .show(ui, |pui| {
                pui.set_plot_bounds_x(0.0..=k as f64);
                pui.set_plot_bounds_y(0.0..=k as f64);
                let size = egui::vec2(k as f32, k as f32);
                let center = PlotPoint::new(half, half);
                pui.image(PlotImage::new("grid", mosaic.id(), center, size));
            });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ⁻¹(p) by bisection on Φ(x) = (1 + erf(x/√2))/2, with erf from its Taylor series
    /// (converges for every x; |x| < 6 here): independent of the rational approximation
    /// and the erfc continued fraction that `inverse_normal_cdf` uses.
    fn quantile_by_bisection(p: f64) -> f64 {
        let erf = |x: f64| {
            let (mut term, mut sum) = (x, x);
            for n in 1..400 {
                term *= -x * x / n as f64;
                let add = term / (2 * n + 1) as f64;
                sum += add;
                if add.abs() < 1e-18 {
                    break;
                }
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        };
        let (mut lo, mut hi) = (-6.0f64, 6.0f64);
        for _ in 0..80 {
            let mid = (lo + hi) / 2.0;
            if (1.0 + erf(mid / std::f64::consts::SQRT_2)) / 2.0 < p {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (lo + hi) / 2.0
    }

    /// The value a tick label shows (it has two decimals).
    fn shown(zs: &[f32], t: f64) -> f64 {
        tick_label(zs, t).parse().unwrap_or(f64::NAN)
    }

    #[test]
    fn prior_grid_labels_are_the_quantile_of_each_cell() {
        // Known quantiles: cell 19 of 20 sits at Φ⁻¹(0.975), cell 9 of 10 at Φ⁻¹(0.95).
        for (k, p, z) in [(20, 0.975, 1.959_963_985), (10, 0.95, 1.644_853_627)] {
            for axis in [0, 1] {
                let zs = grid_axis(k, GridSpan::Prior, axis);
                assert_eq!(tick_label(&zs, k as f64 - 0.5), format!("{z:.2}"));
                assert_eq!(tick_label(&zs, 0.5), format!("{:.2}", -z));
                assert!((quantile_by_bisection(p) - z).abs() < 1e-8);
            }
        }
        // Every cell of the default 15-cell grid, on both axes, against the bisection.
        for axis in [0, 1] {
            let zs = grid_axis(15, GridSpan::Prior, axis);
            for i in 0..15 {
                let expected = quantile_by_bisection((i as f64 + 0.5) / 15.0);
                let got = shown(&zs, i as f64 + 0.5);
                assert!(
                    (got - expected).abs() <= 0.005 + 1e-9,
                    "axis {axis}, cell {i}: label {got}, Φ⁻¹ = {expected}"
                );
            }
            // The plot's edges are no cell's value: no "-4.75" (the clamped Φ⁻¹(1e-6)).
            assert_eq!(tick_label(&zs, 0.0), "");
            assert_eq!(tick_label(&zs, 15.0), "");
            assert_eq!(tick_label(&zs, 7.0), "", "a boundary between cells");
        }
    }

    #[test]
    fn range_grid_labels_are_each_axis_own_cell_centres() {
        // An AE's grid over x in [0, 4] and y in [-2, 2]: the two axes differ.
        let span = GridSpan::Range((0.0, 4.0), (-2.0, 2.0));
        let (xs, ys) = (grid_axis(4, span, 0), grid_axis(4, span, 1));
        let labels = |zs: &[f32]| -> Vec<String> {
            (0..4).map(|i| tick_label(zs, i as f64 + 0.5)).collect()
        };
        assert_eq!(labels(&xs), ["0.50", "1.50", "2.50", "3.50"]);
        assert_eq!(labels(&ys), ["-1.50", "-0.50", "0.50", "1.50"]);
        // The hovered cell: its index from the plot coordinate, edges included.
        assert_eq!(
            [0.0, 0.99, 1.0, 3.7, 4.0].map(|t| cell_at(t, 4)),
            [0, 0, 1, 3, 3]
        );
    }

    #[test]
    fn tick_marks_sit_on_cell_centres_evenly_and_symmetrically() {
        let cells = |k: usize, min: f64| -> Vec<f64> {
            cell_marks(k, min).iter().map(|m| m.value - 0.5).collect()
        };
        // Wide cells: every one; narrow ones: evenly spaced about the middle.
        assert_eq!(cells(5, 0.5), [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(cells(15, 2.56), [1.0, 4.0, 7.0, 10.0, 13.0]);
        assert_eq!(cells(15, 6.0), [1.0, 7.0, 13.0]);
        assert_eq!(cells(20, 4.0), [2.0, 7.0, 12.0, 17.0]);
        assert_eq!(cells(20, 1.0), (0..20).map(f64::from).collect::<Vec<_>>());
        for k in 1..=30 {
            for min in [0.5, 1.5, 2.56, 4.0, 7.0] {
                let marks = cell_marks(k, min);
                let at: Vec<f64> = marks.iter().map(|m| m.value).collect();
                for (a, b) in at.iter().zip(at.iter().rev()) {
                    assert_eq!(a + b, k as f64, "k {k}, min {min}: {at:?} not symmetric");
                }
                for (w, m) in at.windows(2).zip(&marks) {
                    assert!(
                        w[1] - w[0] == m.step_size && m.step_size >= min,
                        "k {k}, min {min}: {at:?}"
                    );
                }
                if k % 2 == 1 {
                    assert!(at.contains(&(k as f64 / 2.0)), "k {k}: the middle cell");
                }
                if 2.0 * min.ceil() + 1.0 < k as f64 {
                    assert!(at.len() >= 2, "k {k}, min {min}: room for more than {at:?}");
                }
            }
        }
    }
}
