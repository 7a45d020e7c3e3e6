//! Live loss curves in nats per item: one small plot per term (reconstruction, KL for the
//! VAE kinds, total) side by side on a shared step axis, one colour per model, training
//! smoothed as lines and test evaluations as dots. The legend is a row above the plots, so
//! it never covers the newest points.
//!
//! Why separate plots rather than line styles in one: on a projector a dashed and a solid
//! line of the same colour are hard to tell apart, and recon and total of an AE are the
//! same curve; one plot per term needs no style legend, and each gets its own y range.

use super::history::{Curve, LossHistory, LossPoint, ModelHistory};
use super::theme;
use super::ticks::{format_nats, log_marks, step_marks};
use crate::model::iwae;
use egui::{RichText, Ui};
use egui_plot::{Line, MarkerShape, Plot, PlotUi, Points};
use std::collections::BTreeSet;

/// State of the loss plots.
pub struct LossesPanel {
    /// Logarithmic y axes where every value is positive.
    pub log_y: bool,
    /// Which terms get a plot, indexed like [`Curve::ALL`].
    pub curves: [bool; 3],
    /// Models the user hid by clicking their legend entry.
    pub hidden_models: BTreeSet<String>,
    /// The step the tabs show while scrubbed back along the timeline: a vertical line.
    pub marker_step: Option<f64>,
}

impl Default for LossesPanel {
    fn default() -> Self {
        Self {
            log_y: true,
            curves: [true, true, true],
            hidden_models: BTreeSet::new(),
            marker_step: None,
        }
    }
}

/// Height of the title row above each plot, in points.
const TITLE_HEIGHT: f32 = 22.0;

const ABOUT: &str = "Each plot is one term of the loss, in nats per item (lower is better), \
    against optimiser steps. Lines: training loss, smoothed over recent batches. Dots: the \
    whole test set, at each epoch end. Reconstruction is −log p(x | z), how badly the decoding \
    explains the input; KL is how far the VAE's posterior q(z | x) is from the prior N(0, I); \
    total is what training minimises: reconstruction + β·KL for the VAE kinds (β = 1 for the \
    VAE), reconstruction + penalty for the sparse and contractive AEs and the VQ-VAE (its \
    codebook and commitment terms; it has no KL), and the reconstruction alone for the plain \
    AE. The IWAE's total is −L_k, its k-sample importance-weighted bound (what it trains on), \
    while its reconstruction and KL are the one-sample ELBO's terms: its total sits below its \
    reconstruction + KL by what the k samples gain. The y axes are logarithmic only where every value is positive: \
    with a Gaussian likelihood (2-D data sets) the reconstruction can be negative, and those \
    plots switch to a linear axis.";

impl LossesPanel {
    /// Draws the legend row and the plots; the plots are `height` points tall with their
    /// titles. `steps_per_epoch` turns steps into epochs in the hover text.
    pub fn ui(&mut self, ui: &mut Ui, history: &LossHistory, height: f32, steps_per_epoch: usize) {
        self.header_ui(ui, history);
        let any_variational = history.models.iter().any(|m| m.kind.is_variational());
        let shown: Vec<Curve> = Curve::ALL
            .into_iter()
            .filter(|&c| self.curves[c as usize] && (c != Curve::Kl || any_variational))
            .collect();
        let models = drawing_order(history, &self.hidden_models);
        let plot_height = (height - TITLE_HEIGHT).max(60.0);
        ui.columns(shown.len().max(1), |cols| {
            for (ui, &c) in cols.iter_mut().zip(&shown) {
                let axis = Axis {
                    log_y: self.log_y && all_positive(&models, c),
                    log_wanted: self.log_y,
                    steps_per_epoch,
                };
                term_ui(ui, &models, c, axis, plot_height, self.marker_step);
            }
        });
    }

    /// Title, legend (click a model to hide it), and which terms to show.
    fn header_ui(&mut self, ui: &mut Ui, history: &LossHistory) {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Losses").strong())
                .on_hover_text(ABOUT);
            for m in &history.models {
                let hidden = self.hidden_models.contains(&m.name);
                if legend_entry_ui(ui, m, hidden).clicked() {
                    if hidden {
                        self.hidden_models.remove(&m.name);
                    } else {
                        self.hidden_models.insert(m.name.clone());
                    }
                }
            }
            ui.label(RichText::new("lines: training (smoothed) · dots: test set").weak());
            ui.separator();
            for c in Curve::ALL {
                ui.checkbox(&mut self.curves[c as usize], c.label());
            }
            ui.checkbox(&mut self.log_y, "log y");
        });
    }
}

/// One legend entry: a short line in the model's colour and its name, struck out when
/// hidden; clicking toggles it.
fn legend_entry_ui(ui: &mut Ui, m: &ModelHistory, hidden: bool) -> egui::Response {
    let color = if hidden {
        theme::QUIET
    } else {
        theme::model_color(m.kind)
    };
    let (swatch, _) = ui.allocate_exact_size(egui::vec2(22.0, 14.0), egui::Sense::hover());
    let stroke = egui::Stroke::new(line_width(m), color);
    ui.painter()
        .line_segment([swatch.left_center(), swatch.right_center()], stroke);
    let mut text = RichText::new(m.kind.title()).color(color).strong();
    if hidden {
        text = text.strikethrough();
    }
    ui.add(egui::Label::new(text).sense(egui::Sense::click()))
        .on_hover_text("click to hide or show this model's curves")
}

/// The visible models, variational ones first, so the plain autoencoders (whose curves
/// often run close to a VAE's) are drawn on top.
fn drawing_order<'h>(history: &'h LossHistory, hidden: &BTreeSet<String>) -> Vec<&'h ModelHistory> {
    let mut models: Vec<&ModelHistory> = history
        .models
        .iter()
        .filter(|m| !hidden.contains(&m.name))
        .collect();
    models.sort_by_key(|m| !m.kind.is_variational());
    models
}

/// Lines of the non-variational kinds are drawn a little wider, on top.
fn line_width(m: &ModelHistory) -> f32 {
    if m.kind.is_variational() { 2.0 } else { 3.0 }
}

/// True when every value of curve `c` that would be drawn is positive (a log axis can
/// show them all honestly).
fn all_positive(models: &[&ModelHistory], c: Curve) -> bool {
    models
        .iter()
        .filter(|m| c != Curve::Kl || m.kind.is_variational())
        .flat_map(|m| m.train.iter().chain(&m.test))
        .all(|p| p.get(c) > 0.0)
}

/// Share of the run (in steps) whose values may run off the top of a plot: the first
/// steps' losses are many times the later ones and would flatten the rest of the curve.
const SPIKE_SHARE: f64 = 0.1;

/// The values a plot's y axis covers: every value from the lowest up, but only those
/// after the first [`SPIKE_SHARE`] of the steps count for the top (those before are cut
/// off there, and `clipped` says so). `None` without points.
#[derive(Clone, Copy, Debug, PartialEq)]
struct YRange {
    lo: f64,
    hi: f64,
    clipped: bool,
}

fn y_range(models: &[&ModelHistory], c: Curve) -> Option<YRange> {
    let drawn = || {
        models
            .iter()
            .filter(move |m| c != Curve::Kl || m.kind.is_variational())
            .flat_map(|m| m.train.iter().chain(&m.test))
            .filter(|p| p.get(c).is_finite())
    };
    let (first, last) = drawn().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(p.step), b.max(p.step))
    });
    if first > last {
        return None;
    }
    let settled = first + SPIKE_SHARE * (last - first);
    let lo = drawn().map(|p| p.get(c)).fold(f64::INFINITY, f64::min);
    let all_hi = drawn().map(|p| p.get(c)).fold(f64::NEG_INFINITY, f64::max);
    let hi = drawn()
        .filter(|p| p.step >= settled)
        .map(|p| p.get(c))
        .fold(f64::NEG_INFINITY, f64::max);
    Some(YRange {
        lo,
        hi,
        clipped: hi < all_hi,
    })
}

/// How one plot's axes read.
#[derive(Clone, Copy)]
struct Axis {
    /// The y axis is log10 (every value positive and the user wants it).
    log_y: bool,
    /// The user asked for log axes.
    log_wanted: bool,
    /// Steps per epoch, for the hover text.
    steps_per_epoch: usize,
}

impl Axis {
    /// A value in nats as plotted.
    fn plotted(self, v: f64) -> f64 {
        if self.log_y { v.log10() } else { v }
    }

    /// What the title row says about the y axis.
    fn note(self, clipped: bool) -> String {
        let scale = if self.log_y {
            "log axis"
        } else if self.log_wanted {
            "linear axis: values ≤ 0"
        } else {
            "linear axis"
        };
        if clipped {
            format!("{scale} · start cut off")
        } else {
            scale.to_string()
        }
    }
}

/// The title of a term's plot, and what it means.
fn title(c: Curve) -> (&'static str, &'static str) {
    match c {
        Curve::Recon => (
            "reconstruction",
            "−log p(x | z): how badly the decoding explains the input",
        ),
        Curve::Kl => (
            "KL to the prior",
            "KL(q(z | x) || N(0, I)), summed over latent dimensions; VAE kinds only",
        ),
        Curve::Total => (
            "total (minimised)",
            "reconstruction + β·KL (VAE kinds) or + penalty (sparse, contractive, a VQ-VAE's \
             codebook + commitment); the plain AE's total is its reconstruction; the IWAE's is \
             −L_k, its k-sample bound, below its reconstruction + KL (the one-sample ELBO's terms)",
        ),
    }
}

/// One term's plot with its title row.
fn term_ui(
    ui: &mut Ui,
    models: &[&ModelHistory],
    c: Curve,
    axis: Axis,
    height: f32,
    marker: Option<f64>,
) {
    let (mut name, meaning) = title(c);
    // An IWAE's total is its bound, not recon + KL: the title says so where it is shown.
    if c == Curve::Total && models.iter().any(|m| iwae::trains_on_bound(m.kind)) {
        name = "total (IWAE: −L_k)";
    }
    let range = y_range(models, c);
    let clipped = range.is_some_and(|r| r.clipped);
    // A short plot has no room for the unit along its y axis (it would run over the
    // title): the title says it instead.
    let unit_on_axis = height >= 150.0;
    ui.horizontal(|ui| {
        ui.set_height(TITLE_HEIGHT - 4.0);
        ui.label(RichText::new(name).strong())
            .on_hover_text(meaning);
        if !unit_on_axis {
            ui.label(RichText::new("nats per item").small());
        }
        let note = axis.note(clipped);
        ui.add(egui::Label::new(RichText::new(&note).weak().small()).truncate())
            .on_hover_text(note);
    });
    let (log_y, steps_per_epoch) = (axis.log_y, axis.steps_per_epoch);
    let mut plot = Plot::new(("losses", c.label()))
        .height(height)
        .x_axis_label("training step")
        .x_grid_spacer(step_marks)
        .link_axis(egui::Id::unique("losses-x"), [true, false])
        .link_cursor(egui::Id::unique("losses-x"), [true, false])
        .label_formatter(move |hover| hover_text(hover, log_y, steps_per_epoch))
        .allow_scroll(false)
        .allow_zoom([true, false])
        .allow_drag([true, false]);
    if unit_on_axis {
        plot = plot.y_axis_label("nats per item");
    }
    if log_y {
        plot = plot
            .y_grid_spacer(log_marks)
            .y_axis_formatter(|mark, _| format_nats(10f64.powf(mark.value)));
    }
    plot.show(ui, |pui| {
        if let Some(r) = range {
            let (lo, hi) = (axis.plotted(r.lo), axis.plotted(r.hi));
            let pad = ((hi - lo) * 0.06).max(1e-3);
            pui.set_plot_bounds_y(lo - pad..=hi + pad);
        }
        for m in models {
            if c != Curve::Kl || m.kind.is_variational() {
                curve_ui(pui, m, c, axis);
            }
        }
        if let Some(step) = marker {
            let line = egui_plot::VLine::new("the moment shown", step);
            pui.vline(line.color(theme::PINNED).width(2.0));
        }
    });
}

/// The curve, step (and epoch) and value under the pointer.
fn hover_text(
    hover: &egui_plot::HoverPosition<'_>,
    log_y: bool,
    steps_per_epoch: usize,
) -> Option<String> {
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
    let epoch = position.x / steps_per_epoch.max(1) as f64;
    Some(format!(
        "{plot_name}\nstep {:.0} (epoch {epoch:.2})\n{} nats",
        position.x,
        format_nats(v)
    ))
}

/// One model's curve of term `c`: training as a line, test as dots.
fn curve_ui(pui: &mut PlotUi<'_>, m: &ModelHistory, c: Curve, axis: Axis) {
    let color = theme::model_color(m.kind);
    let points = |ps: &[LossPoint]| -> Vec<[f64; 2]> {
        ps.iter()
            .map(|p| [p.step, axis.plotted(p.get(c))])
            .collect()
    };
    let name = format!("{} {}", m.kind.title(), c.label());
    let line = Line::new(format!("{name} (training)"), points(&m.train));
    pui.line(line.color(color).width(line_width(m)));
    let test = points(&m.test);
    if !test.is_empty() {
        // A dark ring keeps a dot visible on its own line.
        let name = format!("{name} (test)");
        let ring = Points::new(name.clone(), test.clone()).color(theme::MARKER_OUTLINE);
        pui.points(ring.shape(MarkerShape::Circle).radius(5.0).filled(true));
        let dots = Points::new(name, test).color(color);
        pui.points(dots.shape(MarkerShape::Circle).radius(3.5).filled(true));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::history::CurveValues;
    use crate::model::ModelKind;

    #[test]
    fn the_first_steps_spike_runs_off_the_top_but_the_bottom_is_never_cut() {
        let mut h = LossHistory {
            smoothing: 0.0,
            ..LossHistory::new()
        };
        // 100 steps: 500 nats at step 0, then from 3 down to -1.
        for step in 0..=100 {
            let v = if step == 0 {
                500.0
            } else {
                3.0 - 4.0 * f64::from(step) / 100.0
            };
            h.push_train(
                "vae",
                ModelKind::Vae,
                f64::from(step),
                CurveValues {
                    recon: v,
                    kl: 1.0,
                    total: v,
                },
            );
        }
        // A test point after the spike counts for the top.
        h.push_test(
            "vae",
            ModelKind::Vae,
            50.0,
            CurveValues {
                recon: 4.0,
                kl: 1.0,
                total: 4.0,
            },
        );
        let models = drawing_order(&h, &BTreeSet::new());
        let r = y_range(&models, Curve::Recon).unwrap();
        assert!(r.clipped);
        assert_eq!(r.lo, -1.0);
        // The top is the largest value from step 10 on: the test point's 4 nats.
        assert_eq!(r.hi, 4.0);
        assert!(y_range(&[], Curve::Recon).is_none());
    }

    #[test]
    fn every_text_of_the_loss_area_draws_with_the_fonts_we_ship() {
        let mut texts = vec![ABOUT.to_string()];
        for c in Curve::ALL {
            let (name, meaning) = title(c);
            texts.extend([name.to_string(), meaning.to_string()]);
        }
        for (log_y, log_wanted, clipped) in [(true, true, true), (false, true, true)] {
            let axis = Axis {
                log_y,
                log_wanted,
                steps_per_epoch: 1,
            };
            texts.push(axis.note(clipped));
        }
        // The harness panics on any character the fonts cannot draw.
        let mut harness = egui_kittest::Harness::new_ui(move |ui| {
            for t in &texts {
                ui.label(t);
            }
        });
        harness.run();
    }

    #[test]
    fn negative_losses_get_a_linear_axis() {
        // A Gaussian likelihood on 2-D data: the reconstruction goes below zero, the KL stays
        // positive; the AE has no KL curve, so its zeros do not count there.
        let mut h = LossHistory {
            smoothing: 0.0,
            ..LossHistory::new()
        };
        h.push_train(
            "ae",
            ModelKind::Ae,
            1.0,
            CurveValues {
                recon: 1.0,
                kl: 0.0,
                total: 1.0,
            },
        );
        h.push_train(
            "vae",
            ModelKind::Vae,
            0.0,
            CurveValues {
                recon: 2.0,
                kl: 0.5,
                total: 2.5,
            },
        );
        h.push_train(
            "vae",
            ModelKind::Vae,
            1.0,
            CurveValues {
                recon: -1.5,
                kl: 0.8,
                total: -0.7,
            },
        );
        let models = drawing_order(&h, &BTreeSet::new());
        assert!(!all_positive(&models, Curve::Recon));
        assert!(!all_positive(&models, Curve::Total));
        assert!(all_positive(&models, Curve::Kl));
        // The AE is drawn last, on top of the VAE.
        assert_eq!(models.last().map(|m| m.kind), Some(ModelKind::Ae));
        // The y range starts at the lowest value, negative or not; the VAE's first value
        // (step 0 of 0 to 1) is the start that runs off the top.
        let r = y_range(&models, Curve::Recon).unwrap();
        assert_eq!((r.lo, r.hi, r.clipped), (-1.5, 1.0, true));
        // Hiding the VAE leaves only the AE's positive values.
        let hidden: BTreeSet<String> = ["vae".to_string()].into();
        assert!(all_positive(&drawing_order(&h, &hidden), Curve::Recon));
    }
}
