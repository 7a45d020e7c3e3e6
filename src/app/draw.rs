//! Draw your own input and inspect it: a canvas of the items' size (or, for 2-D point sets, a point
//! placed in data space), its reconstruction by every model shown, and the ELBO of that one
//! item term by term, live as training goes on. The drawn item also appears as a marker in
//! every latent scatter (through `Selection::drawn`).
//!
//! Every number is computed on the UI thread from the model's frozen encoder and decoder
//! (`model::inspect`), so they are the numbers of the very image shown.

use super::actions::Action;
use super::bound::Bounds;
use super::items::{Tex, key_of, mosaic, points_in_square};
use super::theme;
use super::view::{View, ViewCtx};
use crate::data::{Dataset, ItemShape};
use crate::model::inspect::{ItemReport, draw_eps, inspect_as};
use crate::rng::PortableRng;
use crate::train::ModelSnapshot;
use egui::{Color32, Pos2, Rect, RichText, Sense, Ui, vec2};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// How many ε the "over many ε" line averages.
const EPS_SAMPLES: usize = 20;
/// Latent dimensions listed one per row; more are summarised.
const MAX_ROWS: usize = 8;

/// The least width of one model's block before the blocks stack.
const BLOCK_WIDTH: f32 = 350.0;

/// Side of each model's reconstruction of the drawn item, in points.
const RECON_IMAGE: f32 = 44.0;

/// State of the draw-and-inspect tab (the drawn item itself is in the shared selection).
pub struct DrawPanel {
    /// Brush radius in pixels.
    pub brush: f32,
    /// The pen erases.
    pub erase: bool,
    /// The last pen position in pixel coordinates, while a stroke goes on.
    last: Option<[f32; 2]>,
    /// The ε of each model for z = μ + σ·ε.
    eps: HashMap<String, Vec<f32>>,
    rng: PortableRng,
    canvas_tex: Tex,
    recon_tex: HashMap<String, Tex>,
    /// Each model's importance-weighted bound of the drawn item, made on threads.
    bounds: Bounds,
}

impl Default for DrawPanel {
    fn default() -> Self {
        Self {
            brush: 1.3,
            erase: false,
            last: None,
            eps: HashMap::new(),
            rng: PortableRng::seed_from_u64(7),
            canvas_tex: Tex::default(),
            recon_tex: HashMap::new(),
            bounds: Bounds::default(),
        }
    }
}

impl View for DrawPanel {
    fn title(&self) -> &'static str {
        "Draw & inspect"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "Your own input, seen by every model: its code and its loss term by term.",
            "Draw on the canvas (or drop an image file, or start from a test item). Each model \
             encodes it with its current encoder: μ and σ per latent dimension (σ for VAEs). \
             A VAE decodes z = μ + σ·ε for the ε shown; 'draw another ε' picks a new one, and \
             the line below says how much the reconstruction term varies over 20 draws. \
             Reconstruction: −log p(x|z) in nats, summed over pixels. KL: how far q(z|x) is \
             from the prior N(0, I), per dimension (the bars) and summed. −ELBO = \
             reconstruction + KL is what a VAE minimises (a β-VAE weighs the KL by β; sparse \
             and contractive AEs add their penalty). The green star in the latent plots is \
             this item, with its 1σ and 2σ ellipses for VAEs. Below, log p(x) itself, bounded \
             with K samples of q(z|x) (importance weighting, K = 1, 10, 100, 1000): at K = 1 \
             it is the ELBO on average (the grey line), and the gap closes as K grows.",
        )
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        let ds = cx.ds;
        let dim = ds.dim();
        if cx.selection.drawn.as_ref().is_none_or(|x| x.len() != dim) {
            cx.selection.drawn = Some(vec![0.0; dim]);
        }
        // The canvas takes what the models' tables leave: they are what a lesson asks
        // the class to read. Two fixed areas, so neither can push the other off screen.
        let full = ui.available_rect_before_wrap();
        let canvas_width = (full.width() * 0.22).clamp(150.0, 380.0);
        let left = Rect::from_min_size(full.min, vec2(canvas_width, full.height()));
        let right = Rect::from_min_max(egui::pos2(left.max.x + 12.0, full.min.y), full.max);
        ui.scope_builder(egui::UiBuilder::new().max_rect(left), |ui| {
            self.tools_ui(ui, cx);
            let side = ui
                .available_width()
                .min(ui.available_height() - 4.0)
                .max(40.0);
            let drawn = cx.selection.drawn.get_or_insert_with(Vec::new);
            let rect = match ds.shape {
                ItemShape::Image {
                    channels,
                    width,
                    height,
                } => self.canvas_ui(ui, drawn, (channels, width, height), side),
                ItemShape::Points { .. } => point_ui(ui, ds, drawn, side),
            };
            cx.rects.draw_canvas = Some(rect);
            cx.rects.subject("canvas", ui, rect);
        });
        ui.scope_builder(egui::UiBuilder::new().max_rect(right), |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| self.models_ui(ui, cx));
        });
        ui.allocate_rect(full, Sense::hover());
        Vec::new()
    }

    fn clear(&mut self) {
        self.eps.clear();
        self.recon_tex.clear();
        self.bounds.clear();
    }

    fn busy(&self) -> bool {
        self.bounds.busy()
    }
}

impl DrawPanel {
    /// Brush, eraser, clear, and "start from a test item".
    fn tools_ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) {
        let image = cx.ds.shape.is_image();
        ui.label(RichText::new(if image {
            "Draw an image: every model encodes it as you draw."
        } else {
            "Click to place a point in data space: every model encodes it."
        }));
        ui.horizontal_wrapped(|ui| {
            if image {
                ui.label("brush");
                ui.add(egui::Slider::new(&mut self.brush, 0.6..=3.0).max_decimals(1));
                ui.toggle_value(&mut self.erase, "eraser");
                if ui.button("clear").clicked() {
                    cx.selection.drawn = Some(vec![0.0; cx.ds.dim()]);
                }
            }
            let from_test = ui
                .button("start from a test item")
                .on_hover_text("the pinned item if there is one, else a random test item");
            if from_test.clicked() {
                let n = cx.ds.test.len();
                let i = match cx
                    .selection
                    .pinned
                    .and_then(|p| cx.snap.display_indices.get(p))
                {
                    Some(&i) => i,
                    None => self.rng.random_range(0..n.max(1)),
                };
                cx.selection.draw_test_item(cx.ds, i);
            }
        });
        super::selection::class_menu(
            ui,
            &mut cx.selection.drawn_class,
            cx.snap,
            cx.ds,
            ("it is a", "drawn_class"),
            "the class a conditional VAE (cvae) is told the drawn item is: its encoder and \
             decoder both see it (\"start from a test item\" sets the item's own); other \
             kinds ignore it",
        );
        if image {
            // Dropped files are resized to the data set's items ("64×64 colour images").
            let made = cx.ds.shape.describe();
            let made = made.strip_suffix(" images").unwrap_or(&made);
            ui.label(
                RichText::new(format!(
                    "or drop an image file on the window (any size, made {made})"
                ))
                .weak(),
            );
        }
    }

    /// The drawing canvas: drag to draw (or erase) with a soft round brush.
    /// The canvas: strokes draw white ink into every channel (grey on a colour set).
    fn canvas_ui(
        &mut self,
        ui: &mut Ui,
        x: &mut [f32],
        (c, w, h): (usize, usize, usize),
        side: f32,
    ) -> Rect {
        let (rect, response) =
            ui.allocate_exact_size(vec2(side, side * h as f32 / w as f32), Sense::drag());
        if let Some(pos) = response
            .interact_pointer_pos()
            .filter(|_| response.dragged() || response.drag_started())
        {
            let p = pixel_at(rect, pos, w, h);
            let from = self.last.unwrap_or(p);
            let plane = w * h;
            if let Some(first) = x.get_mut(..plane) {
                stroke(first, w, h, from, p, self.brush, self.erase);
            }
            for k in 1..c {
                if x.len() >= (k + 1) * plane {
                    x.copy_within(..plane, k * plane);
                }
            }
            self.last = Some(p);
        } else {
            self.last = None;
        }
        let key = key_of(&[w as u64], x);
        let tex = self
            .canvas_tex
            .get(ui.ctx(), "drawn", key, || mosaic(x, (c, w, h), 1));
        ui.painter().image(
            tex.id(),
            rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        ui.painter().rect_stroke(
            rect,
            0.0,
            egui::Stroke::new(1.5, theme::QUIET),
            egui::StrokeKind::Outside,
        );
        rect
    }

    /// One block per model, side by side where they fit (a lesson compares them): its
    /// reconstruction and the terms of its loss for the item.
    fn models_ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) {
        let Some(x) = cx.selection.drawn.clone() else {
            return;
        };
        let models = &cx.snap.models;
        let per_row = ((ui.available_width() / BLOCK_WIDTH) as usize).clamp(1, models.len().max(1));
        // On one row each bound sits under its model's table. When the tables take more
        // rows, the bounds follow all of them: the tables are what a lesson asks the class
        // to read, and at 1280×720 a third model's table fell below the window.
        let bounds_apart = models.len() > per_row;
        for row in models.chunks(per_row) {
            ui.columns(per_row, |cols| {
                for (ui, m) in cols.iter_mut().zip(row) {
                    self.model_block_ui(ui, m, cx, &x, !bounds_apart);
                }
            });
            ui.add_space(if bounds_apart { 2.0 } else { 6.0 });
        }
        if bounds_apart {
            let variational: Vec<_> = models.iter().filter(|m| m.kind.is_variational()).collect();
            for row in variational.chunks(per_row) {
                ui.columns(per_row, |cols| {
                    for (ui, m) in cols.iter_mut().zip(row) {
                        self.bound_block_ui(ui, m, &x, cx.selection.drawn_class);
                    }
                });
                ui.add_space(6.0);
            }
        }
    }

    /// Model `m`'s importance-weighted bound of item `x` (of class `class`), framed.
    fn bound_block_ui(&mut self, ui: &mut Ui, m: &ModelSnapshot, x: &[f32], class: u32) {
        model_frame(ui, m, (1.0, 0.4), 2.0, |ui| self.bounds.ui(ui, m, x, class));
    }

    /// One model's framed block, and under it its bound if `with_bound`.
    fn model_block_ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        cx: &mut ViewCtx<'_>,
        x: &[f32],
        with_bound: bool,
    ) {
        let eps = self
            .eps
            .entry(m.name.clone())
            .or_insert_with(|| draw_eps(&mut self.rng, m.latent_dim))
            .clone();
        let class = cx.selection.drawn_class;
        let report = match inspect_as(&m.config, &m.encoder, &m.decoder, x, Some(&eps), class) {
            Ok(r) => r,
            Err(e) => {
                ui.colored_label(theme::ERROR, format!("{}: {e}", m.name));
                return;
            }
        };
        let spread = self.spread(m, x, class);
        let framed = model_frame(ui, m, (1.5, 0.7), 3.0, |ui| {
            self.model_ui(ui, m, cx.ds, &report, spread)
        });
        cx.rects.subject("inspector", ui, framed.response.rect);
        // Below the terms' block, not in it: a lesson's 'inspector' is the terms, and a
        // model with many latent dimensions leaves the bound below the fold.
        if with_bound {
            self.bound_block_ui(ui, m, x, class);
        }
        if framed.inner {
            self.eps
                .insert(m.name.clone(), draw_eps(&mut self.rng, m.latent_dim));
        }
    }

    /// Mean and standard deviation of the reconstruction term over many ε (VAE kinds).
    fn spread(&mut self, m: &ModelSnapshot, x: &[f32], class: u32) -> Option<(f64, f64)> {
        if !m.kind.is_variational() {
            return None;
        }
        let values: Vec<f64> = (0..EPS_SAMPLES)
            .filter_map(|_| {
                let eps = draw_eps(&mut self.rng, m.latent_dim);
                inspect_as(&m.config, &m.encoder, &m.decoder, x, Some(&eps), class).ok()
            })
            .map(|r| r.recon_nats)
            .collect();
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        Some((mean, var.sqrt()))
    }

    /// The reconstruction beside the numbers; true if "draw another ε" was clicked.
    fn model_ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        ds: &Dataset,
        r: &ItemReport,
        spread: Option<(f64, f64)>,
    ) -> bool {
        let color = theme::model_color(m.kind);
        let mut redraw = false;
        ui.horizontal_top(|ui| {
            let key = key_of(&[r.z.len() as u64], &r.recon_image);
            let tex = self.recon_tex.entry(m.name.clone()).or_default();
            let name = format!("drawn-recon-{}", m.name);
            super::items::show_items(
                ui,
                tex,
                &name,
                key,
                ds,
                &r.recon_image,
                1,
                RECON_IMAGE,
                color,
            );
            ui.vertical(|ui| {
                ui.spacing_mut().item_spacing.y = 0.0;
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(m.kind.title()).heading().color(color));
                    if r.eps.is_some() && ui.small_button("draw another ε").clicked() {
                        redraw = true;
                    }
                });
                let decoded = match (&r.eps, r.code) {
                    (Some(_), _) => "decodes z = μ + σ·ε".to_string(),
                    (None, Some((k, _))) => format!("decodes e{k}, nearest z_e · no prior, no KL"),
                    (None, None) => "decodes its code z".to_string(),
                };
                ui.label(RichText::new(decoded).small());
            });
        });
        dims_ui(ui, m, r);
        terms_ui(ui, m, r, spread);
        redraw
    }
}

/// `add` in a frame of model `m`'s colour, its line `(width, strength)`, rows `row_gap`
/// apart.
fn model_frame<R>(
    ui: &mut Ui,
    m: &ModelSnapshot,
    (width, strength): (f32, f32),
    row_gap: f32,
    add: impl FnOnce(&mut Ui) -> R,
) -> egui::InnerResponse<R> {
    egui::Frame::new()
        .stroke(egui::Stroke::new(
            width,
            theme::model_color(m.kind).gamma_multiply(strength),
        ))
        .corner_radius(4.0)
        .inner_margin(4.0)
        .show(ui, |ui| {
            ui.spacing_mut().item_spacing.y = row_gap;
            add(ui)
        })
}

/// μ, σ, ε, z and the KL of each latent dimension, with the KL as a bar.
fn dims_ui(ui: &mut Ui, m: &ModelSnapshot, r: &ItemReport) {
    let variational = r.sigma.is_some();
    let max_kl = r
        .kl_per_dim
        .as_ref()
        .map_or(1.0, |k| k.iter().copied().fold(1e-9, f64::max));
    egui::Grid::new(("dims", &m.name))
        .striped(true)
        .spacing([6.0, 1.0])
        .min_row_height(15.0)
        .show(ui, |ui| {
            let entry = r.code.map(|(k, _)| format!("e{k}"));
            let heads: Vec<&str> = match (variational, &entry) {
                (true, _) => vec!["", "μ", "σ", "ε", "z", "KL (nats)"],
                // A vq-vae: the encoder's output, then the entry it snaps to.
                (false, Some(e)) => vec!["", "z_e", e.as_str()],
                (false, None) => vec!["", "z"],
            };
            for h in heads {
                ui.label(RichText::new(h).strong().size(13.5));
            }
            ui.end_row();
            let cell =
                |ui: &mut Ui, text: String| ui.label(RichText::new(text).monospace().size(13.0));
            for d in 0..r.mu.len().min(MAX_ROWS) {
                ui.label(RichText::new(format!("z{}", d + 1)).size(13.5));
                if variational {
                    let at = |v: &Option<Vec<f32>>| {
                        v.as_ref()
                            .and_then(|v| v.get(d))
                            .copied()
                            .unwrap_or(f32::NAN)
                    };
                    cell(ui, format!("{:+.2}", r.mu[d]));
                    cell(ui, format!("{:.2}", at(&r.sigma)));
                    cell(ui, format!("{:+.2}", at(&r.eps)));
                    cell(ui, format!("{:+.2}", r.z[d]));
                    let kl = r.kl_per_dim.as_ref().map_or(0.0, |k| k[d]);
                    kl_bar(ui, kl, max_kl);
                } else {
                    if r.code.is_some() {
                        cell(ui, format!("{:+.2}", r.mu[d]));
                    }
                    cell(ui, format!("{:+.2}", r.z[d]));
                }
                ui.end_row();
            }
        });
    if r.mu.len() > MAX_ROWS {
        ui.label(RichText::new(format!("… and {} more dimensions", r.mu.len() - MAX_ROWS)).small());
    }
}

/// A horizontal bar for one dimension's KL, with its value.
fn kl_bar(ui: &mut Ui, kl: f64, max_kl: f64) {
    let (rect, _) = ui.allocate_exact_size(vec2(100.0, 14.0), Sense::hover());
    let frac = (kl / max_kl).clamp(0.0, 1.0) as f32;
    let bar = Rect::from_min_size(rect.min, vec2(56.0 * frac, rect.height()));
    ui.painter().rect_filled(bar, 2.0, theme::WARNING);
    ui.painter().text(
        rect.min + vec2(60.0, rect.height() / 2.0),
        egui::Align2::LEFT_CENTER,
        format!("{kl:.2}"),
        egui::FontId::monospace(13.0),
        ui.visuals().text_color(),
    );
}

/// The loss of the item, term by term, as the kind defines it.
fn terms_ui(ui: &mut Ui, m: &ModelSnapshot, r: &ItemReport, spread: Option<(f64, f64)>) {
    egui::Grid::new(("terms", &m.name))
        .spacing([8.0, 0.0])
        .min_row_height(16.0)
        .show(ui, |ui| {
            let mut line = |name: &str, value: String| {
                ui.label(RichText::new(name).size(13.5));
                ui.label(RichText::new(value).monospace().size(13.5).strong());
                ui.end_row();
            };
            line(
                "reconstruction −log p(x|z)",
                format!("{:.1} nats", r.recon_nats),
            );
            if let Some((mean, sd)) = spread {
                line(
                    &format!("  over {EPS_SAMPLES} draws of ε"),
                    format!("{mean:.1} ± {sd:.1} nats"),
                );
            }
            if let Some(kl) = r.kl {
                line("KL to N(0, I), the bars' sum", format!("{kl:.2} nats"));
            }
            if let Some((k, distance)) = r.code {
                line("nearest code, |z_e − e|", format!("{k}, {distance:.2}"));
            }
            if let (Some(w), Some(kl)) = (r.weighted_kl, r.kl) {
                let beta = m.config.number("beta");
                line(&format!("β·KL = {beta} × {kl:.2}"), format!("{w:.2} nats"));
            }
            if let Some(p) = r.penalty {
                line(r.penalty_label.unwrap_or("penalty"), format!("{p:.2}"));
            }
            if let Some(e) = r.neg_elbo {
                line("−ELBO = reconstruction + KL", format!("{e:.1} nats"));
            }
            if r.weighted_kl.is_some() || r.penalty.is_some() || r.kl.is_none() {
                line(
                    "what training minimises",
                    format!("{:.1} nats", r.objective),
                );
            }
        });
}

/// For 2-D point sets: a square over the test data where a click places the item.
fn point_ui(ui: &mut Ui, ds: &Dataset, x: &mut [f32], side: f32) -> Rect {
    let (rect, response) = ui.allocate_exact_size(vec2(side, side), Sense::click_and_drag());
    if let Some(pos) = response
        .interact_pointer_pos()
        .filter(|_| response.clicked() || response.dragged())
    {
        let p = (pos - rect.min) / rect.size();
        if x.len() >= 2 {
            x[0] = p.x.clamp(0.0, 1.0);
            x[1] = (1.0 - p.y).clamp(0.0, 1.0);
        }
    }
    points_in_square(ui, rect, ds, x, theme::PINNED);
    rect
}

/// The pixel under a screen position, in pixel units (0..w, 0..h).
fn pixel_at(rect: Rect, pos: Pos2, w: usize, h: usize) -> [f32; 2] {
    let p = (pos - rect.min) / rect.size();
    [p.x * w as f32, p.y * h as f32]
}

/// Paints a soft round brush of radius `r` pixels from `a` to `b`: each pixel gets the
/// brush's value at its distance from the segment (1 at the centre line, falling to 0 a
/// pixel past `r`); drawing keeps the larger value, erasing the smaller complement.
pub fn stroke(x: &mut [f32], w: usize, h: usize, a: [f32; 2], b: [f32; 2], r: f32, erase: bool) {
    let reach = r + 1.0;
    let (x0, x1) = (a[0].min(b[0]) - reach, a[0].max(b[0]) + reach);
    let (y0, y1) = (a[1].min(b[1]) - reach, a[1].max(b[1]) + reach);
    for py in (y0.floor().max(0.0) as usize)..(y1.ceil().max(0.0) as usize).min(h) {
        for px in (x0.floor().max(0.0) as usize)..(x1.ceil().max(0.0) as usize).min(w) {
            let c = [px as f32 + 0.5, py as f32 + 0.5];
            let d = distance_to_segment(c, a, b);
            let v = (reach - d).clamp(0.0, 1.0);
            let cell = &mut x[py * w + px];
            *cell = if erase {
                cell.min(1.0 - v)
            } else {
                cell.max(v)
            };
        }
    }
}

fn distance_to_segment(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a[0] + t * dx, a[1] + t * dy);
    ((p[0] - qx).powi(2) + (p[1] - qy).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::stroke;

    #[test]
    fn a_stroke_paints_along_its_segment_and_the_eraser_removes_it() {
        let (w, h) = (28, 28);
        let mut x = vec![0.0f32; w * h];
        stroke(&mut x, w, h, [4.0, 14.0], [24.0, 14.0], 1.5, false);
        // On the line: full ink; 5 pixels away: none; the ends reach a little past.
        assert_eq!(x[13 * w + 14], 1.0);
        assert_eq!(x[8 * w + 14], 0.0);
        assert_eq!(x[13 * w + 1], 0.0);
        let inked = x.iter().filter(|&&v| v > 0.0).count();
        assert!((60..=160).contains(&inked), "{inked} pixels inked");
        stroke(&mut x, w, h, [0.0, 14.0], [28.0, 14.0], 3.0, true);
        assert!(x.iter().all(|&v| v == 0.0), "the eraser clears it");
    }
}
