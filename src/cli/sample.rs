//! `latentlab sample`: N draws z ~ N(0, I) decoded by a checkpoint's decoder, as a PNG
//! sheet (the samples figure's code) or as u8 images in the MNIST IDX layout.

use crate::data::{ItemShape, write_idx};
use crate::explore::colors::model_rgb;
use crate::model::checkpoint;
use crate::model::inspect::draw_eps;
use crate::report::sample_sheets;
use crate::rng::PortableRng;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use rand::SeedableRng;
use std::path::PathBuf;

/// Most draws one call decodes (a 100×100 sheet; 10 000 MNIST-sized items are 7.8 MB as IDX).
pub const MAX_SAMPLES: usize = 10_000;
/// Draws decoded per batched pass (a conv decoder holds ~1 MB per item and layer).
const DECODE_CHUNK: usize = 256;

/// How `sample` writes its draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SampleFormat {
    /// A PNG sheet of the decoded images, √N per row.
    Png,
    /// u8 images in the MNIST IDX layout (magic 0x00000803, big-endian N, height, width).
    Idx,
}

/// `latentlab sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// The checkpoint's .json (or .safetensors, or the common stem).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// How many draws (1 to 10000).
    #[arg(long)]
    pub n: usize,
    /// Seed of the draws: the same seed and checkpoint give the same images.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write: the PNG sheet, or the IDX file at exactly this path.
    #[arg(long)]
    pub out: PathBuf,
    /// `png` (a sheet) or `idx` (u8 images in the MNIST layout; grey models only).
    #[arg(long, value_enum, default_value = "png")]
    pub format: SampleFormat,
    /// The class to draw from (0 to classes − 1): a cvae needs it; every other kind refuses it.
    #[arg(long)]
    pub class: Option<u32>,
}

/// Runs `latentlab sample`.
pub(super) fn run(a: SampleArgs) -> Result<()> {
    if a.n == 0 || a.n > MAX_SAMPLES {
        bail!("--n {} is out of range: 1 to {MAX_SAMPLES} draws", a.n);
    }
    let png_named = a
        .out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if a.format == SampleFormat::Png && !png_named {
        bail!(
            "{}: a PNG sheet's --out must end in .png (or give --format idx)",
            a.out.display()
        );
    }
    let (model, meta) = checkpoint::load(&a.checkpoint)?;
    let ItemShape::Image {
        channels,
        width,
        height,
    } = meta.item_shape
    else {
        bail!(
            "{}: the model's items are points, not images; sample writes images",
            a.checkpoint.display()
        );
    };
    if a.format == SampleFormat::Idx && channels != 1 {
        bail!(
            "{}: the model's items are colour ({channels}×{height}×{width}); the IDX layout \
             holds grey images only (use --format png)",
            a.checkpoint.display()
        );
    }
    // A cvae decodes as the class asked for; other kinds take no class.
    let classes = meta.config.classes;
    let class = match (a.class, classes) {
        (Some(_), 0) => bail!(
            "only a cvae takes --class ({} has no classes)",
            meta.config.kind.name()
        ),
        (Some(c), n) if c as usize >= n => {
            bail!(
                "--class {c} is out of range: the cvae has classes 0 to {}",
                n - 1
            )
        }
        (None, n) if n > 0 => bail!(
            "a cvae draws from one class: add --class C (0 to {})",
            n - 1
        ),
        (c, _) => c.unwrap_or(0),
    };
    let decoder = model.decoder_snapshot()?;
    let latent_dim = meta.config.latent_dim;
    let mut rng = PortableRng::seed_from_u64(a.seed);
    // A vq-vae has no prior to draw from: it decodes entries of its codebook, drawn uniformly.
    let codebook = decoder.codebook.clone();
    let z: Vec<f32> = match &codebook {
        Some(c) => crate::model::vq::draw_entries(c, a.n, &mut rng),
        None => (0..a.n)
            .flat_map(|_| draw_eps(&mut rng, latent_dim))
            .collect(),
    };
    let drawn_from = match &codebook {
        Some(c) => format!("uniformly drawn entries of its {}-entry codebook", c.len()),
        None => "from N(0, I)".to_string(),
    };
    let mut items = Vec::with_capacity(a.n * channels * width * height);
    for codes in z.chunks(DECODE_CHUNK * latent_dim) {
        items.extend(decoder.decode_as(codes, class)?);
    }
    // A Gaussian decoder's means may leave [0, 1]; pixels may not.
    items.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    match a.format {
        SampleFormat::Png => {
            let side = (a.n as f64).sqrt().ceil() as usize;
            let of_class = match a.class {
                Some(c) => format!(
                    " of class {}",
                    meta.class_names
                        .get(c as usize)
                        .map_or(c.to_string(), Clone::clone)
                ),
                None => String::new(),
            };
            let title = format!(
                "{} — {} samples{of_class} {drawn_from}",
                meta.config.kind.title(),
                a.n
            );
            let sheet = [(title, model_rgb(meta.config.kind), items)];
            sample_sheets(&a.out, &sheet, (channels, width, height), side)?;
        }
        SampleFormat::Idx => {
            let bytes: Vec<u8> = items.iter().map(|&v| (v * 255.0).round() as u8).collect();
            let dims = [a.n as u32, height as u32, width as u32];
            write_idx(&a.out, &dims, &bytes, false)
                .with_context(|| format!("cannot write {}", a.out.display()))?;
        }
    }
    if codebook.is_some() {
        super::output::out!(
            "wrote {} samples to {}: {drawn_from} (a vq-vae has no prior to sample from)",
            a.n,
            a.out.display()
        );
    } else {
        super::output::out!("wrote {} samples to {}", a.n, a.out.display());
    }
    Ok(())
}
