//! The figures' drawing backend: plotters' bitmap backend with its own text drawing.
//!
//! plotters 0.3.7 draws each glyph of a string at the pen position without the glyph's
//! left side bearing (`ab_glyph`'s outline is drawn from its pixel bounds, whose left edge
//! is the bearing, and that offset is dropped). Narrow glyphs after round ones slide left:
//! "cl" in "classes" touched into "d". Here each glyph sits at pen + its bearing, with the
//! same advances, kerning, vertical placement and layout box plotters uses, so anchors,
//! rotation and text sizes stay as they were.

use ab_glyph::{Font, FontRef, ScaleFont, point};
use plotters::backend::{BitMapBackend, DrawingBackend};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};
use std::sync::OnceLock;

/// The one font of the figures (egui's default sans font, as registered with plotters).
fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT).ok())
        .as_ref()
}

/// Every pixel of `text` at `size` px with its coverage in [0, 1], relative to the top
/// left of plotters' layout box (baseline at `size / 2` below the top, as plotters puts it).
pub(super) fn glyph_pixels(text: &str, size: f64, mut pixel: impl FnMut(i32, i32, f32)) {
    let Some(font) = font() else {
        return;
    };
    let scaled = font.as_scaled(size as f32);
    let mut pen = 0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            pen += scaled.kern(p, id);
        }
        prev = Some(id);
        let glyph = id.with_scale_and_position(size as f32, point(pen, size as f32 / 2.0));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (left, top) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|x, y, coverage| pixel(left + x as i32, top + y as i32, coverage));
        }
        pen += scaled.h_advance(id);
    }
}

/// plotters' bitmap backend, drawing text with [`glyph_pixels`].
pub(super) struct FigureBackend<'a>(pub(super) BitMapBackend<'a>);

type Drawn<'a> = Result<(), DrawingErrorKind<<BitMapBackend<'a> as DrawingBackend>::ErrorType>>;

impl<'a> DrawingBackend for FigureBackend<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Drawn<'a> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Drawn<'a> {
        self.0.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Drawn<'a> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Drawn<'a> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Drawn<'a> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Drawn<'a> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Drawn<'a> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Drawn<'a> {
        self.0.fill_polygon(vert, style)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Drawn<'a> {
        self.0.blit_bitmap(pos, size, src)
    }

    /// As plotters' own `draw_text` (anchor, layout box, rotation), with the glyphs placed
    /// by [`glyph_pixels`].
    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Drawn<'a> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let mut result = Ok(());
        glyph_pixels(text, style.size(), |x, y, coverage| {
            let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if result.is_ok() && x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let c = BackendColor {
                    alpha: color.alpha * f64::from(coverage),
                    rgb: color.rgb,
                };
                result = self.0.draw_pixel((x, y), c);
            }
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::glyph_pixels;
    use std::collections::BTreeMap;

    /// Runs of columns holding ink (a pixel at least a third covered) in `text` at `size`.
    fn ink_runs(text: &str, size: f64) -> usize {
        let mut columns: BTreeMap<i32, f32> = BTreeMap::new();
        glyph_pixels(text, size, |x, _, c| {
            let v = columns.entry(x).or_default();
            *v = v.max(c);
        });
        let inked: Vec<i32> = columns
            .into_iter()
            .filter(|&(_, c)| c >= 1.0 / 3.0)
            .map(|(x, _)| x)
            .collect();
        1 + inked.windows(2).filter(|w| w[1] > w[0] + 1).count()
    }

    #[test]
    fn c_and_l_stay_two_letters_at_every_figure_text_size() {
        // "cl" merged into "d" in "classes" when the bearing of each glyph was dropped.
        for size in 12..=20 {
            assert_eq!(ink_runs("cl", f64::from(size)), 2, "at {size} px");
        }
        // And the text is there: "classes" has ink in as many runs as it has gaps.
        assert!(ink_runs("classes", 16.0) >= 6);
    }
}
