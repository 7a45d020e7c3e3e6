//! Live loss curves: per model, reconstruction, KL and total; train smoothed (lines) and
//! test per epoch (markers), in nats per item.

use super::history::{Curve, LossHistory};
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
            ui.label(RichText::new("nats per item · lines: training (smoothed) · dots: test, per epoch · click a legend entry to hide it").weak());
            for c in Curve::ALL {
                ui.checkbox(&mut self.curves[c as usize], c.label());
            }
            ui.checkbox(&mut self.log_y, "log y");
        });
        let log_y = self.log_y;
        let y = move |v: f64| if log_y { v.max(1e-3).log10() } else { v };
        Plot::new("losses")
            .height(height)
            .legend(Legend::default().position(egui_plot::Corner::RightBottom))
            .x_axis_label("epoch")
            .y_axis_formatter(move |mark, _| {
                let v = if log_y {
                    10f64.powf(mark.value)
                } else {
                    mark.value
                };
                let decimals = if v.abs() >= 10.0 {
                    0
                } else if v.abs() >= 1.0 {
                    1
                } else {
                    2
                };
                format!("{v:.decimals$}")
            })
            .label_formatter(move |hover| {
                let egui_plot::HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } = hover
                else {
                    return None;
                };
                let v = if log_y {
                    10f64.powf(position.y)
                } else {
                    position.y
                };
                Some(format!("{plot_name}\nepoch {:.2}\n{v:.2} nats", position.x))
            })
            .allow_scroll(false)
            .show(ui, |pui| {
                for m in &history.models {
                    let color = theme::model_color(m.kind);
                    for c in Curve::ALL.into_iter().filter(|c| self.curves[*c as usize]) {
                        if c == Curve::Kl && !m.kind.is_variational() {
                            continue;
                        }
                        let name = format!("{} {}", m.kind.title(), c.label());
                        let style = match c {
                            Curve::Total => LineStyle::Solid,
                            Curve::Recon => LineStyle::dashed_dense(),
                            Curve::Kl => LineStyle::dotted_dense(),
                        };
                        let pts: Vec<[f64; 2]> =
                            m.train.iter().map(|p| [p.epoch, y(p.get(c))]).collect();
                        pui.line(
                            Line::new(name.clone(), pts)
                                .color(color)
                                .style(style)
                                .width(2.0),
                        );
                        let test: Vec<[f64; 2]> =
                            m.test.iter().map(|p| [p.epoch, y(p.get(c))]).collect();
                        if !test.is_empty() {
                            pui.points(
                                Points::new(name, test)
                                    .color(color)
                                    .shape(MarkerShape::Circle)
                                    .radius(4.5)
                                    .filled(true),
                            );
                        }
                    }
                }
            });
    }
}
