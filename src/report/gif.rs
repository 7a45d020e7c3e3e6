//! The latent GIF: every model's latent scatter side by side, one frame per snapshot,
//! the step and epoch written on each, looping, with a pause on the last frame.

use super::canvas::FigureError;
use super::canvas::{Canvas, FONT, err};
use super::latent::{class_legend, scatter_chart};
use crate::data::Dataset;
use crate::train::Snapshot;
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
    // Every frame as wide as the one with most models, so none is cropped.
    let models = frames.iter().map(|f| f.models.len()).max().unwrap_or(1);
    let size = (PANEL * models.max(1) as u32 + LEGEND, PANEL + HEADER);
    let (Ok(width), Ok(height)) = (u16::try_from(size.0), u16::try_from(size.1)) else {
        return Err(err(path, "too many models for one GIF frame"));
    };
    // Drawing, palette and compression of each frame are independent: they share the
    // cores; the file is written in order after.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(frames.len());
    let mut encoded: Vec<(usize, Result<gif::Frame<'static>, FigureError>)> =
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        (t..frames.len())
                            .step_by(threads)
                            .map(|i| {
                                let last = i + 1 == frames.len();
                                let ms = if last { LAST_FRAME_MS } else { FRAME_MS };
                                let f = gif_frame(path, &frames[i], ds, total_epochs, size, ms);
                                (i, f)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
    encoded.sort_by_key(|e| e.0);
    if encoded.len() != frames.len() {
        return Err(err(path, "a frame could not be drawn"));
    }
    let file = std::fs::File::create(part).map_err(|e| err(path, e))?;
    let mut encoder = gif::Encoder::new(std::io::BufWriter::new(file), width, height, &[])
        .map_err(|e| err(path, e))?;
    encoder
        .set_repeat(gif::Repeat::Infinite)
        .map_err(|e| err(path, e))?;
    for (_, frame) in encoded {
        encoder
            .write_lzw_pre_encoded_frame(&frame?)
            .map_err(|e| err(path, e))?;
    }
    let mut file = encoder.into_inner().map_err(|e| err(path, e))?;
    std::io::Write::flush(&mut file).map_err(|e| err(path, e))?;
    Ok(frames.len())
}

/// One frame drawn, reduced to its palette and compressed, showing for `ms`.
fn gif_frame(
    path: &Path,
    snap: &Snapshot,
    ds: &Dataset,
    total_epochs: Option<usize>,
    (width, height): (u32, u32),
    ms: u32,
) -> Result<gif::Frame<'static>, FigureError> {
    let canvas = frame(path, snap, ds, total_epochs, (width, height))?;
    let (indices, palette) = palette_indices(canvas.rgb());
    let mut f =
        gif::Frame::from_palette_pixels(width as u16, height as u16, indices, palette, None);
    f.delay = u16::try_from(ms / 10).unwrap_or(u16::MAX);
    f.make_lzw_pre_encoded();
    Ok(f)
}

/// The RGB pixels as palette indices and the palette (at most 256 colours, RGB bytes).
/// Colours are binned by their top 5 bits per channel; the 256 most used bins take their
/// mean colour (exact for a bin of one colour: the background, the dots, the text), the
/// rare ones (edges of text and dots) the nearest of those. Far cheaper than a
/// quantiser over every pixel, and the colours the eye reads stay true.
fn palette_indices(rgb: &[u8]) -> (Vec<u8>, Vec<u8>) {
    const BINS: usize = 1 << 15;
    let bin = |p: &[u8]| {
        (usize::from(p[0] >> 3) << 10) | (usize::from(p[1] >> 3) << 5) | usize::from(p[2] >> 3)
    };
    let mut count = vec![0u64; BINS];
    let mut sum = vec![[0u64; 3]; BINS];
    for p in rgb.chunks_exact(3) {
        let b = bin(p);
        count[b] += 1;
        for k in 0..3 {
            sum[b][k] += u64::from(p[k]);
        }
    }
    let mean = |b: usize| -> [u8; 3] {
        let n = count[b].max(1);
        [0, 1, 2].map(|k| ((sum[b][k] + n / 2) / n) as u8)
    };
    let mut used: Vec<usize> = (0..BINS).filter(|&b| count[b] > 0).collect();
    used.sort_by(|a, b| count[*b].cmp(&count[*a]).then(a.cmp(b)));
    let kept = used.len().min(256);
    let palette: Vec<[u8; 3]> = used[..kept].iter().map(|&b| mean(b)).collect();
    let mut lut = vec![0u8; BINS];
    for (i, &b) in used[..kept].iter().enumerate() {
        lut[b] = i as u8;
    }
    let distance = |a: [u8; 3], b: [u8; 3]| -> i32 {
        (0..3)
            .map(|k| (i32::from(a[k]) - i32::from(b[k])).pow(2))
            .sum()
    };
    for &b in &used[kept..] {
        let c = mean(b);
        let nearest = (0..palette.len()).min_by_key(|&i| distance(c, palette[i]));
        lut[b] = nearest.unwrap_or(0) as u8;
    }
    let indices = rgb.chunks_exact(3).map(|p| lut[bin(p)]).collect();
    (indices, palette.concat())
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
        Some(n) => format!("{} of {n} epochs done", snap.epoch),
        None => format!("{} epochs done", snap.epoch),
    };
    let header = format!("step {} · {epoch}", snap.step);
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        root.draw(&Text::new(header, (12, 6), (FONT, 22).into_font()))?;
        let body = root.split_vertically(HEADER).1;
        let n = snap.models.len().max(1) as u32;
        let (plots, legend) = body.split_horizontally(PANEL * n);
        for (area, m) in plots.split_evenly((1, n as usize)).iter().zip(&snap.models) {
            scatter_chart(area, m, &snap.display_labels, 16, 2)?;
        }
        class_legend(&legend, ds, 10)?;
        Ok(())
    })?;
    Ok(canvas)
}

#[cfg(test)]
mod tests;
