//! `latentlab codes`: the test items' codes in the TensorFlow Embedding Projector's format
//! (`vectors.tsv`, `metadata.tsv`, `sprite.png`, `projector_config.pbtxt`, and with
//! `--projection` a `projection.tsv`), and their active units and MIG.
//!
//! The Projector reads a sprite sheet of at most 8192×8192 pixels, each item at its own
//! size, as many rows as columns, filled row by row from the top left. So an image set
//! writes its first ⌊8192 / side⌋² test items at most (16,384 of 64×64 sprites, 85,264 of
//! 28×28 digits); every file and both scores use exactly those items, in the same order.

use super::args::CodesArgs;
use super::dataset::load_dataset;
use super::output::out;
use crate::data::{self, Dataset, ItemShape, Split};
use crate::explore::Pca2;
use crate::explore::projection::{self, Projection};
use crate::explore::scores::score_codes;
use crate::model::{Autoencoder, batch_tensor, checkpoint};
use anyhow::{Context, Result, anyhow, bail};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// The largest sprite sheet the Projector shows, in pixels per side.
pub const SPRITE_MAX_SIDE: usize = 8192;
/// Items encoded per forward pass.
const CHUNK: usize = 1000;

/// The `--projection` value, or why it is refused.
fn parse_projection(name: &str) -> Result<Projection> {
    Projection::from_name(name).ok_or_else(|| {
        anyhow!("--projection {name}: unknown; the projections are pca, tsne and umap")
    })
}

/// Runs `latentlab codes`.
pub(super) fn codes(a: CodesArgs) -> Result<()> {
    let projection = a.projection.as_deref().map(parse_projection).transpose()?;
    let (model, meta) = checkpoint::load(&a.checkpoint)?;
    let spec = a.dataset.clone().unwrap_or_else(|| meta.dataset.clone());
    let seed = a.seed.unwrap_or(meta.seed);
    let wrong_size = |what: String| {
        anyhow!(
            "{}: the model takes items of {} values but data set '{spec}' has {what}",
            a.checkpoint.display(),
            meta.config.input_dim,
        )
    };
    // Known before the data is built for most data sets; checked again after loading.
    let peeked = data::peek_shape(&spec).map_err(|e| anyhow!("data set: {e}"))?;
    if let Some(shape) = peeked.filter(|s| s.dim() != meta.config.input_dim) {
        return Err(wrong_size(describe(shape)));
    }
    let ds = load_dataset(&spec, seed)?;
    if ds.dim() != meta.config.input_dim {
        return Err(wrong_size(describe(ds.shape)));
    }
    let n = ds.test.len().min(sprite_capacity(ds.shape));
    let dim = meta.config.latent_dim;
    let codes = encode_items(&model, &ds.test, ds.dim(), n)
        .map_err(|e| anyhow!("{}: {e}", a.checkpoint.display()))?;
    if let Some(i) = codes.iter().position(|v| !v.is_finite()) {
        bail!(
            "{}: the model gives a non-finite code for test item {} (the checkpoint is \
             damaged or the model diverged); nothing was written",
            a.checkpoint.display(),
            i / dim.max(1)
        );
    }
    let k = ds.factor_names.len();
    let factors = ds.test.factors.get(..n * k).unwrap_or(&[]);
    let scores = score_codes(&codes, dim, factors, k);
    // Before any file is written: a projection that cannot be made leaves none behind.
    let projected = match projection {
        Some(method) => Some(project_codes(&codes, dim, method, seed)?),
        None => None,
    };

    let out_dir = &a.out;
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create the folder {}", out_dir.display()))?;
    write(out_dir, VECTORS, &vectors_tsv(&codes, dim))?;
    write(out_dir, METADATA, &metadata_tsv(&ds, n))?;
    let sprite = match ds.shape.image_dims() {
        Some(_) => {
            write_sprite(&out_dir.join(SPRITE), &ds.test, ds.shape, n)?;
            true
        }
        None => false,
    };
    let config = projector_config(&meta.name, ds.shape.image_dims().filter(|_| sprite));
    write(out_dir, CONFIG, &config)?;
    if let Some(text) = &projected {
        write(out_dir, PROJECTION, text)?;
    }

    let path = |name: &str| out_dir.join(name).display().to_string();
    if n < ds.test.len() {
        out!(
            "note        the first {n} of {} test items: a sprite sheet holds at most \
             {SPRITE_MAX_SIDE}×{SPRITE_MAX_SIDE} pixels",
            ds.test.len()
        );
    }
    out!("vectors     {} ({n} items × {dim})", path(VECTORS));
    out!("metadata    {}", path(METADATA));
    if sprite {
        out!("sprite      {}", path(SPRITE));
    } else {
        out!("sprite      none: the items are not images");
    }
    out!("config      {}", path(CONFIG));
    if let Some(method) = projection {
        out!("projection  {} ({})", path(PROJECTION), method.title());
    }
    out!(
        "active units: {} of {}",
        scores.active_units,
        scores.latent_dim
    );
    if let Some(mig) = scores.mig {
        out!("MIG: {mig:.4}");
    }
    Ok(())
}

/// The codes (μ), tab-separated, one row per item.
pub const VECTORS: &str = "vectors.tsv";
/// A header, then each item's label and factor values.
pub const METADATA: &str = "metadata.tsv";
/// The items as one sprite sheet.
pub const SPRITE: &str = "sprite.png";
/// The Projector's configuration.
pub const CONFIG: &str = "projector_config.pbtxt";
/// Two columns of 2-D coordinates, one row per item.
pub const PROJECTION: &str = "projection.tsv";

fn describe(shape: ItemShape) -> String {
    match shape {
        ItemShape::Image { .. } => format!("{} ({} values)", shape.describe(), shape.dim()),
        ItemShape::Points { dim } => format!("{dim}-D points"),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// How many items of `shape` one sprite sheet holds: all of them for points (no sheet).
fn sprite_capacity(shape: ItemShape) -> usize {
    match shape.image_dims() {
        Some((_, w, h)) => {
            let per_side = SPRITE_MAX_SIDE / w.max(h).max(1);
            per_side * per_side
        }
        None => usize::MAX,
    }
}

/// The mean codes (μ; the code itself for kinds without a posterior) of the first `n`
/// items of `split`, back to back.
fn encode_items(
    model: &Autoencoder,
    split: &Split,
    dim: usize,
    n: usize,
) -> candle_core::Result<Vec<f32>> {
    let mut codes = Vec::with_capacity(n * model.config.latent_dim);
    for start in (0..n).step_by(CHUNK) {
        let idx: Vec<usize> = (start..(start + CHUNK).min(n)).collect();
        let x = batch_tensor(split.gather(&idx, dim), dim)?;
        // A conditional model (cvae) sees each item's class too.
        let labels: Vec<u32> = idx.iter().map(|&i| split.labels[i]).collect();
        let x = model.input_of(&x, &labels)?;
        codes.extend(model.encode(&x)?.0.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(codes)
}

/// Rows of `dim` values, tab-separated, each number in the shortest form that reads back
/// to the same f32.
fn vectors_tsv(codes: &[f32], dim: usize) -> String {
    let mut s = String::with_capacity(codes.len() * 12);
    for row in codes.chunks_exact(dim.max(1)) {
        let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        s.push_str(&cells.join("\t"));
        s.push('\n');
    }
    s
}

/// The header (`label`, then the factor names), then each item's class name and factor
/// values. The Projector reads a one-column file as labels without a header, so a set
/// without factors gets a second column, `class` (the class number), and keeps its header.
fn metadata_tsv(ds: &Dataset, n: usize) -> String {
    let k = ds.factor_names.len();
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let mut header = vec!["label".to_string()];
    if k == 0 {
        header.push("class".into());
    } else {
        header.extend(ds.factor_names.iter().map(|f| clean(f)));
    }
    let mut s = header.join("\t");
    s.push('\n');
    for i in 0..n {
        let label = ds.test.labels[i];
        let name = ds
            .class_names
            .get(label as usize)
            .map_or_else(|| label.to_string(), |c| clean(c));
        let mut cells = vec![name];
        if k == 0 {
            cells.push(label.to_string());
        } else {
            cells.extend(ds.test.factors_of(i, k).iter().map(|v| v.to_string()));
        }
        s.push_str(&cells.join("\t"));
        s.push('\n');
    }
    s
}

/// The first `n` items as one sheet: ⌈√n⌉ images per row and as many rows, each image at
/// its own size, row by row from the top left (the Projector's layout); the rest black.
fn write_sprite(path: &Path, split: &Split, shape: ItemShape, n: usize) -> Result<()> {
    let (channels, w, h) = shape
        .image_dims()
        .ok_or_else(|| anyhow!("the items are not images"))?;
    let per_side = (n as f64).sqrt().ceil() as usize;
    let per_side = if per_side * per_side < n {
        per_side + 1
    } else {
        per_side.max(1)
    };
    let (sheet_w, sheet_h) = ((per_side * w) as u32, (per_side * h) as u32);
    let mut sheet = image::RgbImage::new(sheet_w, sheet_h);
    let plane = w * h;
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    for i in 0..n {
        let item = split.item(i, shape.dim());
        let (x0, y0) = ((i % per_side) * w, (i / per_side) * h);
        for p in 0..plane {
            let rgb = [0, 1, 2].map(|c| byte(item[c.min(channels - 1) * plane + p]));
            sheet.put_pixel((x0 + p % w) as u32, (y0 + p / w) as u32, image::Rgb(rgb));
        }
    }
    sheet
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `projector_config.pbtxt`: the tensor and metadata files, and the sprite with the size
/// of one image (width, then height) when there is one.
fn projector_config(tensor_name: &str, image: Option<(usize, usize, usize)>) -> String {
    let name = tensor_name.replace('\\', "\\\\").replace('"', "\\\"");
    let mut s = String::new();
    let _ = writeln!(s, "embeddings {{");
    let _ = writeln!(s, "  tensor_name: \"{name}\"");
    let _ = writeln!(s, "  tensor_path: \"{VECTORS}\"");
    let _ = writeln!(s, "  metadata_path: \"{METADATA}\"");
    if let Some((_, w, h)) = image {
        let _ = writeln!(s, "  sprite {{");
        let _ = writeln!(s, "    image_path: \"{SPRITE}\"");
        let _ = writeln!(s, "    single_image_dim: {w}");
        let _ = writeln!(s, "    single_image_dim: {h}");
        let _ = writeln!(s, "  }}");
    }
    s.push_str("}\n");
    s
}

/// `projection.tsv` of the codes by `method`: PCA at once, t-SNE and UMAP with their
/// progress on stderr (they take seconds for thousands of codes).
fn project_codes(codes: &[f32], dim: usize, method: Projection, seed: u64) -> Result<String> {
    if method == Projection::Pca {
        // Any number of codes: PCA is not bound by the neighbour methods' limit.
        return Ok(pca_tsv(codes, dim));
    }
    let progress = AtomicU32::new(0);
    let cancel = AtomicBool::new(false);
    let title = method.title();
    let points = std::thread::scope(|scope| {
        let job = scope.spawn(|| projection::project(codes, dim, method, seed, &progress, &cancel));
        report_progress(title, &progress, || job.is_finished());
        job.join()
            .unwrap_or_else(|_| Err(projection::ProjectionError::Failed("it stopped".into())))
    })
    .map_err(|e| anyhow!("--projection {}: {e}", method.name()))?;
    let mut s = String::with_capacity(points.len() * 24);
    for [x, y] in points {
        let _ = writeln!(s, "{x}\t{y}");
    }
    Ok(s)
}

/// "t-SNE 40 %" on stderr until `done`: one line rewritten on a terminal, a line per
/// 20 % otherwise (a log stays short).
fn report_progress(title: &str, progress: &AtomicU32, done: impl Fn() -> bool) {
    let terminal = std::io::stderr().is_terminal();
    let mut last = None;
    loop {
        let finished = done();
        let percent = progress.load(Ordering::Relaxed).min(1000) / 10;
        let step = if terminal { percent } else { percent / 20 * 20 };
        if last != Some(step) {
            last = Some(step);
            let mut err = std::io::stderr().lock();
            let _ = if terminal {
                write!(err, "\r{title} {step:3} %")
            } else {
                writeln!(err, "{title} {step} %")
            };
            let _ = err.flush();
        }
        if finished {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if terminal {
        eprintln!();
    }
}

/// Each code's coordinates on the first two principal components, tab-separated.
fn pca_tsv(codes: &[f32], dim: usize) -> String {
    let pca = Pca2::fit(codes, dim);
    let mut s = String::new();
    for row in codes.chunks_exact(dim.max(1)) {
        let [x, y] = pca.project(row);
        let _ = writeln!(s, "{x}\t{y}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_of_64_pixel_sprites_holds_128_per_side() {
        assert_eq!(sprite_capacity(ItemShape::image(1, 64, 64)), 128 * 128);
        assert_eq!(sprite_capacity(ItemShape::image(1, 28, 28)), 292 * 292);
        assert_eq!(sprite_capacity(ItemShape::Points { dim: 2 }), usize::MAX);
    }

    #[test]
    fn the_three_projections_are_accepted_and_others_refused() {
        assert_eq!(parse_projection("pca").unwrap(), Projection::Pca);
        assert_eq!(parse_projection("tsne").unwrap(), Projection::Tsne);
        assert_eq!(parse_projection("umap").unwrap(), Projection::Umap);
        let other = parse_projection("isomap").unwrap_err().to_string();
        assert!(
            other.contains("unknown") && other.contains("umap"),
            "{other}"
        );
    }

    #[test]
    fn the_config_names_the_files_and_the_image_size() {
        let c = projector_config("vae", Some((1, 64, 32)));
        assert!(c.contains("tensor_path: \"vectors.tsv\""), "{c}");
        assert!(
            c.contains("single_image_dim: 64\n    single_image_dim: 32"),
            "{c}"
        );
        assert!(!projector_config("ae", None).contains("sprite"));
    }
}
