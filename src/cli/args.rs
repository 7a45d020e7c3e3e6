//! The command-line arguments (clap). Scripts rely on these names.

use crate::model;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// LatentLab: train autoencoders side by side and explore their latent spaces.
/// With no subcommand it opens the window.
#[derive(Parser, Debug)]
#[command(
    name = "latentlab",
    version,
    about = "Train autoencoders side by side and explore their latent spaces. With no subcommand, opens the window."
)]
pub struct Cli {
    /// Threads for training (matrix products). 1 leaves a core free for the window.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// What to do; without one, the window opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train models side by side and write metrics, checkpoints and figures.
    Train(TrainArgs),
    /// Print the test metrics of a checkpoint.
    Eval(EvalArgs),
    /// Make or load a data set and describe it; optionally write a sheet of samples.
    Dataset(DatasetArgs),
}

/// How a denoising model corrupts its input.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum NoiseArg {
    /// Add Gaussian noise of sigma --noise.
    Gaussian,
    /// Zero each value with probability --noise.
    Masking,
}

/// `latentlab train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// digits, shapes, moons, rings, blobs, idx:DIR, folder:DIR or csv:FILE.
    #[arg(long, default_value = "digits")]
    pub dataset: String,
    /// Comma-separated: ae, vae, beta-vae, dae, sae, cae.
    #[arg(long, default_value = "ae,vae")]
    pub models: String,
    /// Size of the code z (1 to 64).
    #[arg(long, default_value_t = 2)]
    pub latent_dim: usize,
    /// Hidden layer sizes, comma-separated; the decoder mirrors them.
    #[arg(long, default_value = "512,256")]
    pub hidden: String,
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Items per batch.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Seed for data, initialisation, batches and noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Folder for metrics.jsonl, checkpoints and figures.
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// KL weight of the beta-vae.
    #[arg(long, default_value_t = model::DEFAULT_BETA)]
    pub beta: f32,
    /// Noise level of the dae (sigma, or drop probability with --noise-kind masking).
    #[arg(long, default_value_t = 0.3)]
    pub noise: f32,
    /// Noise kind of the dae.
    #[arg(long, value_enum, default_value_t = NoiseArg::Gaussian)]
    pub noise_kind: NoiseArg,
    /// L1 weight on the code of the sae.
    #[arg(long, default_value_t = 0.5)]
    pub sparsity: f32,
    /// Weight of the Jacobian penalty of the cae.
    #[arg(long, default_value_t = 0.1)]
    pub contraction: f32,
    /// L2 weight decay of the ae.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// Epochs over which the KL weight warms up from 0.
    #[arg(long, default_value_t = 0.0)]
    pub kl_warmup: f32,
    /// Importance samples for the test log p(x) of VAEs at every epoch (0: skip).
    #[arg(long, default_value_t = 0)]
    pub iw_samples: usize,
    /// Side of the decoded latent grid figure.
    #[arg(long, default_value_t = 20)]
    pub grid: usize,
}

/// `latentlab eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The checkpoint's .json (or .safetensors, or the common stem).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Data set to evaluate on; defaults to the one it was trained on.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Importance samples per item for log p(x) (VAEs).
    #[arg(long, default_value_t = 100)]
    pub iw_samples: usize,
    /// Seed for the data set and the samples.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `latentlab dataset`.
#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// digits, shapes, moons, rings, blobs, idx:DIR, folder:DIR or csv:FILE.
    pub name: String,
    /// Write a PNG sheet of samples per class here.
    #[arg(long)]
    pub sheet: Option<PathBuf>,
    /// Items per class on the sheet.
    #[arg(long, default_value_t = 16)]
    pub per_class: usize,
    /// Seed for generated sets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
