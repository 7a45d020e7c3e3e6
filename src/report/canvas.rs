//! A drawing surface for the PNG figures: plotters on an RGB buffer with egui's font,
//! plus pasting grey or colour images and saving as PNG.

use super::text::FigureBackend;
use crate::data::ItemShape;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::Path;
use std::sync::Once;

/// Font family name registered with plotters (egui's default sans font).
pub(super) const FONT: &str = "sans-serif";

/// A figure error: drawing or writing the PNG failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FigureError {
    path: String,
    message: String,
}

pub(super) fn err(path: &Path, e: impl std::fmt::Display) -> FigureError {
    FigureError {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, epaint_default_fonts::UBUNTU_LIGHT)
            .ok();
        plotters::style::register_font(FONT, FontStyle::Bold, epaint_default_fonts::UBUNTU_LIGHT)
            .ok();
    });
}

pub(super) fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// An RGB canvas: draw with plotters, paste images, save as PNG.
pub(super) struct Canvas {
    width: u32,
    height: u32,
    buf: Vec<u8>,
}

impl Canvas {
    pub(super) fn new(width: u32, height: u32) -> Self {
        register_font();
        Self {
            width,
            height,
            buf: vec![255; (width * height * 3) as usize],
        }
    }

    pub(super) fn draw<E: std::fmt::Display>(
        &mut self,
        path: &Path,
        f: impl FnOnce(&Area<'_>) -> Result<(), E>,
    ) -> Result<(), FigureError> {
        let root = FigureBackend(BitMapBackend::with_buffer(
            &mut self.buf,
            (self.width, self.height),
        ))
        .into_drawing_area();
        f(&root).map_err(|e| err(path, e))?;
        root.present().map_err(|e| err(path, e))
    }

    /// Pastes an image (values in [0, 1]; `(channels, w, h)`, channel-planar: 1 grey, 3
    /// colour) at (x, y), scaled up by `zoom`.
    pub(super) fn paste(
        &mut self,
        x: u32,
        y: u32,
        values: &[f32],
        (channels, w, h): (usize, usize, usize),
        zoom: u32,
    ) {
        let plane = w * h;
        let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        for i in 0..plane.min(values.len()) {
            // White ink on black, as the data is; colour from the three planes.
            let at = |c: usize| values.get(c * plane + i).copied().unwrap_or(0.0);
            let pixel = if channels >= 3 {
                [byte(at(0)), byte(at(1)), byte(at(2))]
            } else {
                [byte(at(0)); 3]
            };
            let (px, py) = ((i % w) as u32 * zoom + x, (i / w) as u32 * zoom + y);
            for dy in 0..zoom {
                for dx in 0..zoom {
                    let (cx, cy) = (px + dx, py + dy);
                    if cx < self.width && cy < self.height {
                        let o = ((cy * self.width + cx) * 3) as usize;
                        self.buf[o..o + 3].copy_from_slice(&pixel);
                    }
                }
            }
        }
    }

    /// The pixels, RGB row by row.
    pub(super) fn rgb(&self) -> &[u8] {
        &self.buf
    }

    pub(super) fn save(&self, path: &Path) -> Result<(), FigureError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(path, e))?;
        }
        let img = image::RgbImage::from_raw(self.width, self.height, self.buf.clone())
            .ok_or_else(|| err(path, "image buffer has the wrong size"))?;
        img.save(path).map_err(|e| err(path, e))
    }
}

pub(super) type Area<'a> = DrawingArea<FigureBackend<'a>, plotters::coord::Shift>;
pub(super) type UnitChart<'a, 'b> = ChartContext<
    'a,
    FigureBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf32, plotters::coord::types::RangedCoordf32>,
>;

/// A chart over the unit square (2-D data space) with light axes and a caption.
pub(super) fn unit_square_chart<'a, 'b>(
    area: &'a Area<'b>,
    caption: String,
    style: TextStyle<'_>,
) -> Result<UnitChart<'a, 'b>, Box<dyn std::error::Error>> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, style)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0f32..1f32, 0f32..1f32)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .label_style((FONT, 13))
        .draw()?;
    Ok(chart)
}

/// The channels, width and height of an image item; `None` for points.
pub fn image_side(shape: ItemShape) -> Option<(usize, usize, usize)> {
    shape.image_dims()
}
