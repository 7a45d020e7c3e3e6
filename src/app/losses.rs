//! Live loss curves: per model, reconstruction, KL and total; train smoothed (lines) and
//! test per epoch (markers), in nats per item.

use super::history::{Curve, LossHistory, LossPoint, ModelHistory};
use super::theme;
use egui::{RichText, Ui};
use egui_plot::{Legend, Line, LineStyle, MarkerShape, Plot, Points};

/// State of the loss plot.
pub struct LossesPanel {
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Which curves are drawn.
    pub curves: [bool; 3],
}

impl Default for LossesPanel {
    fn default() -> Self {
        Self {
            log_y: true,
            curves: [true, true, true],
        }
    }
}

impl LossesPanel {
    /// Draws the plot, `height` points tall.
    pub fn ui(&mut self, ui: &mut Ui, history: &LossHistory, height: f32) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Losses").strong());
            ui.label(
                RichText::new(
                    "nats per item · lines: training (smoothed) · dots: test, per epoch · \
                click a legend entry to hide it",
                )
                .weak(),
            );
            for c in Curve::ALL {
                ui.checkbox(&mut self.curves[c as usize], c.label());
            }
            ui.checkbox(&mut self.log_y, "log y");
        });
        let log_y = self.log_y;
        Plot::new("losses")
            .height(height)
            .legend(Legend::default().position(egui_plot::Corner::RightBottom))
            .x_axis_label("epoch")
            .y_axis_formatter(move |mark, _| y_tick(mark.value, log_y))
            .label_formatter(move |hover| hover_text(hover, log_y))
            .allow_scroll(false)
            .show(ui, |pui| {
                for m in &history.models {
                    for c in Curve::ALL.into_iter().filter(|c| self.curves[*c as usize]) {
                        if c != Curve::Kl || m.kind.is_variational() {
                            curve_ui(pui, m, c, log_y);
                        }
                    }
                }
            });
    }
}

/// A value as plotted: its log10 on a log axis (floored at 1e-3).
fn plotted(v: f64, log_y: bool) -> f64 {
    if log_y { v.max(1e-3).log10() } else { v }
}

/// A plotted value back in nats.
fn nats(y: f64, log_y: bool) -> f64 {
    if log_y { 10f64.powf(y) } else { y }
}

/// A y-axis tick label in nats, with fewer decimals for larger values.
fn y_tick(y: f64, log_y: bool) -> String {
    let v = nats(y, log_y);
    let decimals = if v.abs() >= 10.0 {
        0
    } else if v.abs() >= 1.0 {
        1
    } else {
        2
    };
    format!("{v:.decimals$}")
}

/// The curve, epoch and value under the pointer.
fn hover_text(hover: &egui_plot::HoverPosition<'_>, log_y: bool) -> Option<String> {
    let egui_plot::HoverPosition::NearDataPoint {
        plot_name,
        position,
        ..
    } = hover
    else {
        return None;
    };
    let v = nats(position.y, log_y);
    Some(format!("{plot_name}\nepoch {:.2}\n{v:.2} nats", position.x))
}

/// One curve of one model: training as a line, test as dots.
fn curve_ui(pui: &mut egui_plot::PlotUi<'_>, m: &ModelHistory, c: Curve, log_y: bool) {
    let color = theme::model_color(m.kind);
    let name = format!("{} {}", m.kind.title(), c.label());
    let style = match c {
        Curve::Total => LineStyle::Solid,
        Curve::Recon => LineStyle::dashed_dense(),
        Curve::Kl => LineStyle::dotted_dense(),
    };
    let points = |ps: &[LossPoint]| -> Vec<[f64; 2]> {
        ps.iter()
            .map(|p| [p.epoch, plotted(p.get(c), log_y)])
            .collect()
    };
    let line = Line::new(name.clone(), points(&m.train));
    pui.line(line.color(color).style(style).width(2.0));
    let test = points(&m.test);
    if !test.is_empty() {
        let dots = Points::new(name, test)
            .color(color)
            .shape(MarkerShape::Circle);
        pui.points(dots.radius(4.5).filled(true));
    }
}
