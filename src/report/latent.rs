//! Figures of the latent space: every model's test codes side by side, coloured by class
//! (`latent.png`), and the decoded grid over the same axes (`grid.png`).

use super::canvas::{self, Canvas, FONT, FigureError, err, image_side, rgb, unit_square_chart};
use crate::data::Dataset;
use crate::explore::colors::{class_rgb, model_rgb};
use crate::explore::{GridSpan, axis_span, code_extent, grid_codes};
use crate::train::{ModelSnapshot, Snapshot};
use plotters::prelude::*;
use std::path::Path;

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
pub(super) fn scatter_chart(
    area: &canvas::Area<'_>,
    m: &ModelSnapshot,
    labels: &[u32],
    caption_px: u32,
    radius: i32,
) -> Result<(), Box<dyn std::error::Error>> {
    let dims = plot_dims(m.latent_dim);
    let (xr, yr) = latent_axes(m);
    let title = format!(
        "{} — latent codes (z{}, z{}){}{}",
        m.kind.title(),
        dims.0 + 1,
        dims.1 + 1,
        if m.decoder.codebook.is_some() {
            ", × codebook"
        } else {
            ""
        },
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
    // A vq-vae's codebook entries, over the codes: the only points its decoder sees. Only
    // those inside the axes (the axes follow the codes; plotters would pin an entry outside
    // them to the frame, where it would look like an entry there).
    if let Some(book) = m.decoder.codebook.as_deref() {
        let inside = |p: &(f32, f32)| (xr.0..=xr.1).contains(&p.0) && (yr.0..=yr.1).contains(&p.1);
        chart.draw_series(
            book.entries
                .chunks_exact(book.dim.max(1))
                .filter_map(|e| Some((*e.get(dims.0)?, *e.get(dims.1)?)))
                .filter(inside)
                .map(|p| Cross::new(p, radius + 3, BLACK.stroke_width(2))),
        )?;
    }
    Ok(())
}

/// The classes' colours and names, one a line from `top`.
pub(super) fn class_legend(
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
        Some((ch, w, h)) => {
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
                for (c, item) in d.chunks_exact(ch * w * h).enumerate() {
                    let (gx, gy) = ((c % k) as u32, (c / k) as u32);
                    canvas.paste(x0 + gx * cell.0, top + gy * cell.1, item, (ch, w, h), zoom);
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
pub(super) fn points_figure(
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
