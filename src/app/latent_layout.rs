//! How the Latent tab arranges its model columns: how many rows and columns, and within
//! one column whether the probe's images go beside the plot or below it.

use super::latent::LatentPanel;
use super::theme;
use super::view::ViewCtx;
use egui::Ui;

/// Where the probe image goes: beside the plot when the column is wide, below when narrow.
#[derive(Clone, Copy)]
pub(super) struct Layout {
    /// True: the images go beside the plot; false: below it.
    pub(super) beside: bool,
    /// The plot's side, in points.
    pub(super) plot: f32,
    /// The probe image's side, in points.
    pub(super) image: f32,
}

impl Layout {
    /// Smallest plot side, in points.
    const MIN_PLOT: f32 = 80.0;
    /// The least width of a side column (its lines wrap to it), in points.
    pub(super) const TEXT: f32 = 66.0;

    /// The arrangement that gives the larger plot in a `w`×`h` column; `pinned`: room for
    /// the pinned item's input and decoding too, in a second column beside the probe's.
    pub(super) fn choose(w: f32, h: f32, pinned: bool) -> Self {
        let (beside, below) = Self::candidates(w, h, pinned);
        let best = if beside.plot >= below.plot {
            beside
        } else {
            below
        };
        Self {
            plot: best.plot.max(Self::MIN_PLOT),
            ..best
        }
    }

    /// Images beside the plot, and images below it; the images never outgrow the plot.
    fn candidates(w: f32, h: f32, pinned: bool) -> (Self, Self) {
        let columns = if pinned { 2.0 } else { 1.0 };
        let gaps = 12.0 * (columns - 1.0);
        let side = |image: f32| columns * image.max(Self::TEXT) + gaps;
        // Beside: the side columns take at most 30% of the width; under the probe's image
        // go its code and σ (about 80 points of text).
        let image_beside = theme::PROBE_IMAGE
            .min((w * 0.3 - gaps) / columns)
            .min(h - 130.0)
            .max(24.0);
        let plot_beside = (w - side(image_beside) - 12.0).min(h - 8.0);
        let beside = Self {
            beside: true,
            plot: plot_beside,
            image: image_beside.min(plot_beside * 0.7).max(24.0),
        };
        let image_below = theme::PROBE_IMAGE
            .min(h * 0.3)
            .min((w - gaps) / columns * 0.9)
            .max(24.0);
        let below = Self {
            beside: false,
            plot: w.min(h - image_below - 100.0),
            image: image_below,
        };
        (beside, below)
    }
}

impl LatentPanel {
    /// Every model's column, in rows when that gives larger plots (six models on a
    /// projector).
    pub(super) fn models_ui(
        &mut self,
        ui: &mut Ui,
        cx: &mut ViewCtx<'_>,
        shared: Option<[[f64; 2]; 2]>,
    ) {
        let n = cx.snap.models.len().max(1);
        let (rows, cols) = grid_shape(n, ui.available_width(), ui.available_height());
        let row_height = ui.available_height() / rows as f32;
        let snap = cx.snap;
        for row in snap.models.chunks(cols) {
            let size = egui::vec2(ui.available_width(), row_height);
            ui.allocate_ui(size, |ui| {
                ui.columns(cols, |columns| {
                    for (ui, m) in columns.iter_mut().zip(row) {
                        // Each model's column is framed in its colour, as its curves are.
                        egui::Frame::new()
                            .stroke(egui::Stroke::new(
                                1.5,
                                theme::model_color(m.kind).gamma_multiply(0.7),
                            ))
                            .corner_radius(4.0)
                            .inner_margin(6.0)
                            .show(ui, |ui| self.model_ui(ui, m, cx, shared));
                    }
                });
            });
        }
    }
}

/// The height of a model column's header (its name, the plane or view menu), in points.
const HEADER: f32 = 30.0;

/// Rows and columns for `n` model panels in a `w`×`h` area: the shape whose plots are
/// largest.
pub(super) fn grid_shape(n: usize, w: f32, h: f32) -> (usize, usize) {
    let n = n.max(1);
    (1..=n)
        .map(|rows| {
            let cols = n.div_ceil(rows);
            // Room per panel, less its frame and header.
            let side = plot_side(w / cols as f32 - 20.0, h / rows as f32 - 12.0 - HEADER);
            (side, rows, cols)
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or((1, n), |(_, rows, cols)| (rows, cols))
}

/// The side of the latent plot that a `w`×`h` panel gets (before the minimum size, so that
/// arrangements too small for any plot compare by how small they are).
fn plot_side(w: f32, h: f32) -> f32 {
    let (beside, below) = Layout::candidates(w, h, false);
    beside.plot.max(below.plot)
}

#[cfg(test)]
mod tests {
    use super::grid_shape;

    #[test]
    fn models_wrap_into_rows_only_when_that_gives_larger_plots() {
        // Two models on a wide, low strip (a projector at 1280x720, zoomed 1.6): side by side.
        assert_eq!(grid_shape(2, 800.0, 200.0), (1, 2));
        // Six models in the central area of a 1600x1000 window: two rows of three.
        assert_eq!(grid_shape(6, 1280.0, 700.0), (2, 3));
        // Six models in a tall narrow area: more rows.
        assert_eq!(grid_shape(6, 400.0, 1500.0), (6, 1));
        assert_eq!(grid_shape(1, 300.0, 300.0), (1, 1));
        // Four models in the Latent tab at 1280x720 (vae, cvae, iwae, vq-vae): one row. Two
        // rows of two left each plot 85 points high once the column headers took their share.
        assert_eq!(grid_shape(4, 928.0, 315.0), (1, 4));
    }
}
