//! Figures of items: reconstructions beside their inputs (`recon.png`), samples from the
//! prior (`samples.png`) and a sheet of a data set's items by class.

use super::canvas::{Canvas, FONT, FigureError, err, image_side, rgb, unit_square_chart};
use super::latent::points_figure;
use crate::data::Dataset;
use crate::explore::colors::{class_rgb, model_rgb};
use crate::train::Snapshot;
use plotters::prelude::*;
use std::path::Path;

/// The fixed test inputs in the first row, then each model's reconstructions.
pub fn reconstructions(path: &Path, snap: &Snapshot, ds: &Dataset) -> Result<(), FigureError> {
    let Some((ch, w, h)) = image_side(ds.shape) else {
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
    for (c, input) in snap.recon_inputs.chunks_exact(ch * w * h).enumerate() {
        canvas.paste(label_w + c as u32 * cell_w, 50, input, (ch, w, h), zoom);
    }
    for (r, m) in snap.models.iter().enumerate() {
        let y = 50 + (r as u32 + 1) * row_h;
        for (c, item) in m.recon.chunks_exact(ch * w * h).enumerate() {
            canvas.paste(label_w + c as u32 * cell_w, y, item, (ch, w, h), zoom);
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
    let Some((ch, w, h)) = image_side(ds.shape) else {
        return points_figure(path, snap, ds, "samples from the prior N(0, I)", |m| {
            m.decoder
                .decode(&z_for(m.latent_dim))
                .map_err(|e| err(path, e))
        });
    };
    let mut sheets = Vec::new();
    for m in &snap.models {
        // A conditional decoder takes the classes in turn (with as many classes as
        // columns, each column is one class).
        let classes = m.decoder.classes;
        let z = z_for(m.latent_dim);
        let labels: Vec<u32> = (0..side * side)
            .map(|i| (i % classes.max(1)) as u32)
            .collect();
        let decoded = m
            .decoder
            .decode_each(&z, &labels)
            .map_err(|e| err(path, e))?;
        let title = match classes {
            0 => format!("{} — samples from N(0, I)", m.kind.title()),
            _ => format!("{} — samples from N(0, I), classes in turn", m.kind.title()),
        };
        sheets.push((title, model_rgb(m.kind), decoded));
    }
    sample_sheets(path, &sheets, (ch, w, h), side)
}

/// "The same z, every class" of each conditional model (cvae): `rows` draws of z ~ N(0, I),
/// one per row, each decoded as every class in turn (one column per class, the class names
/// above). Written only for image sets with a conditional model; returns whether it was.
pub fn same_z_every_class(
    path: &Path,
    snap: &Snapshot,
    ds: &Dataset,
    rows: usize,
    seed: u64,
) -> Result<bool, FigureError> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let Some((ch, w, h)) = image_side(ds.shape) else {
        return Ok(false);
    };
    let conditional: Vec<_> = snap
        .models
        .iter()
        .filter(|m| m.decoder.classes > 0)
        .collect();
    let Some(classes) = conditional.iter().map(|m| m.decoder.classes).max() else {
        return Ok(false);
    };
    let mut sheets = Vec::new();
    for m in &conditional {
        let mut rng = crate::rng::PortableRng::seed_from_u64(seed);
        let z: Vec<f32> = (0..rows * m.latent_dim)
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let (mut codes, mut labels) = (Vec::new(), Vec::new());
        for code in z.chunks_exact(m.latent_dim.max(1)) {
            for c in 0..classes {
                codes.extend_from_slice(code);
                labels.push((c % m.decoder.classes) as u32);
            }
        }
        let decoded = m
            .decoder
            .decode_each(&codes, &labels)
            .map_err(|e| err(path, e))?;
        let names = ds.class_names.join(" ");
        let title = format!(
            "{}: each row one z ~ N(0, I), each column a class ({names})",
            m.kind.title()
        );
        sheets.push((title, model_rgb(m.kind), decoded));
    }
    sample_sheets(path, &sheets, (ch, w, h), classes)?;
    Ok(true)
}

/// Sheets of decoded images side by side, `side`×`side` each under its title in its
/// colour: the prior-samples figure, and `latentlab sample`'s PNG (one sheet).
pub fn sample_sheets(
    path: &Path,
    sheets: &[(String, [u8; 3], Vec<f32>)],
    (ch, w, h): (usize, usize, usize),
    side: usize,
) -> Result<(), FigureError> {
    let zoom = 2u32;
    let (pad, top) = (20u32, 50u32);
    let grid = side as u32 * w as u32 * zoom;
    let n = sheets.len() as u32;
    let rows = |d: &Vec<f32>| d.len().div_ceil((ch * w * h).max(1)).div_ceil(side.max(1));
    let tallest = sheets.iter().map(|(_, _, d)| rows(d)).max().unwrap_or(0) as u32;
    let mut canvas = Canvas::new(n * (grid + 2 * pad), tallest * h as u32 * zoom + top + 10);
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        for (i, (title, colour, _)) in sheets.iter().enumerate() {
            let x = (i as u32 * (grid + 2 * pad) + pad) as i32;
            root.draw(&Text::new(
                title.clone(),
                (x, 14),
                (FONT, 18).into_font().color(&rgb(*colour)),
            ))?;
        }
        Ok(())
    })?;
    for (i, (_, _, d)) in sheets.iter().enumerate() {
        let x0 = i as u32 * (grid + 2 * pad) + pad;
        for (c, item) in d.chunks_exact(ch * w * h).enumerate() {
            canvas.paste(
                x0 + (c % side) as u32 * w as u32 * zoom,
                top + (c / side) as u32 * h as u32 * zoom,
                item,
                (ch, w, h),
                zoom,
            );
        }
    }
    canvas.save(path)
}

/// A sheet of `per_class` items of every class, one row per class (images), or a
/// scatter of the test points coloured by class (2-D points).
pub fn data_sheet(path: &Path, ds: &Dataset, per_class: usize) -> Result<(), FigureError> {
    let Some((ch, w, h)) = image_side(ds.shape) else {
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
            canvas.paste(
                label_w + counts[c] as u32 * cell.0,
                40 + c as u32 * cell.1,
                ds.train.item(i, dim),
                (ch, w, h),
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
