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
    let shape = meta.item_shape;
    if !shape.is_image() || meta.config.input_dim != shape.dim() {
        bail!(
            "{}: the model takes {} ({} values per item); encode reads images only for \
                models of images ({IMAGE_SIDE}×{IMAGE_SIDE} gray, or the size and colour \
                of their folder set)",
            a.checkpoint.display(),
            describe(shape),
            meta.config.input_dim
        );
    }
    let class = class_of(&a, &meta.config)?;
    // The image made the model's item shape, as its training images were.
    let x = data::load_image_as(&a.image, shape)?;
    let encoder = model.encoder_snapshot()?;
    let decoder = model.decoder_snapshot()?;
    let report = inspect::inspect_as(&meta.config, &encoder, &decoder, &x, None, class)
        .map_err(|e| anyhow!("{}: {e}", a.checkpoint.display()))?;
    if let Some(what) = first_not_finite(&report) {
        bail!(
            "{}: the model gives {what} for this image (its weights are finite but too large \
             for f32 arithmetic: the checkpoint is damaged or the model diverged); nothing \
             was written",
            a.checkpoint.display()
        );
    }
    if let Some(out) = &a.out {
        write_png(out, &report.recon_image, shape)?;
    }
    super::output::out!("{}", report_json(meta.config.kind.name(), &report)?);
    Ok(())
}

/// The class `--class` gives: required for a conditional kind (cvae), within its classes;
/// refused for the other kinds, which do not see one.
fn class_of(a: &EncodeArgs, config: &crate::model::ModelConfig) -> Result<u32> {
    let classes = config.condition_dim();
    match (a.class, classes) {
        (None, 0) => Ok(0),
        (Some(c), 0) => bail!(
            "--class {c}: a {} model does not see a class (only a conditional one, cvae, does)",
            config.kind
        ),
        (None, n) => bail!(
            "{}: a {} model needs the image's class: add --class C (0 to {})",
            a.checkpoint.display(),
            config.kind,
            n - 1
        ),
        (Some(c), n) if c as usize >= n => bail!(
            "--class {c} is out of range: the model has {n} classes (0 to {})",
            n - 1
        ),
        (Some(c), _) => Ok(c),
    }
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
    /// A vq-vae's nearest codebook entry (absent for other kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<usize>,
    /// ‖μ − e‖ to that entry (absent for other kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    code_distance: Option<f64>,
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
        code: r.code.map(|c| c.0),
        code_distance: r.code.map(|c| c.1),
    };
    Ok(serde_json::to_string(&json)?)
}

/// The reconstruction as a PNG (grey, or colour from its three planes), scaled up
/// [`OUT_SCALE`] times without smoothing.
fn write_png(path: &Path, pixels: &[f32], shape: ItemShape) -> Result<()> {
    let (channels, w, h) = shape
        .image_dims()
        .ok_or_else(|| anyhow!("the model's items are not images"))?;
    let plane = w * h;
    if pixels.len() != channels * plane {
        bail!(
            "the reconstruction has {} values, not {}",
            pixels.len(),
            shape.describe()
        );
    }
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let mut rgb = Vec::with_capacity(plane * 3);
    for p in 0..plane {
        for c in 0..3 {
            rgb.push(byte(pixels[c.min(channels - 1) * plane + p]));
        }
    }
    let img = image::RgbImage::from_raw(w as u32, h as u32, rgb)
        .ok_or_else(|| anyhow!("the reconstruction is not {}", shape.describe()))?;
    let big = image::imageops::resize(
        &img,
        w as u32 * OUT_SCALE,
        h as u32 * OUT_SCALE,
        image::imageops::FilterType::Nearest,
    );
    big.save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}
