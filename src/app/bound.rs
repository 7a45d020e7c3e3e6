//! The importance-weighted bound of the drawn item, per model: log p(x) estimated with
//! K = 1, 10, 100, 1000 samples of q(z|x) beside the ELBO, as rows and as a small plot
//! against K (log axis), the gap closing as K grows.
//!
//! 1000 decodes do not fit in a frame, so each model's bound is computed on a thread
//! from its frozen snapshots (`model::inspect::bound`), like `decodes.rs`: the last
//! finished one stays shown, marked while a newer one is made; at most one thread per
//! model runs, and the newest key asked for in between is computed next. A key is the
//! item and the snapshot, so nothing is recomputed while neither changes. The draws are
//! seeded: the same item and weights give the same numbers.

use super::items::key_of;
use super::job_slot::JobSlot;
use super::theme;
use crate::model::inspect::bound::{BOUND_KS, ItemBound, item_bound};
use crate::train::ModelSnapshot;
use egui::{RichText, Ui};
use egui_plot::{AxisHints, GridMark, HLine, Line, MarkerShape, Plot, Points};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The seed of every bound's draws.
const BOUND_SEED: u64 = 17;
/// Height of the bound-against-K plot, in points.
const PLOT_HEIGHT: f32 = 104.0;

/// What a thread sends back: the bound (`None` without a posterior) or why there is none,
/// and how long it took.
type Outcome = (Result<Option<ItemBound>, String>, f64);

/// The bounds of every model, per model name.
#[derive(Default)]
pub struct Bounds {
    slots: HashMap<String, JobSlot<Outcome>>,
}

impl Bounds {
    /// The bound of `x` under model `m`: the last finished one (`None` before the first)
    /// and whether a newer one is on its way. Starts a thread when the key changed.
    fn get(
        &mut self,
        ctx: &egui::Context,
        m: &ModelSnapshot,
        x: &[f32],
        class: u32,
    ) -> (Option<&Outcome>, bool) {
        let parts = [
            Arc::as_ptr(&m.encoder) as u64,
            Arc::as_ptr(&m.decoder) as u64,
            m.latent_dim as u64,
            u64::from(class),
        ];
        let key = key_of(&parts, x);
        let slot = self.slots.entry(m.name.clone()).or_default();
        slot.collect(|| (Err("the bound's thread stopped".into()), 0.0));
        if slot.is_stale(key) && !slot.is_running() {
            let (config, x) = (m.config.clone(), x.to_vec());
            let (encoder, decoder) = (Arc::clone(&m.encoder), Arc::clone(&m.decoder));
            let job = move || {
                let t0 = Instant::now();
                let b = item_bound(
                    &config, &encoder, &decoder, &x, &BOUND_KS, BOUND_SEED, class,
                )
                .map_err(|e| e.to_string());
                (b, t0.elapsed().as_secs_f64())
            };
            slot.start(ctx, key, "bound", job, |e| (Err(e), 0.0));
        }
        (slot.shown().map(|(_, o)| o), slot.is_stale(key))
    }

    /// Whether a bound is being computed (a screenshot would show an older one).
    pub fn busy(&self) -> bool {
        self.slots.values().any(JobSlot::is_running)
    }

    /// Forgets every bound (a new run).
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The rows and the plot of model `m`'s bound for item `x` (of class `class`, which a
    /// conditional model sees; the others ignore it).
    pub fn ui(&mut self, ui: &mut Ui, m: &ModelSnapshot, x: &[f32], class: u32) {
        if !m.kind.is_variational() {
            ui.label(
                RichText::new("no posterior: no bound on log p(x)")
                    .size(13.0)
                    .weak(),
            );
            return;
        }
        let (shown, stale) = self.get(ui.ctx(), m, x, class);
        match shown {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(RichText::new("log p(x) ≥ … computing the bound").size(13.0));
                });
            }
            Some((Err(e), _)) => {
                ui.colored_label(theme::ERROR, format!("bound failed: {e}"));
            }
            Some((Ok(None), _)) => {
                ui.label(
                    RichText::new("no posterior: no bound on log p(x)")
                        .size(13.0)
                        .weak(),
                );
            }
            Some((Ok(Some(b)), secs)) => bound_ui(ui, m, b, *secs, stale),
        }
    }
}

/// The bound's rows (K and the estimate, then the ELBO) beside its plot against K, the
/// ELBO as a grey line.
fn bound_ui(ui: &mut Ui, m: &ModelSnapshot, b: &ItemBound, secs: f64, stale: bool) {
    let color = theme::model_color(m.kind);
    ui.horizontal_top(|ui| {
        egui::Grid::new(("bound", &m.name))
            .spacing([6.0, 0.0])
            .min_row_height(15.0)
            .show(ui, |ui| {
                ui.label(RichText::new("K").strong().size(13.0));
                // A conditional model bounds the likelihood given the class it was told.
                let what = if m.config.condition_dim() > 0 {
                    "log p(x|c) ≥"
                } else {
                    "log p(x) ≥"
                };
                ui.label(RichText::new(what).strong().size(13.0));
                ui.end_row();
                for (k, v) in &b.by_k {
                    ui.label(RichText::new(k.to_string()).size(13.0));
                    ui.label(
                        RichText::new(format!("{v:.1}"))
                            .monospace()
                            .size(13.0)
                            .strong(),
                    );
                    ui.end_row();
                }
                ui.label(RichText::new("ELBO").size(13.0).color(theme::QUIET));
                ui.label(
                    RichText::new(format!("{:.1}", b.elbo))
                        .monospace()
                        .size(13.0),
                );
                ui.end_row();
            });
        plot_ui(ui, m, b, color);
    });
    let note = if stale { ", updating…" } else { "" };
    let draws = b.by_k.iter().map(|(k, _)| *k).max().unwrap_or(1);
    // An IWAE trains on one of these bounds: say which, so the rows read as its objective.
    let trains_on = crate::model::iwae::samples(&m.config)
        .map(|k| format!("trains on the K = {k} bound; "))
        .unwrap_or_default();
    ui.label(
        RichText::new(format!(
            "ELBO {:.1} nats; {trains_on}{draws} draws of q(z|x) in {:.0} ms{note}",
            b.elbo,
            secs * 1000.0
        ))
        .size(12.0)
        .weak(),
    );
}

/// The bound against K (log axis) with the ELBO as a horizontal line.
fn plot_ui(ui: &mut Ui, m: &ModelSnapshot, b: &ItemBound, color: egui::Color32) {
    let pts: Vec<[f64; 2]> = b
        .by_k
        .iter()
        .map(|&(k, v)| [(k as f64).log10(), v])
        .collect();
    let (lo, hi) = pts
        .iter()
        .map(|p| p[1])
        .fold((b.elbo, b.elbo), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.15).max(0.2);
    Plot::new(("bound-plot", &m.name))
        .height(PLOT_HEIGHT)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show_x(false)
        .y_axis_min_width(30.0)
        // Four labels (1, 10, 100, 1000) over a narrow plot: egui_plot's default spacing
        // (60 points) would hide them all.
        .custom_x_axes(vec![
            AxisHints::new_x()
                .label("K, log scale")
                .formatter(|mark, _| format!("{}", 10f64.powf(mark.value).round()))
                .label_spacing(28.0..=40.0),
        ])
        .x_grid_spacer(|_| {
            (0..=3)
                .map(|e| GridMark {
                    value: f64::from(e),
                    step_size: 1.0,
                })
                .collect()
        })
        .y_axis_formatter(|mark, _| format!("{:.0}", mark.value))
        .include_x(-0.15)
        .include_x(3.15)
        .include_y(lo - pad)
        .include_y(hi + pad)
        .show(ui, |pui| {
            pui.hline(HLine::new("ELBO", b.elbo).color(theme::QUIET).width(1.5));
            pui.line(Line::new("bound", pts.clone()).color(color).width(2.0));
            let dots = Points::new("bound", pts);
            pui.points(
                dots.color(color)
                    .shape(MarkerShape::Circle)
                    .radius(3.5)
                    .filled(true),
            );
        });
}
