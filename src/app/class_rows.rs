//! A conditional model's "same z, every class" figure (Kingma et al. 2014, "Semi-supervised
//! learning with deep generative models", fig. 1): each row decodes one random z of the
//! prior as every class in turn, so a row keeps one style (slant, width, thickness) across
//! ten different digits. It shows what the code of a cvae holds once the class is given.

use super::items::{Decoded, Tex, decode_failed_ui, key_of, show_items};
use super::theme;
use crate::data::Dataset;
use crate::model::DecoderSnapshot;
use crate::train::ModelSnapshot;
use egui::{RichText, Ui, vec2};
use std::collections::HashMap;

/// Classes shown as columns, at most: more would make cells too small to read.
pub const MAX_CLASSES: usize = 12;

/// Rows (styles) shown, at most.
const MAX_ROWS: usize = 8;

/// The least side of one cell, in points.
const MIN_CELL: f32 = 28.0;

/// The decodings and textures of each conditional model's figure.
#[derive(Default)]
pub struct ClassRows {
    decoded: HashMap<String, (u64, Decoded)>,
    textures: HashMap<String, Tex>,
}

/// The first `rows` codes of `z` (`latent_dim` each) decoded as classes `0..classes`,
/// row by row: item `r · classes + c` is code `r` decoded as class `c`.
pub fn decode_rows(
    decoder: &DecoderSnapshot,
    latent_dim: usize,
    z: &[f32],
    rows: usize,
    classes: usize,
) -> Decoded {
    let mut codes = Vec::with_capacity(rows * classes * latent_dim);
    let mut labels = Vec::with_capacity(rows * classes);
    for code in z.chunks_exact(latent_dim.max(1)).take(rows) {
        for c in 0..classes as u32 {
            codes.extend_from_slice(code);
            labels.push(c);
        }
    }
    Decoded::of_each(decoder, &codes, &labels)
}

/// The height of a class-name header over the columns.
fn header_height(ui: &Ui) -> f32 {
    ui.text_style_height(&egui::TextStyle::Body) + 4.0
}

/// The side of one cell when `classes` columns share the width left in `ui`.
fn cell_side(ui: &Ui, classes: usize) -> f32 {
    (ui.available_width() / classes.max(1) as f32).clamp(MIN_CELL, theme::ITEM_IMAGE)
}

/// The height [`ClassRows::ui`] takes for one row of a model with `classes` classes, in the
/// width left in `ui`: what a panel leaves below its other content.
pub fn one_row_height(ui: &Ui, classes: usize) -> f32 {
    let caption = ui.text_style_height(&egui::TextStyle::Small);
    let gaps = 3.0 * ui.spacing().item_spacing.y;
    caption + header_height(ui) + cell_side(ui, classes.min(MAX_CLASSES)) + gaps
}

impl ClassRows {
    /// Forgets every decoding (a new run).
    pub fn clear(&mut self) {
        self.decoded.clear();
        self.textures.clear();
    }

    /// Draws model `m`'s figure from codes `z` (`latent_dim` each: one row per code, as many
    /// as fit, at most [`MAX_ROWS`]) under `caption`, with a key that changes whenever the
    /// codes or the weights do. Returns the figure's response.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        m: &ModelSnapshot,
        ds: &Dataset,
        z: &[f32],
        key: u64,
        caption: &str,
    ) -> egui::Response {
        let all_classes = m.decoder.classes;
        let classes = all_classes.min(MAX_CLASSES);
        let color = theme::model_color(m.kind);
        ui.label(RichText::new(caption).small().color(theme::QUIET))
            .on_hover_text(
                "A conditional VAE gets the class from outside, so its code z is free to hold what \
             the class does not say: the style. Each row decodes one z drawn from N(0, I) as \
             every class in turn; along a row the class changes and the style stays.",
            );
        if classes < all_classes {
            ui.label(
                RichText::new(format!("the first {classes} of {all_classes} classes"))
                    .small()
                    .color(theme::QUIET),
            );
        }
        let header = header_height(ui);
        let room_h = (ui.available_height() - header - 8.0).max(MIN_CELL);
        let cell = cell_side(ui, classes);
        let rows = ((room_h / cell) as usize).clamp(1, MAX_ROWS);
        let rows = rows.min(z.len() / m.latent_dim.max(1)).max(1);
        let key = key_of(&[key, rows as u64, classes as u64], &[]);
        let slot = self.decoded.entry(m.name.clone()).or_default();
        if slot.0 != key || slot.1.items().is_empty() && slot.1.error().is_none() {
            *slot = (key, decode_rows(&m.decoder, m.latent_dim, z, rows, classes));
        }
        let decoded = &slot.1;
        if let Some(error) = decoded.error() {
            return decode_failed_ui(ui, error);
        }
        // Column headers: the class names, one per cell.
        let names = ui.horizontal(|ui| {
            ui.spacing_mut().item_spacing.x = 0.0;
            for c in 0..classes {
                let name = ds
                    .class_names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| c.to_string());
                ui.add_sized(
                    vec2(cell, header),
                    egui::Label::new(RichText::new(name).color(theme::class_color(c))).truncate(),
                );
            }
        });
        let tex = self.textures.entry(m.name.clone()).or_default();
        let name = format!("class-rows-{}", m.name);
        let shown = if ds.shape.is_image() {
            show_items(
                ui,
                tex,
                &name,
                key,
                ds,
                decoded.items(),
                classes,
                cell,
                color,
            )
        } else {
            // Points: every class's decodings in its own colour over the data.
            let side = (cell * classes as f32).max(120.0);
            let (rect, response) = ui.allocate_exact_size(vec2(side, side), egui::Sense::hover());
            let per_class = decoded.items().len() / classes.max(1);
            for c in 0..classes {
                let items: Vec<f32> = decoded
                    .items()
                    .chunks_exact(2)
                    .skip(c)
                    .step_by(classes)
                    .flatten()
                    .copied()
                    .collect();
                debug_assert_eq!(items.len(), per_class);
                if c == 0 {
                    super::items::points_in_square(ui, rect, ds, &items, theme::class_color(c));
                } else {
                    super::items::points_on_square(ui, rect, &items, theme::class_color(c));
                }
            }
            response
        };
        names.response.union(shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::DenseWeights;

    /// A conditional "decoder" of one linear layer, input z ++ one-hot(class) (1 + 3
    /// values), output 2 values set by hand: (z, 10·class).
    fn toy_decoder() -> DecoderSnapshot {
        let layer = DenseWeights {
            // [in, out]: z → out0; the one-hot of class c → out1 = 10·c.
            w: vec![1.0, 0.0, 0.0, 0.0, 0.0, 10.0, 0.0, 20.0],
            b: vec![0.0, 0.0],
            n_in: 4,
            n_out: 2,
        };
        let mut d = DecoderSnapshot::new(vec![layer], false);
        d.classes = 3;
        d
    }

    #[test]
    fn rows_hold_one_code_and_columns_one_class() {
        let z = [0.5, -1.0, 7.0];
        let decoded = decode_rows(&toy_decoder(), 1, &z, 2, 3);
        // Row r, column c: (z_r, 10·c); the third code is not asked for.
        let want = [
            0.5, 0.0, 0.5, 10.0, 0.5, 20.0, // z = 0.5 as classes 0, 1, 2
            -1.0, 0.0, -1.0, 10.0, -1.0, 20.0, // z = -1 as classes 0, 1, 2
        ];
        assert_eq!(decoded.error(), None);
        assert_eq!(decoded.items(), &want[..]);
    }
}
