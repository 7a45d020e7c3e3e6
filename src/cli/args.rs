//! The command-line arguments (clap). Scripts rely on these names.

use crate::model::KnobValue;
use crate::model::kinds::{KnobRange, all_knobs, kinds_with};
use crate::train::RunSpec;
use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// LatentLab: train autoencoders side by side and explore their latent spaces.
/// With no subcommand it opens the window.
#[derive(Parser, Debug)]
#[command(
    name = "latentlab",
    version,
    about = "Train autoencoders side by side and explore their latent spaces. With \
        no subcommand, opens the window."
)]
pub struct Cli {
    /// Training threads: the models step in parallel, one model per thread, up to this many
    /// (the numbers are the same for any count). Default: 1 on the command line; the window
    /// uses the number of cores minus one, leaving a core for drawing.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Open the window in presentation mode (large text and plots, one pair of models;
    /// F5 toggles it).
    #[arg(long)]
    pub presentation: bool,
    /// Open the window on a guided lesson: a built-in name (see `latentlab lessons`) or a
    /// lesson file. A malformed lesson stops here with its line and what is wrong.
    #[arg(long, value_name = "NAME|FILE")]
    pub lesson: Option<String>,
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
    /// Download MNIST, Fashion-MNIST or KMNIST into the cache, checking each file's MD5.
    Fetch(super::fetch::FetchArgs),
    /// Encode one image with a checkpoint and print its code and loss terms as one JSON
    /// object (the reconstruction decodes z = μ).
    Encode(EncodeArgs),
    /// List the built-in lessons, one per line: NAME<TAB>TITLE (open one with
    /// `latentlab --lesson NAME`).
    Lessons,
}

/// `latentlab train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// digits, shapes, moons, rings, blobs, mnist, fashion-mnist, kmnist (after `latentlab
    /// fetch`), idx:DIR, folder:DIR or csv:FILE.
    #[arg(long, default_value = "digits")]
    pub dataset: String,
    /// Comma-separated: ae, vae, beta-vae, dae, sae, cae.
    #[arg(long, default_value_t = join(&RunSpec::default().models))]
    pub models: String,
    /// Size of the code z (1 to 64).
    #[arg(long, default_value_t = RunSpec::default().latent_dim)]
    pub latent_dim: usize,
    /// Hidden layer sizes, comma-separated; the decoder mirrors them.
    #[arg(long, default_value_t = join(&RunSpec::default().hidden))]
    pub hidden: String,
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Items per batch.
    #[arg(long, default_value_t = RunSpec::default().batch_size)]
    pub batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = RunSpec::default().lr)]
    pub lr: f64,
    /// Seed for data, initialisation, batches and noise.
    #[arg(long, default_value_t = RunSpec::default().seed)]
    pub seed: u64,
    /// Folder for metrics.jsonl, checkpoints and figures.
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// Knobs of the model kinds (one flag per knob in the kind table).
    #[command(flatten)]
    pub knobs: KnobArgs,
    /// Epochs over which the KL weight warms up from 0.
    #[arg(long, default_value_t = 0.0)]
    pub kl_warmup: f32,
    /// Importance samples for the test log p(x) of VAEs at every epoch (0: skip).
    #[arg(long, default_value_t = 0)]
    pub iw_samples: usize,
    /// Also evaluate on the test set every this many seconds of training (rows in
    /// metrics.jsonl with step, elapsed_secs and knn5_accuracy; evaluation time excluded).
    #[arg(long, value_name = "SECS")]
    pub eval_every_secs: Option<f64>,
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

/// `latentlab encode`.
#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// The checkpoint's .json (or .safetensors, or the common stem) of a model of 28×28
    /// images.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// An image of any size or colour (PNG, JPEG, BMP, GIF): resized to 28×28 and made
    /// gray the way `folder:DIR` data sets are.
    #[arg(long)]
    pub image: PathBuf,
    /// Write the reconstruction here as a PNG (28×28 scaled up 4 times).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `latentlab dataset`.
#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// digits, shapes, moons, rings, blobs, mnist, fashion-mnist, kmnist (after `latentlab
    /// fetch`), idx:DIR, folder:DIR or csv:FILE.
    pub name: String,
    /// Write a PNG sheet of samples per class here.
    #[arg(long)]
    pub sheet: Option<PathBuf>,
    /// Write the set as the four MNIST-layout IDX files into this folder (image sets only),
    /// for other tools to train on exactly these items.
    #[arg(long, value_name = "DIR")]
    pub export_idx: Option<PathBuf>,
    /// Items per class on the sheet.
    #[arg(long, default_value_t = 16)]
    pub per_class: usize,
    /// Seed for generated sets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Items joined by commas, as the command line writes lists.
fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The knob flags of every model kind, made from the kind table: `--beta`, `--noise`, ...
/// Only the flags given are kept; the others stay at the knob's default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KnobArgs {
    /// Knob values by key, as given on the command line.
    pub values: BTreeMap<String, KnobValue>,
}

impl FromArgMatches for KnobArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut out = Self::default();
        out.update_from_arg_matches(matches)?;
        Ok(out)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for knob in all_knobs() {
            let value = match knob.range {
                KnobRange::Number { .. } => matches
                    .get_one::<f32>(knob.key)
                    .map(|v| KnobValue::Number(*v)),
                KnobRange::Choice { .. } => matches
                    .get_one::<String>(knob.key)
                    .map(|v| KnobValue::Choice(v.clone())),
            };
            if let Some(v) = value {
                self.values.insert(knob.key.to_string(), v);
            }
        }
        Ok(())
    }
}

impl Args for KnobArgs {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for knob in all_knobs() {
            let with = kinds_with(knob.key);
            let kinds = if with.len() == crate::model::kinds::KINDS.len() {
                "every kind".to_string()
            } else {
                join(&with)
            };
            let arg = Arg::new(knob.key).long(knob.flag).required(false);
            let arg = match knob.range {
                KnobRange::Number {
                    min, max, default, ..
                } => arg
                    .value_parser(clap::value_parser!(f32))
                    .value_name("X")
                    .help(format!(
                        "{} [{kinds}; {min} to {max}; default {default}]",
                        capitalise(knob.help)
                    )),
                KnobRange::Choice { options, default } => arg
                    .value_parser(clap::builder::PossibleValuesParser::new(options))
                    .value_name("KIND")
                    .help(format!(
                        "{} [{kinds}; default {default}]",
                        capitalise(knob.help)
                    )),
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// "weight of ..." -> "Weight of ...".
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
