//! `traversals.png`: for every model with more than two latent dimensions, one row per
//! dimension (most used first) decoding z with that dimension walked from −3 to +3 around
//! the centre; inactive units dimmed and labelled.

use super::canvas::{Canvas, FONT, FigureError, err, image_side, rgb};
use crate::data::Dataset;
use crate::explore::colors::model_rgb;
use crate::explore::traversal::{self, STEPS};
use crate::train::{ModelSnapshot, Snapshot};
use plotters::prelude::*;
use std::path::Path;

/// The models a traversal figure shows: those with more than two dimensions (a 2-D code is
/// the latent grid already).
pub fn traversed(snap: &Snapshot) -> Vec<&ModelSnapshot> {
    snap.models.iter().filter(|m| m.latent_dim > 2).collect()
}

/// Writes the figure; `Ok(false)` (and no file) when no model has more than two
/// dimensions or the items are not images.
pub fn traversals(path: &Path, snap: &Snapshot, ds: &Dataset) -> Result<bool, FigureError> {
    let models = traversed(snap);
    let Some((ch, w, h)) = image_side(ds.shape) else {
        return Ok(false);
    };
    if models.is_empty() {
        return Ok(false);
    }
    let zoom = if w <= 32 { 2u32 } else { 1 };
    let (cell_w, cell_h) = (w as u32 * zoom + 2, h as u32 * zoom + 2);
    let (label_w, top, pad) = (130u32, 60u32, 24u32);
    let block = label_w + STEPS.len() as u32 * cell_w + pad;
    let most_rows = models.iter().map(|m| m.latent_dim).max().unwrap_or(0) as u32;
    let mut canvas = Canvas::new(
        models.len() as u32 * block + pad,
        top + most_rows * cell_h + 20,
    );
    let mut drawn = Vec::new();
    for m in &models {
        let variational = m.kind.is_variational();
        let (rows, walk) = traversal::plan(
            &m.codes,
            m.sigmas.as_deref(),
            m.latent_dim,
            variational,
            None,
        );
        let mut items = m.decoder.decode(&walk).map_err(|e| err(path, e))?;
        let size = ch * w * h;
        for (r, row) in rows.iter().enumerate() {
            if !row.active {
                // Dimmed: a row that changes nothing reads as such at a glance.
                let span = r * STEPS.len() * size..(r + 1) * STEPS.len() * size;
                if let Some(values) = items.get_mut(span) {
                    values.iter_mut().for_each(|v| *v *= 0.35);
                }
            }
        }
        drawn.push((rows, items, variational));
    }
    canvas.draw(path, |root| -> Result<(), Box<dyn std::error::Error>> {
        root.draw(&Text::new(
            "Traversals: each row walks one dimension of z from −3 to +3 (σ of the prior, or \
             the codes' sd), the others held at the centre; dim rows are inactive units",
            (10, 8),
            (FONT, 15),
        ))?;
        for (i, (m, (rows, _, variational))) in models.iter().zip(&drawn).enumerate() {
            let x = (i as u32 * block + pad) as i32;
            let active = rows.iter().filter(|r| r.active).count();
            root.draw(&Text::new(
                format!(
                    "{} — {active} of {} dimensions active",
                    m.kind.title(),
                    m.latent_dim
                ),
                (x, 32),
                (FONT, 16).into_font().color(&rgb(model_rgb(m.kind))),
            ))?;
            for (r, row) in rows.iter().enumerate() {
                let used = match row.kl {
                    Some(kl) if *variational => format!("KL {kl:.2}"),
                    _ => format!("sd {:.2}", row.variance.sqrt()),
                };
                let text = if row.active {
                    format!("z{} · {used}", row.dim + 1)
                } else {
                    format!("z{} · inactive", row.dim + 1)
                };
                let colour = if row.active {
                    BLACK
                } else {
                    RGBColor(150, 150, 150)
                };
                let y = (top + r as u32 * cell_h + cell_h / 2) as i32 - 7;
                root.draw(&Text::new(
                    text,
                    (x, y),
                    (FONT, 13).into_font().color(&colour),
                ))?;
            }
        }
        Ok(())
    })?;
    for (i, (_, items, _)) in drawn.iter().enumerate() {
        let x0 = i as u32 * block + pad + label_w;
        for (c, item) in items.chunks_exact(ch * w * h).enumerate() {
            let (r, col) = (c / STEPS.len(), c % STEPS.len());
            canvas.paste(
                x0 + col as u32 * cell_w,
                top + r as u32 * cell_h,
                item,
                (ch, w, h),
                zoom,
            );
        }
    }
    canvas.save(path)?;
    Ok(true)
}
