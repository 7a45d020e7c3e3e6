//! Showing decoded items: images as cached textures (set only when the pixels change),
//! 2-D points as markers over the data.

use super::theme;
use crate::data::{Dataset, ItemShape};
use crate::model::DecoderSnapshot;
use egui::{
    Color32, ColorImage, Rect, RichText, Sense, TextureHandle, TextureOptions, Ui, Vec2, pos2, vec2,
};

/// Items a snapshot's decoder made, or why it could not make them: a panel shows the
/// failure where the items would be ([`show_decoded`]) instead of a blank image.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded(Result<Vec<f32>, String>);

impl Default for Decoded {
    fn default() -> Self {
        Self(Ok(Vec::new()))
    }
}

impl Decoded {
    /// Decodes `codes` (`latent_dim` values per item) with `decoder`.
    pub fn of(decoder: &DecoderSnapshot, codes: &[f32]) -> Self {
        Self(decoder.decode(codes).map_err(|e| e.to_string()))
    }

    /// [`Decoded::of`] as class `class` (a conditional decoder, the cvae's; the others
    /// ignore it).
    pub fn of_class(decoder: &DecoderSnapshot, codes: &[f32], class: u32) -> Self {
        Self(decoder.decode_as(codes, class).map_err(|e| e.to_string()))
    }

    /// [`Decoded::of`] of each code as its own class, `labels[row]` (a conditional decoder;
    /// the others ignore the labels).
    pub fn of_each(decoder: &DecoderSnapshot, codes: &[f32], labels: &[u32]) -> Self {
        Self(
            decoder
                .decode_each(codes, labels)
                .map_err(|e| e.to_string()),
        )
    }

    /// A decoding that could not be made, and why.
    pub fn failed(why: &str) -> Self {
        Self(Err(why.to_owned()))
    }

    /// The items (none if decoding failed).
    pub fn items(&self) -> &[f32] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// Why decoding failed, if it did.
    pub fn error(&self) -> Option<&str> {
        self.0.as_ref().err().map(String::as_str)
    }
}

/// One red line, "decode failed: …", drawn where the decoded items would be.
pub fn decode_failed_ui(ui: &mut Ui, error: &str) -> egui::Response {
    ui.add(
        egui::Label::new(RichText::new(format!("decode failed: {error}")).color(theme::ERROR))
            .wrap(),
    )
}

/// [`show_items`] for decoded items, or the failure in their place.
#[allow(clippy::too_many_arguments)]
pub fn show_decoded(
    ui: &mut Ui,
    tex: &mut Tex,
    name: &str,
    key: u64,
    ds: &Dataset,
    decoded: &Decoded,
    cols: usize,
    cell: f32,
    color: Color32,
) -> egui::Response {
    match decoded.error() {
        Some(error) => decode_failed_ui(ui, error),
        None => show_items(ui, tex, name, key, ds, decoded.items(), cols, cell, color),
    }
}

/// A texture that is re-uploaded only when its key changes.
#[derive(Default)]
pub struct Tex {
    handle: Option<TextureHandle>,
    key: Option<u64>,
}

impl Tex {
    /// The texture for `key`, made by `make` only if the key changed.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        key: u64,
        make: impl FnOnce() -> ColorImage,
    ) -> &TextureHandle {
        let options = TextureOptions::NEAREST;
        let fresh = self.key == Some(key);
        let handle = match self.handle.take() {
            Some(h) if fresh => h,
            Some(mut h) => {
                h.set(make(), options);
                h
            }
            None => ctx.load_texture(name, make(), options),
        };
        self.key = Some(key);
        self.handle.insert(handle)
    }
}

/// Items of `channels` planes of `w`×`h` (1 grey, 3 colour) laid out `cols` per row as
/// one image, with a 1-pixel dark gap between them.
pub fn mosaic(items: &[f32], (channels, w, h): (usize, usize, usize), cols: usize) -> ColorImage {
    let plane = w * h;
    let size = (channels.max(1) * plane).max(1);
    let n = items.len() / size;
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let (width, height) = (cols * (w + 1) - 1, rows * (h + 1) - 1);
    let mut img = ColorImage::filled([width, height], theme::MOSAIC_GAP);
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    for (i, item) in items.chunks_exact(size).enumerate() {
        let (x0, y0) = ((i % cols) * (w + 1), (i / cols) * (h + 1));
        for p in 0..plane {
            let colour = if channels >= 3 {
                Color32::from_rgb(
                    byte(item[p]),
                    byte(item[plane + p]),
                    byte(item[2 * plane + p]),
                )
            } else {
                Color32::from_gray(byte(item[p]))
            };
            img.pixels[(y0 + p / w) * width + x0 + p % w] = colour;
        }
    }
    img
}

/// Row `i` of values stored `d` per row, or `None` when the slice is too short (or `d` is 0).
pub fn row(values: &[f32], i: usize, d: usize) -> Option<&[f32]> {
    let start = i.checked_mul(d).filter(|_| d > 0)?;
    values.get(start..start.checked_add(d)?)
}

/// The input of display item `i` of a snapshot, or `None` when the snapshot and the data
/// set disagree (a snapshot of another run, or lists of different lengths).
pub fn display_input<'a>(
    ds: &'a Dataset,
    display_indices: &[usize],
    i: usize,
) -> Option<&'a [f32]> {
    let test_index = *display_indices.get(i)?;
    row(&ds.test.x, test_index, ds.dim())
}

/// A hash key for a list of numbers, so textures redraw exactly when their inputs change.
pub fn key_of(parts: &[u64], values: &[f32]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    for v in values {
        v.to_bits().hash(&mut h);
    }
    h.finish()
}

/// Shows decoded items: a mosaic for images (`cols` per row, each `cell` points wide),
/// or, for 2-D points, the items as coloured markers over the test data in a square.
#[allow(clippy::too_many_arguments)]
pub fn show_items(
    ui: &mut Ui,
    tex: &mut Tex,
    name: &str,
    key: u64,
    ds: &Dataset,
    items: &[f32],
    cols: usize,
    cell: f32,
    color: Color32,
) -> egui::Response {
    match ds.shape {
        ItemShape::Image {
            channels,
            width,
            height,
        } => {
            let n = items.len() / (channels * width * height).max(1);
            let cols = cols.clamp(1, n.max(1));
            let rows = n.div_ceil(cols).max(1);
            let dims = (channels, width, height);
            let handle = tex.get(ui.ctx(), name, key, || mosaic(items, dims, cols));
            let size = vec2(
                cell * cols as f32,
                cell * rows as f32 * height as f32 / width as f32,
            );
            ui.add(egui::Image::new((handle.id(), size)).sense(Sense::click()))
        }
        ItemShape::Points { .. } => {
            let side = (cell * cols as f32).max(120.0);
            let (rect, response) = ui.allocate_exact_size(Vec2::splat(side), Sense::click());
            points_in_square(ui, rect, ds, items, color);
            response
        }
    }
}

/// Draws 2-D points (data coordinates in [0, 1]) over a backdrop of test data.
pub fn points_in_square(ui: &Ui, rect: Rect, ds: &Dataset, items: &[f32], color: Color32) {
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().extreme_bg_color);
    let to_screen = |x: f32, y: f32| square_point(rect, x, y);
    for p in ds.test.x.chunks_exact(2).take(1500) {
        painter.circle_filled(to_screen(p[0], p[1]), 1.5, theme::DATA_BACKDROP);
    }
    points_on_square(ui, rect, items, color);
}

/// Where data coordinates (x, y) in [0, 1] land in `rect` (y up).
fn square_point(rect: Rect, x: f32, y: f32) -> egui::Pos2 {
    pos2(
        rect.left() + x * rect.width(),
        rect.bottom() - y * rect.height(),
    )
}

/// Draws 2-D points (data coordinates in [0, 1]) as coloured markers over `rect`, on what is
/// drawn there already ([`points_in_square`] draws the backdrop).
pub fn points_on_square(ui: &Ui, rect: Rect, items: &[f32], color: Color32) {
    let painter = ui.painter_at(rect);
    let to_screen = |x: f32, y: f32| square_point(rect, x, y);
    for p in items.chunks_exact(2) {
        painter.circle_filled(to_screen(p[0], p[1]), 3.5, color);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mosaic_places_items_row_by_row_with_gaps() {
        // Three 2x1 items, two per row: 2 rows, width 2*3-1 = 5, height 2*2-1 = 3.
        let items = [1.0, 1.0, 0.0, 0.0, 0.5, 0.5];
        let img = mosaic(&items, (1, 2, 1), 2);
        assert_eq!(img.size, [5, 3]);
        assert_eq!(img.pixels[0], Color32::from_gray(255));
        assert_eq!(img.pixels[3], Color32::from_gray(0));
        assert_eq!(img.pixels[2], Color32::from_gray(60), "gap");
        assert_eq!(img.pixels[2 * 5], Color32::from_gray(128));
    }

    #[test]
    fn rows_past_the_end_are_none() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(row(&v, 1, 2), Some(&[3.0, 4.0][..]));
        assert_eq!(row(&v, 2, 2), None, "half a row is no row");
        assert_eq!(row(&v, 0, 0), None);
        assert_eq!(row(&v, usize::MAX, 2), None);
    }

    #[test]
    fn keys_change_with_values() {
        assert_ne!(key_of(&[1], &[0.5]), key_of(&[1], &[0.6]));
        assert_eq!(key_of(&[1, 2], &[0.5]), key_of(&[1, 2], &[0.5]));
    }
}
