//! The report of a run: PNG figures for the command line (latent scatter, latent grid,
//! reconstructions, prior samples, loss curves, data sheets), drawn with plotters into an
//! RGB buffer.

mod canvas;
mod gif;
mod text;

pub use gif::{GifStats, latent_gif};

use crate::data::{Dataset, ItemShape};
use crate::explore::colors::{class_rgb, model_rgb};
use crate::explore::{GridSpan, axis_span, code_extent, grid_codes};
use crate::train::{EpochSummary, ModelSnapshot, Snapshot};
pub use canvas::FigureError;
use canvas::{Canvas, FONT, err, rgb, unit_square_chart};
use plotters::prelude::*;
use std::path::Path;

fn image_side(shape: ItemShape) -> Option<(usize, usize)> {
    match shape {
        ItemShape::Image { width, height } => Some((width, height)),
        ItemShape::Points { .. } => None,
    }
}

/// The two plotted dimensions of a model's code (the first two; one if the code is 1-D).
fn plot_dims(latent_dim: usize) -> (usize, usize) {
    (0, if latent_dim > 1 { 1 } else { 0 })
}

/// The axes a model's scatter and grid share: the prior's ±3σ square for a VAE
/// (wider if codes lie outside), the codes' range otherwise.
pub fn latent_axes(m: &ModelSnapshot) -> ((f32, f32), (f32, f32)) {
    let dims = plot_dims(m.latent_dim);
    let (x, y) = code_extent(&m.codes, m.latent_dim, dims);
    let variational = m.kind.is_variational();
    (axis_span(x, variational), axis_span(y, variational))
}

/// The grid span of a model: prior quantiles for a VAE, the codes' range otherwise.
pub fn grid_span(m: &ModelSnapshot) -> GridSpan {
    if m.kind.is_variational() {
        GridSpan::Prior
    } else {
        let (x, y) = latent_axes(m);
        GridSpan::Range(x, y)
    }
}

/// Side-by-side scatter of every model's test codes, coloured by class, with a legend.
pub fn latent_scatter(path: &Path, snap: &Snapshot, ds: &Dataset) -> Result<(), FigureError> {
    let n = snap.models.len().max(1) as u32;
    let (panel, legend_w) = (560u32, 150u32);
    let mut canvas = Canvas::new(panel * n + legend_w, panel + 20);
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        let (plots, legend) = root.split_horizontally(panel * n);
        let areas = plots.split_evenly((1, n as usize));
        for (area, m) in areas.iter().zip(&snap.models) {
            scatter_chart(area, m, &snap.display_labels, 20, 2)?;
        }
        class_legend(&legend, ds, 40)?;
        Ok(())
    })?;
    canvas.save(path)
}

/// One model's scatter of its display codes, coloured by class, on its own axes; the
/// caption (in the model's colour) is `caption_px` high, each dot `radius` pixels.
fn scatter_chart(
    area: &canvas::Area<'_>,
    m: &ModelSnapshot,
    labels: &[u32],
    caption_px: u32,
    radius: i32,
) -> Result<(), Box<dyn std::error::Error>> {
    let dims = plot_dims(m.latent_dim);
    let (xr, yr) = latent_axes(m);
    let title = format!(
        "{} — latent codes (z{}, z{}){}",
        m.kind.title(),
        dims.0 + 1,
        dims.1 + 1,
        if m.diverged { " — diverged" } else { "" }
    );
    let font = (FONT, caption_px)
        .into_font()
        .color(&rgb(model_rgb(m.kind)));
    let mut chart = ChartBuilder::on(area)
        .caption(title, font)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_desc(format!("z{}", dims.0 + 1))
        .y_desc(format!("z{}", dims.1 + 1))
        .label_style((FONT, 14))
        .draw()?;
    chart.draw_series(
        m.codes
            .chunks_exact(m.latent_dim.max(1))
            .zip(labels)
            .filter_map(|(c, &l)| {
                let p = (*c.get(dims.0)?, *c.get(dims.1)?);
                Some(Circle::new(
                    p,
                    radius,
                    rgb(class_rgb(l as usize)).mix(0.7).filled(),
                ))
            }),
    )?;
    Ok(())
}

/// The classes' colours and names, one a line from `top`.
fn class_legend(
    legend: &canvas::Area<'_>,
    ds: &Dataset,
    top: i32,
) -> Result<(), Box<dyn std::error::Error>> {
    legend.draw(&Text::new("classes", (10, top), (FONT, 16)))?;
    for (i, name) in ds.class_names.iter().enumerate().take(30) {
        let y = top + 26 + i as i32 * 22;
        legend.draw(&Circle::new((18, y + 7), 6, rgb(class_rgb(i)).filled()))?;
        legend.draw(&Text::new(name.clone(), (32, y), (FONT, 15)))?;
    }
    Ok(())
}

/// Decoded k×k latent grid per model, side by side, on the same axes as the scatter.
pub fn latent_grid(
    path: &Path,
    snap: &Snapshot,
    ds: &Dataset,
    k: usize,
) -> Result<(), FigureError> {
    let n = snap.models.len().max(1);
    match image_side(ds.shape) {
        Some((w, h)) => {
            let zoom = 1u32;
            let cell = (w as u32 * zoom, h as u32 * zoom);
            let (pad, top) = (20u32, 60u32);
            let grid_w = cell.0 * k as u32;
            let mut canvas =
                Canvas::new((grid_w + 2 * pad) * n as u32, cell.1 * k as u32 + top + 40);
            let mut decoded = Vec::new();
            for m in &snap.models {
                let base = vec![0.0f32; m.latent_dim];
                let codes = grid_codes(k, grid_span(m), &base, plot_dims(m.latent_dim));
                decoded.push(m.decoder.decode(&codes).map_err(|e| err(path, e))?);
            }
            canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
                for (i, m) in snap.models.iter().enumerate() {
                    let x = (i as u32 * (grid_w + 2 * pad) + pad) as i32;
                    let span = match grid_span(m) {
                        GridSpan::Prior => {
                            "cells at prior quantiles (inverse normal CDF)".to_string()
                        }
                        GridSpan::Range(a, b) => {
                            format!("z1 {:.1}..{:.1}, z2 {:.1}..{:.1}", a.0, a.1, b.0, b.1)
                        }
                    };
                    root.draw(&Text::new(
                        format!("{} — decoded latent grid", m.kind.title()),
                        (x, 12),
                        (FONT, 18).into_font().color(&rgb(model_rgb(m.kind))),
                    ))?;
                    root.draw(&Text::new(span, (x, 36), (FONT, 13)))?;
                }
                Ok(())
            })?;
            for (i, d) in decoded.iter().enumerate() {
                let x0 = i as u32 * (grid_w + 2 * pad) + pad;
                for (c, item) in d.chunks_exact(w * h).enumerate() {
                    let (gx, gy) = ((c % k) as u32, (c / k) as u32);
                    canvas.paste_gray(x0 + gx * cell.0, top + gy * cell.1, item, w, h, zoom);
                }
            }
            canvas.save(path)
        }
        None => points_figure(path, snap, ds, "decoded latent grid", |m| {
            let base = vec![0.0f32; m.latent_dim];
            let codes = grid_codes(k, grid_span(m), &base, plot_dims(m.latent_dim));
            m.decoder.decode(&codes).map_err(|e| err(path, e))
        }),
    }
}

/// For 2-D point data: the test points in light gray and, per model, some decoded points.
fn points_figure(
    path: &Path,
    snap: &Snapshot,
    ds: &Dataset,
    what: &str,
    decode: impl Fn(&ModelSnapshot) -> Result<Vec<f32>, FigureError>,
) -> Result<(), FigureError> {
    let n = snap.models.len().max(1) as u32;
    let panel = 480u32;
    let mut canvas = Canvas::new(panel * n, panel);
    let decoded = snap
        .models
        .iter()
        .map(decode)
        .collect::<Result<Vec<_>, _>>()?;
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        let areas = root.split_evenly((1, n as usize));
        for ((area, m), pts) in areas.iter().zip(&snap.models).zip(&decoded) {
            let caption = format!("{} — {what}", m.kind.title());
            let mut chart = unit_square_chart(
                area,
                caption,
                (FONT, 18).into_font().color(&rgb(model_rgb(m.kind))),
            )?;
            chart.draw_series(
                ds.test
                    .x
                    .chunks_exact(2)
                    .take(2000)
                    .map(|p| Circle::new((p[0], p[1]), 2, RGBColor(200, 200, 200).filled())),
            )?;
            chart.draw_series(
                pts.chunks_exact(2)
                    .map(|p| Circle::new((p[0], p[1]), 2, rgb(model_rgb(m.kind)).filled())),
            )?;
        }
        Ok(())
    })?;
    canvas.save(path)
}

/// The fixed test inputs in the first row, then each model's reconstructions.
pub fn reconstructions(path: &Path, snap: &Snapshot, ds: &Dataset) -> Result<(), FigureError> {
    let Some((w, h)) = image_side(ds.shape) else {
        return points_figure(path, snap, ds, "reconstructions of test points", |m| {
            Ok(m.recon.clone())
        });
    };
    let zoom = 3u32;
    let cols = snap.recon_indices.len() as u32;
    let (label_w, row_h, cell_w) = (170u32, h as u32 * zoom + 26, w as u32 * zoom + 6);
    let rows = 1 + snap.models.len() as u32;
    let mut canvas = Canvas::new(label_w + cols * cell_w + 10, rows * row_h + 50);
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        root.draw(&Text::new(
            "Reconstructions of the same test inputs (reconstruction NLL in nats under each)",
            (10, 10),
            (FONT, 17),
        ))?;
        root.draw(&Text::new(
            "input",
            (10, 50 + (row_h / 2) as i32 - 8),
            (FONT, 16),
        ))?;
        for (r, m) in snap.models.iter().enumerate() {
            let y = 50 + (r as u32 + 1) * row_h;
            root.draw(&Text::new(
                m.kind.title().to_string(),
                (10, (y + row_h / 2) as i32 - 8),
                (FONT, 16).into_font().color(&rgb(model_rgb(m.kind))),
            ))?;
            for (c, loss) in m.recon_losses.iter().enumerate() {
                let x = label_w + c as u32 * cell_w;
                root.draw(&Text::new(
                    format!("{loss:.0}"),
                    (x as i32 + 20, (y + h as u32 * zoom + 4) as i32),
                    (FONT, 12),
                ))?;
            }
        }
        Ok(())
    })?;
    // Rows as long as the data they have: a short row leaves cells empty, never panics.
    for (c, input) in snap.recon_inputs.chunks_exact(w * h).enumerate() {
        canvas.paste_gray(label_w + c as u32 * cell_w, 50, input, w, h, zoom);
    }
    for (r, m) in snap.models.iter().enumerate() {
        let y = 50 + (r as u32 + 1) * row_h;
        for (c, item) in m.recon.chunks_exact(w * h).enumerate() {
            canvas.paste_gray(label_w + c as u32 * cell_w, y, item, w, h, zoom);
        }
    }
    canvas.save(path)
}

/// Decodings of z ~ N(0, I) per model, side by side (same z for every model of a given size).
pub fn prior_samples(
    path: &Path,
    snap: &Snapshot,
    ds: &Dataset,
    side: usize,
    seed: u64,
) -> Result<(), FigureError> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let z_for = |d: usize| -> Vec<f32> {
        let mut rng = crate::rng::PortableRng::seed_from_u64(seed);
        (0..side * side * d)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect()
    };
    let Some((w, h)) = image_side(ds.shape) else {
        return points_figure(path, snap, ds, "samples from the prior N(0, I)", |m| {
            m.decoder
                .decode(&z_for(m.latent_dim))
                .map_err(|e| err(path, e))
        });
    };
    let zoom = 2u32;
    let (pad, top) = (20u32, 50u32);
    let grid = side as u32 * w as u32 * zoom;
    let n = snap.models.len() as u32;
    let mut canvas = Canvas::new(n * (grid + 2 * pad), grid + top + 10);
    let mut decoded = Vec::new();
    for m in &snap.models {
        decoded.push(
            m.decoder
                .decode(&z_for(m.latent_dim))
                .map_err(|e| err(path, e))?,
        );
    }
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        for (i, m) in snap.models.iter().enumerate() {
            let x = (i as u32 * (grid + 2 * pad) + pad) as i32;
            root.draw(&Text::new(
                format!("{} — samples from N(0, I)", m.kind.title()),
                (x, 14),
                (FONT, 18).into_font().color(&rgb(model_rgb(m.kind))),
            ))?;
        }
        Ok(())
    })?;
    for (i, d) in decoded.iter().enumerate() {
        let x0 = i as u32 * (grid + 2 * pad) + pad;
        for (c, item) in d.chunks_exact(w * h).enumerate() {
            canvas.paste_gray(
                x0 + (c % side) as u32 * w as u32 * zoom,
                top + (c / side) as u32 * h as u32 * zoom,
                item,
                w,
                h,
                zoom,
            );
        }
    }
    canvas.save(path)
}

/// Per-epoch loss curves: reconstruction, KL and total; solid train, dotted test.
pub fn loss_curves(path: &Path, summaries: &[EpochSummary]) -> Result<(), FigureError> {
    let Some(first) = summaries.first() else {
        return Err(err(path, "no epochs to plot"));
    };
    let mut canvas = Canvas::new(1500, 460);
    type Getter = fn(&crate::model::Metrics) -> f64;
    let panels: [(&str, Getter); 3] = [
        ("reconstruction (nats per item)", |m| m.recon),
        ("KL to the prior (nats per item)", |m| m.kl),
        ("total loss (nats per item)", |m| m.loss),
    ];
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        for (area, (title, get)) in root.split_evenly((1, 3)).iter().zip(panels) {
            let values: Vec<f64> = summaries
                .iter()
                .flat_map(|s| {
                    s.models
                        .iter()
                        .filter(|m| !m.diverged)
                        .flat_map(|m| [get(&m.train), get(&m.test)])
                })
                .filter(|v| v.is_finite())
                .collect();
            let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let (lo, hi) = if lo.is_finite() && hi.is_finite() {
                (lo, hi.max(lo + 1e-3))
            } else {
                (0.0, 1.0)
            };
            let pad = (hi - lo) * 0.08;
            let (lo, hi) = (lo - pad, hi + pad);
            let epochs = summaries.len() as f64;
            let mut chart = ChartBuilder::on(area)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(34)
                .y_label_area_size(56)
                .build_cartesian_2d(0.5f64..epochs + 0.5, lo..hi)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .label_style((FONT, 13))
                .draw()?;
            for (mi, m) in first.models.iter().enumerate() {
                let colour = rgb(model_rgb(m.kind));
                let series = |test: bool| {
                    summaries
                        .iter()
                        .filter_map(move |s| {
                            s.models.get(mi).map(|mm| {
                                (s.epoch as f64, get(if test { &mm.test } else { &mm.train }))
                            })
                        })
                        .filter(|(_, v)| v.is_finite())
                        .collect::<Vec<_>>()
                };
                chart
                    .draw_series(LineSeries::new(series(false), colour.stroke_width(2)))?
                    .label(format!("{} train", m.kind.title()))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                chart
                    .draw_series(
                        series(true)
                            .into_iter()
                            .map(|p| Circle::new(p, 4, colour.filled())),
                    )?
                    .label(format!("{} test", m.kind.title()))
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, colour.filled()));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, 13))
                .draw()?;
        }
        Ok(())
    })?;
    canvas.save(path)
}

/// A sheet of `per_class` items of every class, one row per class (images), or a
/// scatter of the test points coloured by class (2-D points).
pub fn data_sheet(path: &Path, ds: &Dataset, per_class: usize) -> Result<(), FigureError> {
    let Some((w, h)) = image_side(ds.shape) else {
        let mut canvas = Canvas::new(640, 640);
        canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
            let mut chart = unit_square_chart(
                root,
                format!("{} (test split)", ds.name),
                (FONT, 20).into_font().color(&BLACK),
            )?;
            chart.draw_series(
                ds.test
                    .x
                    .chunks_exact(2)
                    .zip(&ds.test.labels)
                    .map(|(p, &l)| {
                        Circle::new((p[0], p[1]), 2, rgb(class_rgb(l as usize)).filled())
                    }),
            )?;
            Ok(())
        })?;
        return canvas.save(path);
    };
    let zoom = 2u32;
    let classes = ds.num_classes();
    let (label_w, cell) = (110u32, (w as u32 * zoom + 2, h as u32 * zoom + 2));
    let mut canvas = Canvas::new(
        label_w + per_class as u32 * cell.0 + 8,
        classes as u32 * cell.1 + 48,
    );
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        root.draw(&Text::new(
            format!("{} — {per_class} training items per class", ds.name),
            (10, 12),
            (FONT, 18),
        ))?;
        for (c, name) in ds.class_names.iter().enumerate() {
            root.draw(&Text::new(
                name.clone(),
                (12, 44 + (c as u32 * cell.1 + cell.1 / 2) as i32 - 8),
                (FONT, 16),
            ))?;
        }
        Ok(())
    })?;
    let dim = ds.dim();
    let mut counts = vec![0usize; classes];
    for i in 0..ds.train.len() {
        let c = ds.train.labels[i] as usize;
        if c < classes && counts[c] < per_class {
            canvas.paste_gray(
                label_w + counts[c] as u32 * cell.0,
                40 + c as u32 * cell.1,
                ds.train.item(i, dim),
                w,
                h,
                zoom,
            );
            counts[c] += 1;
        }
        if counts.iter().all(|&n| n >= per_class) {
            break;
        }
    }
    canvas.save(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{self, Sizes};
    use crate::model::{DecoderSnapshot, ModelKind, snapshot::DenseWeights};
    use crate::train::ModelSnapshot;
    use std::sync::Arc;

    /// A snapshot of one model whose decoder is `layers`, with `recon_items` reconstructions.
    fn snapshot(layers: Vec<DenseWeights>, dim: usize, recon_items: usize) -> Snapshot {
        let model = ModelSnapshot {
            name: "ae".into(),
            kind: ModelKind::Ae,
            latent_dim: 2,
            decoder: Arc::new(DecoderSnapshot::new(layers, false)),
            encoder: Default::default(),
            config: crate::model::ModelConfig::new(
                ModelKind::Ae,
                dim,
                crate::model::Likelihood::Bernoulli,
            ),
            codes: vec![0.1, 0.2, 0.3, 0.4],
            sigmas: None,
            recon: vec![0.5; dim * recon_items],
            noisy_inputs: None,
            recon_losses: vec![1.0; 3],
            diverged: false,
        };
        Snapshot {
            step: 1,
            epoch: 0,
            display_indices: vec![0, 1],
            display_labels: vec![0, 1],
            recon_indices: vec![0, 1, 2],
            recon_inputs: vec![0.5; dim * 3],
            models: vec![model],
        }
    }

    fn layer(n_in: usize, n_out: usize) -> DenseWeights {
        DenseWeights {
            w: vec![0.1; n_in * n_out],
            b: vec![0.0; n_out],
            n_in,
            n_out,
        }
    }

    #[test]
    fn a_decoder_that_fails_is_an_error_naming_the_figure_not_an_empty_plot() {
        let ds = data::load_with_sizes(
            "moons",
            1,
            Some(Sizes {
                train: 20,
                test: 20,
            }),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        // Layer sizes that do not chain: 2 -> 3, then 4 -> 2.
        let broken = snapshot(vec![layer(2, 3), layer(4, 2)], 2, 3);
        let err = latent_grid(&path, &broken, &ds, 4).unwrap_err().to_string();
        assert!(err.contains("grid.png"), "{err}");
        assert!(!path.exists());
        let working = snapshot(vec![layer(2, 3), layer(3, 2)], 2, 3);
        latent_grid(&path, &working, &ds, 4).unwrap();
        assert!(path.exists());
    }

    #[test]
    fn short_reconstruction_rows_leave_cells_empty_instead_of_panicking() {
        let ds = data::load_with_sizes(
            "digits",
            1,
            Some(Sizes {
                train: 20,
                test: 20,
            }),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recon.png");
        // Three inputs but only one reconstruction of 784 values, and a ragged tail.
        let mut snap = snapshot(vec![layer(2, 784)], 784, 1);
        snap.models[0].recon.extend([0.5; 10]);
        reconstructions(&path, &snap, &ds).unwrap();
        assert!(path.exists());
    }
}
