//! KL per latent dimension, one bar chart per variational model: the mean KL of each
//! dimension over the display items of the latest snapshot, with collapsed dimensions
//! (those the posterior leaves at the prior) greyed and named.

use super::actions::Action;
use super::theme;
use super::unit_scores;
use super::view::{View, ViewCtx};
use crate::explore::mean_kl_per_dim;
use crate::explore::scores::CodeScores;
use crate::train::ModelSnapshot;
use egui::{RichText, Ui};
use egui_plot::{Bar, BarChart, GridInput, GridMark, Plot, Text};

/// Below this mean KL (nats) a dimension counts as collapsed: it carries no information.
pub const COLLAPSED_NATS: f64 = 0.01;

/// The y axis reaches at least this far, in nats.
const MIN_TOP_NATS: f64 = 0.5;

/// Narrowest bar, in points, that still gets its value written above it.
const MIN_LABELLED_BAR: f32 = 44.0;

/// The KL-per-dimension tab (no state of its own).
#[derive(Default)]
pub struct KlDimsPanel;

const ABOUT: &str = "For each VAE kind, one bar per latent dimension z_j: the KL divergence \
    KL(N(μ_j, σ_j²) || N(0, 1)) = ½(μ_j² + σ_j² − 1 − ln σ_j²) of the encoder's posterior to \
    the prior, averaged over the test items of the latest snapshot (the same items as the \
    latent scatter), in nats. Their sum is the KL term of the loss. A dimension whose KL \
    stays near 0 (below 0.01 nats: \"collapsed\", grey) has μ ≈ 0 and σ ≈ 1 for every input: \
    the encoder ignores it and the decoder learns to ignore it too. A large β (β-VAE) or a \
    latent size larger than the data needs collapses dimensions. The plain AE and the other \
    deterministic kinds have no posterior and no KL, so they are not shown.";

impl View for KlDimsPanel {
    fn title(&self) -> &'static str {
        "KL per dimension"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "Which latent dimensions a VAE uses: mean KL to the prior per dimension.",
            ABOUT,
        )
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        let models: Vec<&ModelSnapshot> = cx
            .snap
            .models
            .iter()
            .filter(|m| m.kind.is_variational())
            .collect();
        if models.is_empty() {
            ui.label(
                "No variational model in this run. The KL per dimension applies to the VAE \
                 kinds (VAE, β-VAE): tick one under Models.",
            );
            return Vec::new();
        }
        let items = models.first().map_or(0, |m| items_of(m));
        ui.label(
            RichText::new(format!(
                "Mean KL per latent dimension over {items} test items, nats; a dimension near 0 \
                 carries no information (grey: collapsed, below {COLLAPSED_NATS} nats)."
            ))
            .weak(),
        );
        ui.columns(models.len(), |cols| {
            for (ui, m) in cols.iter_mut().zip(models) {
                let scores = unit_scores::of_model(m, cx.snap, cx.ds);
                let shown = ui.scope(|ui| model_ui(ui, m, &scores)).response.rect;
                cx.rects.subject("kl bars", ui, shown);
            }
        });
        Vec::new()
    }
}

/// One model's column: heading, what is shown, the bars and one label per dimension.
fn model_ui(ui: &mut Ui, m: &ModelSnapshot, scores: &CodeScores) {
    let color = theme::model_color(m.kind);
    ui.label(RichText::new(m.kind.title()).heading().color(color));
    let d = m.latent_dim;
    let Some(sigmas) = m.sigmas.as_deref() else {
        ui.label("no σ in this snapshot");
        return;
    };
    let kl = mean_kl_per_dim(&m.codes, sigmas, d);
    if kl.is_empty() {
        ui.label("no codes in this snapshot");
        return;
    }
    let collapsed = kl.iter().filter(|&&v| is_collapsed(v)).count();
    // One line, so the bars keep their height on a projector.
    ui.label(format!(
        "total {} nats · {collapsed} collapsed · {}",
        kl_text(kl.iter().sum::<f64>()),
        unit_scores::text(scores),
    ))
    .on_hover_text(unit_scores::hover(scores.mig.is_some()));
    // The dimension labels below need about 60 points; the bars take the rest.
    let height = (ui.available_height() - 80.0).clamp(40.0, 320.0);
    bars_ui(ui, m, &kl, height);
    dims_ui(ui, &m.name, &kl);
}

/// How many display items have both μ and σ.
fn items_of(m: &ModelSnapshot) -> usize {
    let sigmas = m.sigmas.as_deref().map_or(0, <[f32]>::len);
    m.codes.len().min(sigmas) / m.latent_dim.max(1)
}

/// True when a dimension's mean KL says it carries no information.
fn is_collapsed(kl: f64) -> bool {
    kl < COLLAPSED_NATS
}

/// A KL value as written: two decimals, three below 0.01 so a collapsed one is not "0.00".
fn kl_text(v: f64) -> String {
    if v.abs() >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The bar chart: active dimensions in the model's colour, collapsed ones grey.
fn bars_ui(ui: &mut Ui, m: &ModelSnapshot, kl: &[f64], height: f32) {
    let color = theme::model_color(m.kind);
    let bars: Vec<Bar> = kl
        .iter()
        .enumerate()
        .map(|(j, &v)| {
            let fill = if is_collapsed(v) { theme::QUIET } else { color };
            Bar::new(j as f64, v)
                .name(format!("z{}", j + 1))
                .fill(fill)
                .width(0.7)
        })
        .collect();
    let bar_room = ui.available_width() / kl.len() as f32;
    let labelled = bar_room >= MIN_LABELLED_BAR;
    let worded = bar_room >= 2.0 * MIN_LABELLED_BAR;
    let top = kl.iter().copied().fold(0.0, f64::max);
    let dims = kl.len();
    Plot::new(("kl-dims", &m.name))
        .height(height)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .x_axis_label("latent dimension")
        .y_axis_label("mean KL, nats")
        .x_grid_spacer(integer_marks)
        .x_axis_formatter(move |mark, _| dim_tick(mark.value, dims))
        .include_y(0.0)
        // A run where every dimension collapsed still shows its bars on a scale of nats.
        .include_y((top * 1.2).max(MIN_TOP_NATS))
        .show(ui, |pui| {
            pui.bar_chart(
                BarChart::new("KL", bars).element_formatter(Box::new(|bar, _| {
                    format!("{}: {} nats", bar.name, kl_text(bar.value))
                })),
            );
            if labelled {
                for (j, &v) in kl.iter().enumerate() {
                    let text = if is_collapsed(v) && worded {
                        format!("{}\ncollapsed", kl_text(v))
                    } else {
                        kl_text(v)
                    };
                    let at = egui_plot::PlotPoint::new(j as f64, v.max(0.0));
                    let text = RichText::new(text).size(16.0).strong();
                    pui.text(Text::new("value", at, text).anchor(egui::Align2::CENTER_BOTTOM));
                }
            }
        });
}

/// Grid marks at whole numbers (one per dimension).
fn integer_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi - lo > 1000.0 {
        return Vec::new();
    }
    (lo.ceil() as i64..=hi.floor() as i64)
        .map(|v| GridMark {
            value: v as f64,
            step_size: 1.0,
        })
        .collect()
}

/// "z3" under the bar of dimension 2; nothing between or beyond the bars.
fn dim_tick(x: f64, dims: usize) -> String {
    let j = x.round();
    if (x - j).abs() > 1e-6 || j < 0.0 || j >= dims as f64 {
        return String::new();
    }
    format!("z{}", j as usize + 1)
}

/// One label per dimension, collapsed ones marked, wrapped under the chart.
fn dims_ui(ui: &mut Ui, model: &str, kl: &[f64]) {
    egui::ScrollArea::vertical()
        .id_salt(("kl-dims-list", model))
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                for (j, &v) in kl.iter().enumerate() {
                    let text = format!("z{}: {} nats", j + 1, kl_text(v));
                    if is_collapsed(v) {
                        let text = format!("{text} (collapsed)");
                        ui.label(RichText::new(text).color(theme::QUIET).italics());
                    } else {
                        ui.label(RichText::new(text).strong());
                    }
                }
            });
        });
}
