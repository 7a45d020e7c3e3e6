//! Colours and sizes: one colour per model kind and per class, readable on a projector.

use crate::explore::colors::{class_rgb, model_rgb};
use crate::model::ModelKind;
use egui::Color32;

/// The colour of a model kind, used for its curves, frames and headers everywhere.
pub fn model_color(kind: ModelKind) -> Color32 {
    let [r, g, b] = model_rgb(kind);
    Color32::from_rgb(r, g, b)
}

/// The colour of a class in scatters and legends.
pub fn class_color(class: usize) -> Color32 {
    let [r, g, b] = class_rgb(class);
    Color32::from_rgb(r, g, b)
}

/// The colour of value `i` of `n` of an ordered factor (x, scale, ...): dark blue through
/// teal and green to yellow, as viridis, so order reads as brightness.
pub fn ordered_color(i: usize, n: usize) -> Color32 {
    const STOPS: [[f32; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if n > 1 {
        i.min(n - 1) as f32 / (n - 1) as f32
    } else {
        0.5
    };
    let at = t * (STOPS.len() - 1) as f32;
    let k = (at.floor() as usize).min(STOPS.len() - 2);
    let f = at - k as f32;
    let mix = |c: usize| (STOPS[k][c] * (1.0 - f) + STOPS[k + 1][c] * f).round() as u8;
    Color32::from_rgb(mix(0), mix(1), mix(2))
}

/// Text colour of error banners.
pub const ERROR: Color32 = Color32::from_rgb(220, 50, 47);
/// Text colour of warnings (a diverged model).
pub const WARNING: Color32 = Color32::from_rgb(203, 120, 0);
/// Status text while training runs.
pub const RUNNING: Color32 = Color32::from_rgb(40, 160, 60);
/// Status text when nothing happens, and hidden classes in the legend.
pub const QUIET: Color32 = Color32::GRAY;
/// Fill of the probe marker.
pub const PROBE: Color32 = Color32::from_rgb(250, 250, 250);
/// The pinned item's marker.
pub const PINNED: Color32 = Color32::from_rgb(255, 200, 0);
/// The drawn item's marker and ellipses.
pub const DRAWN: Color32 = Color32::from_rgb(0, 255, 170);
/// Dark outline colour for small markers on light backgrounds.
pub const MARKER_OUTLINE: Color32 = Color32::from_rgb(20, 20, 20);
/// Behind the notes written over a plot (t-SNE's "no inverse", its progress).
pub const PLOT_NOTE_BACKDROP: Color32 = Color32::from_rgba_premultiplied(16, 16, 16, 210);
/// A vq-vae's codebook entries on its latent plot, and the probe's "snapped to" line.
pub const CODEBOOK: Color32 = Color32::from_rgb(255, 240, 150);
/// Colour of the prior's σ circles.
pub const PRIOR: Color32 = Color32::from_rgb(235, 235, 235);
/// The running lesson's banner frame and its "Do:" / "Notice:" words.
pub const LESSON: Color32 = Color32::from_rgb(38, 139, 210);
/// Colour of data points drawn behind decoded points (2-D data sets).
pub const DATA_BACKDROP: Color32 = Color32::from_rgb(190, 190, 190);

/// The 1-pixel gap between items in a mosaic.
pub const MOSAIC_GAP: Color32 = Color32::from_gray(60);

/// Radius of a data point in the latent scatter, in points.
pub const POINT_RADIUS: f32 = 3.0;
/// Side of the probe's decoded image, in points.
pub const PROBE_IMAGE: f32 = 168.0;
/// Height of the loss plot, in points, at most; on a small window it takes at most
/// [`LOSS_PLOT_SHARE`] of the height so the latent plots keep their room.
pub const LOSS_PLOT_HEIGHT: f32 = 280.0;
/// Largest share of the window's height the loss plot takes.
pub const LOSS_PLOT_SHARE: f32 = 0.2;
/// Smallest height of the loss plot, in points.
pub const LOSS_PLOT_MIN: f32 = 130.0;
/// Side of one item in image rows (reconstructions, interpolation), in points.
pub const ITEM_IMAGE: f32 = 80.0;

/// Larger text than egui's defaults, so a class at the back can read it.
pub fn apply(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| {
        use egui::{FontFamily, FontId, TextStyle};
        style.text_styles = [
            (
                TextStyle::Small,
                FontId::new(15.0, FontFamily::Proportional),
            ),
            (TextStyle::Body, FontId::new(16.0, FontFamily::Proportional)),
            (
                TextStyle::Button,
                FontId::new(16.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Heading,
                FontId::new(22.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(15.0, FontFamily::Monospace),
            ),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.slider_width = 130.0;
    });
}
