//! The latent GIF: every model's latent scatter side by side, one frame per snapshot,
//! the step and epoch written on each, looping, with a pause on the last frame.

use super::canvas::{Canvas, FONT, err};
use super::{FigureError, class_legend, scatter_chart};
use crate::data::Dataset;
use crate::train::Snapshot;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// How long each frame shows, in milliseconds.
pub const FRAME_MS: u32 = 150;
/// How long the last frame shows before the loop starts again.
pub const LAST_FRAME_MS: u32 = 2500;
/// Side of one model's scatter in a frame, in pixels.
const PANEL: u32 = 380;
/// Width of the class legend.
const LEGEND: u32 = 120;
/// Height of the line with the step and epoch.
const HEADER: u32 = 34;
/// NeuQuant's speed (1 to 30): 10 keeps the colours true and costs little.
const QUANTIZE_SPEED: i32 = 10;

/// What a written GIF holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GifStats {
    /// Frames written.
    pub frames: usize,
    /// Size of the file in bytes.
    pub bytes: u64,
}

/// Writes the animation of `frames` (oldest first) to `path`: the latent scatters of every
/// model side by side, "step S · epoch E" on each frame (E of `total_epochs` when given).
/// The file appears whole or not at all (written beside it, then renamed).
pub fn latent_gif(
    path: &Path,
    frames: &[Arc<Snapshot>],
    ds: &Dataset,
    total_epochs: Option<usize>,
) -> Result<GifStats, FigureError> {
    if frames.is_empty() {
        return Err(err(path, "no snapshots to animate"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(path, e))?;
    }
    let part = path.with_extension("gif.part");
    let written = write_frames(&part, path, frames, ds, total_epochs);
    let stats = written.and_then(|n| {
        std::fs::rename(&part, path).map_err(|e| err(path, e))?;
        let bytes = std::fs::metadata(path).map_err(|e| err(path, e))?.len();
        Ok(GifStats { frames: n, bytes })
    });
    if stats.is_err() {
        std::fs::remove_file(&part).ok();
    }
    stats
}

fn write_frames(
    part: &Path,
    path: &Path,
    frames: &[Arc<Snapshot>],
    ds: &Dataset,
    total_epochs: Option<usize>,
) -> Result<usize, FigureError> {
    let file = std::fs::File::create(part).map_err(|e| err(path, e))?;
    let mut encoder = GifEncoder::new_with_speed(std::io::BufWriter::new(file), QUANTIZE_SPEED);
    encoder
        .set_repeat(Repeat::Infinite)
        .map_err(|e| err(path, e))?;
    // Every frame as wide as the one with most models, so none is cropped.
    let models = frames.iter().map(|f| f.models.len()).max().unwrap_or(1);
    let (width, height) = (PANEL * models.max(1) as u32 + LEGEND, PANEL + HEADER);
    for (i, snap) in frames.iter().enumerate() {
        let canvas = frame(path, snap, ds, total_epochs, (width, height))?;
        let rgba = RgbaImage::from_fn(width, height, |x, y| {
            let [r, g, b] = canvas.pixel(x, y);
            image::Rgba([r, g, b, 255])
        });
        let ms = if i + 1 == frames.len() {
            LAST_FRAME_MS
        } else {
            FRAME_MS
        };
        let delay = Delay::from_numer_denom_ms(ms, 1);
        encoder
            .encode_frame(Frame::from_parts(rgba, 0, 0, delay))
            .map_err(|e| err(path, e))?;
    }
    drop(encoder);
    Ok(frames.len())
}

/// One frame: the header line, the scatters, the legend.
fn frame(
    path: &Path,
    snap: &Snapshot,
    ds: &Dataset,
    total_epochs: Option<usize>,
    (width, height): (u32, u32),
) -> Result<Canvas, FigureError> {
    let mut canvas = Canvas::new(width, height);
    let epoch = match total_epochs {
        Some(n) => format!("epoch {} of {n}", snap.epoch),
        None => format!("epoch {}", snap.epoch),
    };
    let header = format!("step {} · {epoch} done", snap.step);
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        root.draw(&Text::new(header, (12, 6), (FONT, 22).into_font()))?;
        let body = root.split_vertically(HEADER).1;
        let n = snap.models.len().max(1) as u32;
        let (plots, legend) = body.split_horizontally(PANEL * n);
        for (area, m) in plots
            .split_evenly((1, n as usize))
            .iter()
            .zip(&snap.models)
        {
            scatter_chart(area, m, &snap.display_labels, 16, 2)?;
        }
        class_legend(&legend, ds, 10)?;
        Ok(())
    })?;
    Ok(canvas)
}

#[cfg(test)]
mod tests;
