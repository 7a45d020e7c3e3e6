//! Decodings of random points of the prior N(0, I), per model side by side: where the
//! class sees that a VAE's samples look like data and an AE's mostly do not.

use super::actions::Action;
use super::class_rows::ClassRows;
use super::decodes::Decodes;
use super::items::{Tex, decode_failed_ui, key_of, show_items};
use super::selection::decode_class_ui;
use super::theme;
use super::view::{View, ViewCtx};
use egui::{RichText, Ui};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use std::collections::HashMap;

/// Samples per side of each model's mosaic, at most.
const SIDE: usize = 8;

/// The least side of one sample on screen, in points: smaller does not read from the back
/// of a room, so a small panel shows fewer, larger samples.
const MIN_SAMPLE: f32 = 40.0;

/// What "the same z, every class" shows, above it.
const ROWS_CAPTION: &str = "the same z, every class: each row is one random z, each column a class";

/// State of the samples tab.
#[derive(Default)]
pub struct SamplesPanel {
    draw: u64,
    textures: HashMap<String, Tex>,
    decodes: Decodes,
    /// A conditional model shows its samples of one class, as the other panels decode,
    /// instead of "the same z, every class" (the default).
    one_class: bool,
    class_rows: ClassRows,
}

impl View for SamplesPanel {
    fn busy(&self) -> bool {
        self.decodes.busy()
    }

    fn title(&self) -> &'static str {
        "Samples"
    }

    fn about(&self) -> (&'static str, &'static str) {
        (
            "Decodings of random z ~ N(0, I): data-like for a VAE, mostly garbage for an AE.",
            "Each image decodes one random point z drawn from the prior N(0, I), the same \
             points for every model with the same code size (\"Resample\" draws new ones); \
             it shows the decoder's output (pixel probabilities, no pixel noise added). The \
             VAE's KL term trained its codes to fill N(0, I), so its samples land where its \
             decoder learned to draw data. An AE never had a prior: its codes sit wherever \
             training put them, on their own scale and with gaps between clusters, so most \
             points of N(0, I) fall where no training code lies and its decoder produces \
             blends or noise. A VQ-VAE has no prior at all (its paper fits one afterwards): \
             it shows entries of its codebook drawn uniformly, each decoded. For 2-D point \
             data, 400 decoded samples (colour) are drawn over the data (grey). A conditional \
             VAE (cvae) shows \"the same z, every class\": each row decodes one random z as \
             every class, so a row keeps one style across the classes (\"one class only\" \
             shows its samples of the class chosen).",
        )
    }

    fn clear(&mut self) {
        self.textures.clear();
        self.decodes.clear();
        self.class_rows.clear();
    }

    fn ui(&mut self, ui: &mut Ui, cx: &mut ViewCtx<'_>) -> Vec<Action> {
        let (snap, ds) = (cx.snap, cx.ds);
        ui.horizontal(|ui| {
            if ui.button("Resample").clicked() {
                self.draw += 1;
            }
            if snap.models.iter().any(|m| m.decoder.classes > 0) {
                ui.checkbox(&mut self.one_class, "one class only")
                    .on_hover_text(
                        "a conditional VAE (cvae) shows \"the same z, every class\": one random z \
                         per row, decoded as each class; tick to see its samples of one class",
                    );
                if self.one_class {
                    decode_class_ui(ui, cx.selection, snap, ds);
                }
            }
        });
        let n = if ds.shape.is_image() {
            SIDE * SIDE
        } else {
            400
        };
        ui.columns(snap.models.len().max(1), |cols| {
            for (ui, m) in cols.iter_mut().zip(&snap.models) {
                let color = theme::model_color(m.kind);
                let key = key_of(&[snap.step, self.draw], &[]);
                let draw = self.draw;
                if m.decoder.classes > 0 && !self.one_class {
                    ui.label(RichText::new(m.kind.title()).heading().color(color));
                    let z = prior_draws(draw, SIDE * m.latent_dim);
                    let shown = self.class_rows.ui(ui, m, ds, &z, key, ROWS_CAPTION);
                    cx.rects.subject("samples", ui, shown.rect);
                    continue;
                }
                // A vq-vae has no prior: it shows entries of its codebook, drawn uniformly.
                let codebook = m.decoder.codebook.clone();
                let shown = self.decodes.get(
                    ui.ctx(),
                    &m.name,
                    key,
                    &m.decoder,
                    cx.selection.decode_class,
                    || match &codebook {
                        Some(c) => {
                            let mut rng = crate::rng::PortableRng::seed_from_u64(draw);
                            crate::model::vq::draw_entries(c, n, &mut rng)
                        }
                        None => prior_draws(draw, n * m.latent_dim),
                    },
                );
                ui.horizontal(|ui| {
                    ui.label(RichText::new(m.kind.title()).heading().color(color));
                    if shown.as_ref().is_none_or(|s| s.stale) {
                        ui.spinner().on_hover_text("decoding the newest samples");
                    }
                });
                if let Some(c) = &m.decoder.codebook {
                    ui.label(
                        RichText::new(format!(
                            "no prior to sample: entries of its {}-entry codebook, drawn \
                             uniformly",
                            c.len()
                        ))
                        .small()
                        .color(theme::CODEBOOK),
                    );
                }
                let Some(shown) = shown else {
                    continue;
                };
                let key = shown.key;
                let room = ui.available_width().min(ui.available_height() - 40.0);
                let side = ((room / MIN_SAMPLE) as usize).clamp(3, SIDE);
                let cell = (room / side as f32).max(6.0);
                // The first side × side of the same draws: fewer samples, the same points.
                let tex = self.textures.entry(m.name.clone()).or_default();
                let shown = match shown.decoded.error() {
                    Some(error) => decode_failed_ui(ui, error),
                    None => {
                        let all = shown.decoded.items();
                        let per_item = all.len() / n.max(1);
                        let items = if ds.shape.is_image() {
                            &all[..(side * side * per_item).min(all.len())]
                        } else {
                            all
                        };
                        let name = format!("samples-{}", m.name);
                        show_items(
                            ui,
                            tex,
                            &name,
                            key ^ side as u64,
                            ds,
                            items,
                            side,
                            cell,
                            color,
                        )
                    }
                };
                cx.rects.subject("samples", ui, shown.rect);
            }
        });
        Vec::new()
    }
}

/// `count` values of N(0, 1) from draw number `draw`: the same values for every model, so
/// models of the same code size decode the same points (and a conditional model's rows are
/// the first points of the others' mosaics).
fn prior_draws(draw: u64, count: usize) -> Vec<f32> {
    let mut rng = crate::rng::PortableRng::seed_from_u64(draw);
    (0..count)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect()
}
