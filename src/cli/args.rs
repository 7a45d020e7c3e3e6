//! The command-line arguments (clap). Scripts rely on these names.

use crate::model::kinds::{KnobRange, all_knobs, kinds_with};
use crate::model::limits::{IW_SAMPLES, LATENT_DIM, Limit, OutOfRange};
use crate::model::{Arch, KnobValue};
use crate::train::RunSpec;
use crate::train::spec::{BATCH_SIZE, EPOCHS, EVAL_EVERY_SECS, KL_WARMUP, LR};
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
    /// Training threads (1 to 256): the models step in parallel, one model per thread, up to
    /// this many (the numbers are the same for any count). Default: 1 on the command line;
    /// the window uses the number of cores minus one, leaving a core for drawing.
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Open the window in presentation mode (large text and plots, one pair of models;
    /// F5 toggles it).
    #[arg(long)]
    pub presentation: bool,
    /// Open the window on a guided lesson: a built-in name (see `latentlab lessons`) or a
    /// lesson file, or a class bundle (`.latentlab`, made by `latentlab pack`). A malformed
    /// lesson or a damaged bundle stops here with what is wrong.
    #[arg(long, value_name = "NAME|FILE")]
    pub lesson: Option<String>,
    /// Open the window on a saved run (a folder written by Save… or `latentlab train
    /// --out`): its models, data set, settings and loss history; Train continues from
    /// there. A run that cannot be opened stops here with the reason.
    #[arg(long, value_name = "DIR")]
    pub open: Option<PathBuf>,
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
    /// Download MNIST, Fashion-MNIST, KMNIST or dSprites into the cache, checking each
    /// file's MD5.
    Fetch(super::fetch::FetchArgs),
    /// Encode one image with a checkpoint and print its code and loss terms as one JSON
    /// object (the reconstruction decodes z = μ; a vq-vae's, the codebook entry nearest μ,
    /// printed as `code`).
    Encode(EncodeArgs),
    /// Write the test items' codes for the TensorFlow Embedding Projector (vectors.tsv,
    /// metadata.tsv, sprite.png, projector_config.pbtxt) and print their active units and,
    /// on data sets with factors, MIG.
    Codes(CodesArgs),
    /// List the built-in lessons, one per line: NAME<TAB>TITLE (open one with
    /// `latentlab --lesson NAME`); or check a lesson fits the screen (--check), or write one
    /// PNG per step as the class will see it (--render).
    Lessons(super::lessons::LessonsArgs),
    /// Pack a lesson file and the saved runs its steps open into one class bundle
    /// (`.latentlab`), which `latentlab --lesson FILE` and "Open lesson file…" open.
    Pack(super::pack::PackArgs),
    /// Decode N draws z ~ N(0, I) with a checkpoint's decoder (pixel probabilities) and
    /// write them as a PNG sheet or as u8 images in the MNIST IDX layout.
    Sample(super::sample::SampleArgs),
}

/// `latentlab train`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The data set (its forms come from the data-source table).
    #[arg(long, default_value = "digits", help = crate::data::sources::spec_help())]
    pub dataset: String,
    /// How a `folder:` set's images become items.
    #[command(flatten)]
    pub folder: FolderArgs,
    /// The kinds to train, comma-separated (from the kind table).
    #[arg(long, default_value_t = join(&RunSpec::default().models),
          help = format!("Comma-separated: {}", crate::model::ModelKind::names()))]
    pub models: String,
    /// Size of the code z (1 to 64).
    #[arg(long, default_value_t = RunSpec::default().latent_dim)]
    pub latent_dim: usize,
    /// Hidden layer sizes, comma-separated (1 to 16 layers of 1 to 8192); the decoder
    /// mirrors them. All models together hold at most 25 million parameters.
    #[arg(long, default_value_t = join(&RunSpec::default().hidden))]
    pub hidden: String,
    /// The network: mlp (dense layers, --hidden) or conv (4×4 stride-2 convolutions around
    /// dense layers of 256, 256, after Burgess et al. 2018; images with even sides of at
    /// least 8; not for cae or cvae).
    #[arg(long, default_value_t = RunSpec::default().arch.to_string(), value_name = "mlp|conv")]
    pub arch: String,
    /// Passes over the training data (1 to 100000); the default depends on the data set.
    #[arg(long, help = crate::data::sources::epochs_help())]
    pub epochs: Option<usize>,
    /// Items per batch (1 to 65536).
    #[arg(long, default_value_t = RunSpec::default().batch_size)]
    pub batch_size: usize,
    /// Adam learning rate (above 0, at most 10); the default depends on --arch.
    #[arg(long, help = lr_help())]
    pub lr: Option<f64>,
    /// Seed for data, initialisation, batches and noise.
    #[arg(long, default_value_t = RunSpec::default().seed)]
    pub seed: u64,
    /// Folder of the saved run: run.json, checkpoints, metrics.jsonl, losses.csv and
    /// figures. It must not hold a run (or other files) unless --overwrite is given.
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// Replace a run (or whatever else) already in --out, once this run is saved.
    #[arg(long)]
    pub overwrite: bool,
    /// Knobs of the model kinds (one flag per knob in the kind table).
    #[command(flatten)]
    pub knobs: KnobArgs,
    /// Epochs over which the KL weight warms up from 0 (0 to 1000).
    #[arg(long, default_value_t = 0.0)]
    pub kl_warmup: f32,
    /// Importance samples for the test log p(x) of VAEs at every epoch (0 to 10000; 0: skip).
    #[arg(long, default_value_t = 0)]
    pub iw_samples: usize,
    /// Also evaluate on the test set every this many seconds of training (0.1 to 86400; rows
    /// in metrics.jsonl with step, elapsed_secs and knn5_accuracy; evaluation time excluded).
    #[arg(long, value_name = "SECS")]
    pub eval_every_secs: Option<f64>,
    /// Side of the decoded latent grid figure (1 to 100).
    #[arg(long, default_value_t = 20)]
    pub grid: usize,
}

/// `--colour` and `--image-size N`, for `folder:` data sets.
#[derive(Args, Debug, Default)]
pub struct FolderArgs {
    /// Keep the colour of a `folder:` set's images (three channels; grey otherwise).
    #[arg(long)]
    pub colour: bool,
    /// Side of a `folder:` set's items in pixels (8 to 128; default 28), each image
    /// resized to it.
    #[arg(long, value_name = "N")]
    pub image_size: Option<usize>,
}

impl FolderArgs {
    /// `spec` with these options written into it (`folder:DIR#colour,size=32`); an error
    /// if they are given for a set that is not a folder.
    pub fn apply(&self, spec: &str) -> Result<String, String> {
        if !self.colour && self.image_size.is_none() {
            return Ok(spec.to_string());
        }
        let Some(dir) = spec.strip_prefix("folder:") else {
            return Err(format!(
                "--colour and --image-size apply to folder:DIR data sets only, not '{spec}'"
            ));
        };
        let mut opts = crate::data::FolderOptions {
            colour: self.colour,
            ..Default::default()
        };
        if let Some(n) = self.image_size {
            if !crate::data::folder::SIZES.contains(&n) {
                return Err(format!(
                    "--image-size {n} is out of range: {} to {} pixels",
                    crate::data::folder::SIZES.start(),
                    crate::data::folder::SIZES.end()
                ));
            }
            opts.size = n;
        }
        Ok(format!("folder:{dir}{}", opts.suffix()))
    }
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
    /// Importance samples per item for log p(x) (VAEs; 0 to 10000).
    #[arg(long, default_value_t = 100)]
    pub iw_samples: usize,
    /// Seed for the data set and the samples.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `latentlab encode`.
#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// The checkpoint's .json (or .safetensors, or the common stem) of a model of images.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// An image of any size or colour (PNG, JPEG, BMP, GIF): resized to the model's item
    /// size and made grey or kept in colour as its items are, the way `folder:DIR` data
    /// sets are.
    #[arg(long)]
    pub image: PathBuf,
    /// Write the reconstruction here as a PNG (the item's size scaled up 4 times).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The image's class, 0 to classes − 1: what a conditional model (cvae) sees beside the
    /// image and decodes its code as; required for a cvae, refused for other kinds.
    #[arg(long)]
    pub class: Option<u32>,
}

/// `latentlab codes`.
#[derive(Args, Debug)]
pub struct CodesArgs {
    /// The checkpoint's .json (or .safetensors, or the common stem).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Data set whose test items are encoded; defaults to the one it was trained on.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Folder for the files (made if missing; files of the same names are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also write projection.tsv, the codes' 2-D coordinates, one row per row of
    /// vectors.tsv: pca (the first two principal components), tsne (t-SNE, perplexity 30)
    /// or umap (UMAP, 15 neighbours); t-SNE and UMAP take seconds (progress on stderr),
    /// at most 20000 codes, and are the same for the same --seed.
    #[arg(long, value_name = "pca|tsne|umap")]
    pub projection: Option<String>,
    /// Seed for the data set; defaults to the checkpoint's.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `latentlab dataset`.
#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// The data set (its forms come from the data-source table).
    #[arg(help = crate::data::sources::spec_help())]
    pub name: String,
    /// How a `folder:` set's images become items.
    #[command(flatten)]
    pub folder: FolderArgs,
    /// Write a PNG sheet of samples per class here.
    #[arg(long)]
    pub sheet: Option<PathBuf>,
    /// Write the set as the four MNIST-layout IDX files into this folder (image sets only),
    /// for other tools to train on exactly these items.
    #[arg(long, value_name = "DIR")]
    pub export_idx: Option<PathBuf>,
    /// Items per class on the sheet (1 to 200).
    #[arg(long, default_value_t = 16)]
    pub per_class: usize,
    /// Seed for generated sets.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Side of the latent grid figure (`--grid`), in `model::limits` so saved runs read it too.
pub use crate::model::limits::GRID;
/// Items per class on a data sheet (`--per-class`).
pub const PER_CLASS: Limit<usize> = Limit::new("items per class", 1, 200);

/// `--lr`'s help: its range and each architecture's default.
fn lr_help() -> String {
    let defaults: Vec<String> = Arch::ALL
        .iter()
        .map(|a| format!("{} with {a}", a.default_lr()))
        .collect();
    format!(
        "Adam learning rate (above 0, at most 10) [default: {}]",
        defaults.join(", ")
    )
}

impl TrainArgs {
    /// The epochs to train: `--epochs`, or the data set's default.
    pub fn epochs(&self) -> usize {
        self.epochs
            .unwrap_or_else(|| crate::data::default_epochs(&self.dataset))
    }

    /// The learning rate: `--lr`, or the default of `--arch` (an unknown name is refused
    /// where the run is built, so it takes the MLP's here).
    pub fn lr(&self) -> f64 {
        self.lr
            .unwrap_or_else(|| Arch::from_name(&self.arch).unwrap_or_default().default_lr())
    }

    /// Checks every number against its range before anything is built or loaded; the
    /// message leads with the flag ("--epochs: epochs 0 is out of range (1 to 100000)").
    /// The same limits judge the window's settings (`TrainConfig::validate`).
    pub fn check_ranges(&self) -> Result<(), String> {
        let numbers = || -> Result<(), OutOfRange> {
            LATENT_DIM.check_flag("latent-dim", self.latent_dim)?;
            EPOCHS.check_flag("epochs", self.epochs())?;
            BATCH_SIZE.check_flag("batch-size", self.batch_size)?;
            LR.check_flag("lr", self.lr())?;
            KL_WARMUP.check_flag("kl-warmup", self.kl_warmup)?;
            IW_SAMPLES.check_flag("iw-samples", self.iw_samples)?;
            if let Some(secs) = self.eval_every_secs {
                EVAL_EVERY_SECS.check_flag("eval-every-secs", secs)?;
            }
            GRID.check_flag("grid", self.grid)?;
            Ok(())
        };
        numbers().map_err(|e| e.to_string())?;
        self.knobs.check_ranges()
    }
}

impl EvalArgs {
    /// Checks the numbers; the message leads with the flag.
    pub fn check_ranges(&self) -> Result<(), String> {
        IW_SAMPLES
            .check_flag("iw-samples", self.iw_samples)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl DatasetArgs {
    /// Checks the numbers; the message leads with the flag.
    pub fn check_ranges(&self) -> Result<(), String> {
        PER_CLASS
            .check_flag("per-class", self.per_class)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
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
            let kinds = if with.len() == crate::model::ModelKind::all().count() {
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

impl KnobArgs {
    /// Checks each knob given against its range; the message leads with its flag.
    pub fn check_ranges(&self) -> Result<(), String> {
        for knob in all_knobs() {
            if let Some(value) = self.values.get(knob.key) {
                knob.check(value)
                    .map_err(|e| format!("--{}: {e}", knob.flag))?;
            }
        }
        Ok(())
    }
}

/// "weight of ..." -> "Weight of ...".
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::limits::HIDDEN_SIZE;
    use crate::train::spec::THREADS;
    use clap::CommandFactory;

    /// The help paragraph of `--flag` in `latentlab <sub> --help`.
    fn help_of(sub: &str, flag: &str) -> String {
        let mut cmd = Cli::command();
        cmd.build();
        let sub = cmd.find_subcommand_mut(sub).unwrap();
        let help = sub.render_long_help().to_string();
        let mut lines = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(&format!("--{flag} ")));
        let mut text = lines
            .next()
            .unwrap_or_else(|| panic!("no --{flag} in {help}"))
            .to_string();
        for l in lines.take_while(|l| !l.trim_start().starts_with('-')) {
            text.push(' ');
            text.push_str(l.trim());
        }
        text
    }

    #[test]
    fn help_texts_give_the_ranges_the_checks_use() {
        let range = |l: &str| l.trim_start_matches('(').trim_end_matches(')').to_string();
        let cases = [
            ("train", "latent-dim", range(&LATENT_DIM.range_text())),
            ("train", "epochs", range(&EPOCHS.range_text())),
            ("train", "batch-size", range(&BATCH_SIZE.range_text())),
            ("train", "lr", range(&LR.range_text())),
            ("train", "kl-warmup", range(&KL_WARMUP.range_text())),
            ("train", "iw-samples", range(&IW_SAMPLES.range_text())),
            (
                "train",
                "eval-every-secs",
                range(&EVAL_EVERY_SECS.range_text()),
            ),
            ("train", "grid", range(&GRID.range_text())),
            ("train", "hidden", format!("1 to {}", HIDDEN_SIZE.max)),
            ("train", "threads", range(&THREADS.range_text())),
            ("eval", "iw-samples", range(&IW_SAMPLES.range_text())),
            ("dataset", "per-class", range(&PER_CLASS.range_text())),
        ];
        for (sub, flag, range) in cases {
            let help = help_of(sub, flag);
            assert!(
                help.contains(&range),
                "{sub} --{flag}: '{range}' not in: {help}"
            );
        }
    }

    /// Epochs and learning rate left out follow the data set and the network; given, they
    /// are kept; `--help` says the defaults the run takes.
    #[test]
    fn left_out_epochs_and_lr_follow_the_data_set_and_the_network() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["latentlab", "train"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).unwrap().command {
                Some(Command::Train(t)) => (t.epochs(), t.lr()),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(parse(&[]), (10, 0.003));
        assert_eq!(parse(&["--dataset", "sprites"]), (30, 0.003));
        assert_eq!(parse(&["--dataset", "colour-sprites"]), (60, 0.003));
        assert_eq!(
            parse(&["--dataset", "sprites", "--arch", "conv"]),
            (30, 0.001)
        );
        assert_eq!(
            parse(&["--dataset", "idx:/d", "--arch", "conv"]),
            (10, 0.001)
        );
        assert_eq!(
            parse(&["--dataset", "sprites", "--epochs", "3", "--lr", "0.01"]),
            (3, 0.01)
        );
        let epochs = help_of("train", "epochs");
        assert!(
            epochs.contains("default: 10; 30 on sprites, 60 on colour-sprites"),
            "{epochs}"
        );
        let lr = help_of("train", "lr");
        assert!(
            lr.contains("default: 0.003 with mlp, 0.001 with conv"),
            "{lr}"
        );
    }

    #[test]
    fn every_numeric_option_is_checked_with_its_flag_named() {
        let train = |extra: &[&str]| {
            let mut args = vec!["latentlab", "train"];
            args.extend_from_slice(extra);
            match Cli::try_parse_from(args).unwrap().command {
                Some(Command::Train(t)) => t.check_ranges(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(train(&[]), Ok(()));
        for (args, expected) in [
            (
                &["--latent-dim", "0"][..],
                "--latent-dim: latent dimension 0 is out of range",
            ),
            (
                &["--epochs", "100001"],
                "--epochs: epochs 100001 is out of range",
            ),
            (
                &["--batch-size", "0"],
                "--batch-size: batch size 0 is out of range",
            ),
            (&["--lr", "NaN"], "--lr: learning rate NaN is out of range"),
            (&["--lr", "inf"], "--lr: learning rate inf is out of range"),
            (
                &["--kl-warmup=-1"],
                "--kl-warmup: KL warm-up epochs -1 is out of range",
            ),
            (
                &["--iw-samples", "10001"],
                "--iw-samples: importance samples 10001",
            ),
            (
                &["--eval-every-secs", "0"],
                "--eval-every-secs: seconds between evaluations 0",
            ),
            (
                &["--grid", "101"],
                "--grid: grid side 101 is out of range (1 to 100)",
            ),
            (
                &["--beta", "1e9"],
                "--beta: β 1000000000 is out of range (0 to 1000)",
            ),
            (&["--noise", "NaN"], "--noise: noise NaN is out of range"),
            (
                &["--free-bits=-0.5"],
                "--free-bits: free bits -0.5 is out of range (0 to 10)",
            ),
            (
                &["--capacity", "NaN"],
                "--capacity: capacity NaN is out of range (0 to 500)",
            ),
            (&["--gamma", "inf"], "--gamma: γ inf is out of range"),
            (
                &["--capacity-steps=-1"],
                "--capacity-steps: C steps -1 is out of range",
            ),
        ] {
            let err = train(args).unwrap_err();
            assert!(err.starts_with(expected), "{args:?}: {err}");
        }
    }
}
