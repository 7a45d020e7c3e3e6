//! `latentlab encode`: one image through one checkpoint; its code and every term of its
//! loss as one JSON object on stdout (and nothing else there).

use super::args::EncodeArgs;
use crate::data::{self, IMAGE_SIDE, ItemShape};
use crate::model::{ItemReport, checkpoint, inspect};
use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;

/// How many times the reconstruction PNG is scaled up.
const OUT_SCALE: u32 = 4;

/// Runs `latentlab encode`.
pub(super) fn encode(a: EncodeArgs) -> Result<()> {
    let (model, meta) = checkpoint::load(&a.checkpoint)?;
    let side = IMAGE_SIDE;
    let gray28 = ItemShape::gray(side, side);
    if meta.item_shape != gray28 || meta.config.input_dim != side * side {
        bail!(
            "{}: the model takes {} ({} values per item); encode reads images only for \
                models of {side}×{side} gray images",
            a.checkpoint.display(),
            describe(meta.item_shape),
            meta.config.input_dim
        );
    }
    let x = data::load_image_item(&a.image)?;
    let encoder = model.encoder_snapshot()?;
    let decoder = model.decoder_snapshot()?;
    let report = inspect::inspect(&meta.config, &encoder, &decoder, &x, None)
        .map_err(|e| anyhow!("{}: {e}", a.checkpoint.display()))?;
    if let Some(what) = first_not_finite(&report) {
        bail!(
            "{}: the model gives {what} for this image (its weights are finite but too large              for f32 arithmetic: the checkpoint is damaged or the model diverged); nothing              was written",
            a.checkpoint.display()
        );
    }
    if let Some(out) = &a.out {
        write_png(out, &report.recon_image)?;
    }
    super::output::out!("{}", report_json(meta.config.kind.name(), &report)?);
    Ok(())
}

/// The first output of `r` that is not a finite number, named ("a non-finite mu[3] (NaN)").
fn first_not_finite(r: &ItemReport) -> Option<String> {
    let lists: [(&str, Vec<f64>); 4] = [
        ("mu", r.mu.iter().map(|&v| f64::from(v)).collect()),
        (
            "sigma",
            r.sigma.iter().flatten().map(|&v| f64::from(v)).collect(),
        ),
        (
            "kl_per_dim",
            r.kl_per_dim.iter().flatten().copied().collect(),
        ),
        (
            "the reconstruction",
            r.recon_image.iter().map(|&v| f64::from(v)).collect(),
        ),
    ];
    for (name, values) in &lists {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Some(format!("a non-finite {name}[{i}] ({})", values[i]));
        }
    }
    let terms = [
        ("kl", r.kl),
        ("weighted_kl", r.weighted_kl),
        ("penalty", r.penalty),
        ("recon", Some(r.recon_nats)),
        ("elbo", r.neg_elbo),
    ];
    terms.into_iter().find_map(|(name, v)| {
        v.filter(|v| !v.is_finite())
            .map(|v| format!("a non-finite {name} ({v})"))
    })
}

fn describe(shape: ItemShape) -> String {
    match shape {
        ItemShape::Image { .. } => shape.describe(),
        ItemShape::Points { dim } => format!("{dim}-D points"),
    }
}

/// The JSON object `encode` prints, keys in this order; `null` for the terms the kind does
/// not have.
#[derive(serde::Serialize)]
struct EncodeJson<'a> {
    model: &'a str,
    mu: &'a [f32],
    sigma: Option<&'a [f32]>,
    kl: Option<f64>,
    kl_per_dim: Option<&'a [f64]>,
    weighted_kl: Option<f64>,
    penalty: Option<f64>,
    recon: f64,
    elbo: Option<f64>,
}

fn report_json(model: &str, r: &ItemReport) -> Result<String> {
    let json = EncodeJson {
        model,
        mu: &r.mu,
        sigma: r.sigma.as_deref(),
        kl: r.kl,
        kl_per_dim: r.kl_per_dim.as_deref(),
        weighted_kl: r.weighted_kl,
        penalty: r.penalty,
        recon: r.recon_nats,
        elbo: r.neg_elbo.map(|n| -n),
    };
    Ok(serde_json::to_string(&json)?)
}

/// The reconstruction as a gray PNG, scaled up [`OUT_SCALE`] times without smoothing.
fn write_png(path: &Path, pixels: &[f32]) -> Result<()> {
    let side = IMAGE_SIDE as u32;
    let bytes: Vec<u8> = pixels
        .iter()
        .map(|p| (p.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let img = image::GrayImage::from_raw(side, side, bytes).ok_or_else(|| {
        anyhow!(
            "the reconstruction has {} values, not {side}×{side}",
            pixels.len()
        )
    })?;
    let big = image::imageops::resize(
        &img,
        side * OUT_SCALE,
        side * OUT_SCALE,
        image::imageops::FilterType::Nearest,
    );
    big.save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}
