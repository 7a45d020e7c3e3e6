//! Headless subcommands: train, eval, dataset. Scripts rely on these names.

mod args;

pub use args::{Cli, Command, DatasetArgs, EvalArgs, NoiseArg, TrainArgs};

use crate::data::{self, Dataset};
use crate::model::{self, Likelihood, ModelConfig, ModelKind, NoiseKind, checkpoint};
use crate::report as figure;
use crate::train::{
    EpochSummary, ModelEpoch, Snapshot, TrainCommand, TrainConfig, TrainEvent, Trainer,
};
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Runs a subcommand.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Train(a) => train(a),
        Command::Eval(a) => eval(a),
        Command::Dataset(a) => dataset(a),
    }
}

fn parse_hidden(s: &str) -> Result<Vec<usize>> {
    s.split(',')
        .map(|h| {
            h.trim().parse::<usize>().map_err(|_| {
                anyhow!("--hidden: '{h}' is not a whole number (example: --hidden 512,256)")
            })
        })
        .collect()
}

/// The default model config for a data set.
pub fn model_config(kind: ModelKind, ds: &Dataset) -> ModelConfig {
    let likelihood = if ds.shape.is_image() {
        Likelihood::Bernoulli
    } else {
        Likelihood::Gaussian
    };
    ModelConfig::new(kind, ds.dim(), likelihood)
}

fn load_dataset(spec: &str, seed: u64) -> Result<Dataset> {
    data::load(spec, seed).map_err(|e| anyhow!("data set: {e}"))
}

fn train(a: TrainArgs) -> Result<()> {
    let hidden = parse_hidden(&a.hidden)?;
    let kinds = a
        .models
        .split(',')
        .map(|m| {
            ModelKind::from_name(m).ok_or_else(|| {
                anyhow!(
                    "--models: unknown model '{}' (choose from ae, vae, beta-vae, dae, sae, cae)",
                    m.trim()
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let ds = Arc::new(load_dataset(&a.dataset, a.seed)?);
    let models: Vec<ModelConfig> = kinds
        .iter()
        .map(|&k| {
            let mut m = model_config(k, &ds);
            m.latent_dim = a.latent_dim;
            m.hidden = hidden.clone();
            if k == ModelKind::BetaVae {
                m.beta = a.beta;
            }
            m.noise_level = a.noise;
            m.noise_kind = match a.noise_kind {
                NoiseArg::Gaussian => NoiseKind::Gaussian,
                NoiseArg::Masking => NoiseKind::Masking,
            };
            m.sparsity = a.sparsity;
            m.contraction = a.contraction;
            if k == ModelKind::Ae {
                m.weight_decay = a.weight_decay;
            }
            m
        })
        .collect();
    let mut config = TrainConfig::new(models);
    config.lr = a.lr;
    config.batch_size = a.batch_size;
    config.epochs = Some(a.epochs);
    config.seed = a.seed;
    config.kl_warmup_epochs = a.kl_warmup;
    config.iw_samples = a.iw_samples;
    config.snapshot_interval_ms = 60_000; // the command line only needs the last one
    if a.grid == 0 || a.grid > 100 {
        bail!("--grid {} is out of range (1 to 100)", a.grid);
    }
    config.validate().map_err(|e| anyhow!("{e}"))?;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create output folder {}", a.out.display()))?;
    let metrics_path = a.out.join("metrics.jsonl");
    let mut metrics = std::fs::File::create(&metrics_path)
        .with_context(|| format!("cannot write {}", metrics_path.display()))?;

    let trainer =
        Trainer::spawn(config, ds.clone(), None).context("cannot start the training thread")?;
    trainer.send(TrainCommand::Start);
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} steps  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summaries: Vec<EpochSummary> = Vec::new();
    let mut final_step = None;
    let mut snapshot: Option<Arc<Snapshot>> = None;
    let mut saved = None;
    let mut diverged: Vec<(String, u64)> = Vec::new();
    loop {
        let ev = trainer
            .events()
            .recv_timeout(Duration::from_secs(600))
            .map_err(|_| anyhow!("the training thread stopped answering"))?;
        match ev {
            TrainEvent::Ready {
                batches_per_epoch, ..
            } => bar.set_length((batches_per_epoch * a.epochs) as u64),
            TrainEvent::Progress(p) => {
                bar.set_position(p.step);
                let losses: Vec<String> = p
                    .losses
                    .iter()
                    .map(|l| {
                        if l.diverged {
                            format!("{} diverged", l.name)
                        } else {
                            format!("{} {:.1}", l.name, l.loss)
                        }
                    })
                    .collect();
                bar.set_message(format!(
                    "epoch {}/{}  {}  {:.0} samples/s",
                    p.epoch + 1,
                    a.epochs,
                    losses.join("  "),
                    p.samples_per_sec
                ));
            }
            TrainEvent::EpochSummary(s) => {
                for m in &s.models {
                    for (split, metrics_of) in [("train", &m.train), ("test", &m.test)] {
                        writeln!(metrics, "{}", metrics_line(m, split, metrics_of, &s))
                            .with_context(|| format!("cannot write {}", metrics_path.display()))?;
                    }
                }
                metrics.flush().ok();
                say(&bar, epoch_line(&s));
                summaries.push(s);
            }
            TrainEvent::Diverged { model, step, epoch } => {
                diverged.push((model.clone(), step));
                say(
                    &bar,
                    format!(
                        "warning: {model} diverged (NaN or infinite loss) at step {step}, epoch {}; it keeps its last good weights, the others go on",
                        epoch + 1
                    ),
                );
            }
            TrainEvent::Error(e) => {
                bar.abandon();
                bail!("{e}");
            }
            TrainEvent::Finished { step, .. } => {
                final_step = Some(step);
                trainer.send(TrainCommand::Save(a.out.clone()));
                trainer.send(TrainCommand::RequestSnapshot);
            }
            TrainEvent::Saved(r) => {
                saved = Some(r.map_err(|e| anyhow!("saving checkpoints: {e}"))?)
            }
            TrainEvent::Snapshot(s) => snapshot = Some(s),
            TrainEvent::Paused => {
                // The command line never pauses: the worker stopped because every model diverged.
                // Keep what there is: last good weights, metrics so far, figures.
                let step = diverged.iter().map(|d| d.1).max().unwrap_or(0);
                final_step = Some(step);
                trainer.send(TrainCommand::Save(a.out.clone()));
                trainer.send(TrainCommand::RequestSnapshot);
            }
            TrainEvent::Running => {}
        }
        let last_is_final = snapshot
            .as_ref()
            .is_some_and(|s| Some(s.step) == final_step);
        if final_step.is_some() && saved.is_some() && last_is_final {
            break;
        }
    }
    bar.finish_and_clear();
    drop(trainer);
    let snap = snapshot.ok_or_else(|| anyhow!("no snapshot arrived"))?;
    write_figures(&a.out, &snap, &ds, &summaries, a.grid, a.seed)?;
    for p in saved.unwrap_or_default() {
        println!("checkpoint  {}", p.display());
    }
    println!("metrics     {}", metrics_path.display());
    let losses = if summaries.is_empty() { "" } else { ",losses" };
    println!(
        "figures     {}/{{latent,grid,recon,samples{losses}}}.png",
        a.out.display()
    );
    if !diverged.is_empty() {
        let names: Vec<String> = diverged
            .iter()
            .map(|(m, step)| format!("{m} (step {step})"))
            .collect();
        bail!(
            "diverged with a NaN or infinite loss: {}; their checkpoints hold the last good weights (try a smaller --lr)",
            names.join(", ")
        );
    }
    Ok(())
}

/// Prints a line above the progress bar, or plainly when there is no terminal to draw it on.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}

fn metrics_line(
    m: &ModelEpoch,
    split: &str,
    x: &model::Metrics,
    s: &EpochSummary,
) -> serde_json::Value {
    let mut v = serde_json::json!({
        "model": m.name,
        "epoch": s.epoch,
        "split": split,
        "recon": x.recon,
        "kl": x.kl,
        "penalty": x.penalty,
        "loss": x.loss,
        "elbo": x.elbo,
        "samples_per_sec": s.samples_per_sec,
        "diverged": m.diverged,
    });
    if split == "test" {
        v["mean_code_recon"] = serde_json::json!(x.mean_code_recon);
        v["log_px"] = serde_json::json!(x.log_px);
        v["knn5_accuracy"] = serde_json::json!(m.knn_accuracy);
    }
    v
}

fn epoch_line(s: &EpochSummary) -> String {
    let parts: Vec<String> = s
        .models
        .iter()
        .map(|m| {
            let kl = if m.kind.is_variational() {
                format!(" kl {:.2}", m.test.kl)
            } else {
                String::new()
            };
            let state = if m.diverged { " (diverged)" } else { "" };
            format!(
                "{} test loss {:.2} (recon {:.2}{kl}) 5-NN {:.1}%{state}",
                m.name,
                m.test.loss,
                m.test.recon,
                100.0 * m.knn_accuracy
            )
        })
        .collect();
    format!(
        "epoch {:>3}  {:>6.0} samples/s  {}",
        s.epoch,
        s.samples_per_sec,
        parts.join(" | ")
    )
}

fn write_figures(
    out: &Path,
    snap: &Snapshot,
    ds: &Dataset,
    summaries: &[EpochSummary],
    grid: usize,
    seed: u64,
) -> Result<()> {
    figure::latent_scatter(&out.join("latent.png"), snap, ds)?;
    figure::latent_grid(&out.join("grid.png"), snap, ds, grid)?;
    figure::reconstructions(&out.join("recon.png"), snap, ds)?;
    figure::prior_samples(&out.join("samples.png"), snap, ds, 10, seed)?;
    if !summaries.is_empty() {
        figure::loss_curves(&out.join("losses.png"), summaries)?;
    }
    Ok(())
}

fn eval(a: EvalArgs) -> Result<()> {
    let (model, meta) = checkpoint::load(&a.checkpoint)?;
    let spec = a.dataset.clone().unwrap_or_else(|| meta.dataset.clone());
    let seed = a.seed.unwrap_or(meta.seed);
    let ds = load_dataset(&spec, seed)?;
    if ds.dim() != meta.config.input_dim {
        bail!(
            "{}: the model takes items of {} values but data set '{spec}' has {}",
            a.checkpoint.display(),
            meta.config.input_dim,
            ds.dim()
        );
    }
    if a.iw_samples > 100_000 {
        bail!(
            "--iw-samples {} is out of range (0 to 100000)",
            a.iw_samples
        );
    }
    let mut rng = <crate::rng::PortableRng as rand::SeedableRng>::seed_from_u64(seed);
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "evaluating {} test items{}",
        ds.test.len(),
        if meta.config.kind.is_variational() && a.iw_samples > 0 {
            format!(" with {} importance samples each", a.iw_samples)
        } else {
            String::new()
        }
    ));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let m = model::evaluate(&model, &ds.test, ds.dim(), &mut rng, a.iw_samples);
    spinner.finish_and_clear();
    let m = m?;
    println!(
        "model            {} ({}), latent dim {}, epoch {}",
        meta.name,
        meta.config.kind.title(),
        meta.config.latent_dim,
        meta.epoch
    );
    println!("data set         {} ({} test items)", spec, ds.test.len());
    println!("reconstruction   {:.3} nats per item", m.recon);
    if meta.config.kind.is_variational() {
        println!("KL               {:.3} nats per item", m.kl);
    }
    if m.penalty != 0.0 {
        println!("penalty          {:.3}", m.penalty);
    }
    println!("total loss       {:.3}", m.loss);
    if let Some(elbo) = m.elbo {
        println!("ELBO             {elbo:.3}");
    }
    if let Some(r) = m.mean_code_recon {
        println!("mean-code recon  {r:.3} (decoding z = μ)");
    }
    if let (Some(lp), Some(k)) = (m.log_px, m.iw_samples) {
        println!("log p(x) ≈       {lp:.3} ({k} importance samples)");
    }
    Ok(())
}

fn dataset(a: DatasetArgs) -> Result<()> {
    let ds = load_dataset(&a.name, a.seed)?;
    let shape = match ds.shape {
        data::ItemShape::Image { width, height } => format!("{width}x{height} gray images"),
        data::ItemShape::Points { dim } => format!("{dim}-D points"),
    };
    println!(
        "{}: {} train, {} test, {shape}, {} classes: {}",
        ds.name,
        ds.train.len(),
        ds.test.len(),
        ds.num_classes(),
        ds.class_names.join(", ")
    );
    if let Some(path) = a.sheet {
        if a.per_class == 0 || a.per_class > 200 {
            bail!("--per-class {} is out of range (1 to 200)", a.per_class);
        }
        figure::data_sheet(&path, &ds, a.per_class)?;
        println!("sheet: {}", path.display());
    }
    Ok(())
}
