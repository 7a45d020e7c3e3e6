//! Headless subcommands: train, eval, dataset, encode, fetch. Scripts rely on these names.

mod args;
mod encode;
mod fetch;
mod output;

pub use args::{Cli, Command, DatasetArgs, EncodeArgs, EvalArgs, KnobArgs, TrainArgs};
pub use fetch::FetchArgs;

use crate::data::{self, Dataset};
use crate::model::{self, checkpoint};
use crate::report as figure;
use crate::train::{
    EpochSummary, ModelEpoch, Progress, RunSpec, Snapshot, TestReport, TrainCommand, TrainEvent,
    Trainer, spec, timeline,
};
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use output::out;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Runs a subcommand; `threads` step the models of a training run in parallel.
pub fn run(command: Command, threads: usize) -> Result<()> {
    match command {
        Command::Train(a) => train(a, threads),
        Command::Eval(a) => eval(a),
        Command::Dataset(a) => dataset(a),
        Command::Fetch(a) => fetch::run(a),
        Command::Encode(a) => encode::encode(a),
        Command::Lessons => lessons(),
    }
}

/// `latentlab lessons`: NAME<TAB>TITLE per built-in lesson.
fn lessons() -> Result<()> {
    let list = crate::lessons::builtin().map_err(|e| anyhow!("{e}"))?;
    let mut out = std::io::stdout().lock();
    for lesson in list {
        writeln!(out, "{}\t{}", lesson.name, lesson.title)?;
    }
    Ok(())
}

fn load_dataset(spec: &str, seed: u64) -> Result<Dataset> {
    data::load(spec, seed).map_err(|e| anyhow!("data set: {e}"))
}

/// The run the arguments describe, through the same [`RunSpec`] the window uses.
fn run_spec(a: &TrainArgs, threads: usize) -> Result<RunSpec> {
    a.check_ranges().map_err(|e| anyhow!(e))?;
    Ok(RunSpec {
        dataset: a.dataset.clone(),
        models: spec::parse_models(&a.models).map_err(|e| anyhow!("--models: {e}"))?,
        latent_dim: a.latent_dim,
        hidden: spec::parse_hidden(&a.hidden).map_err(|e| anyhow!("--hidden: {e}"))?,
        knobs: a.knobs.values.clone(),
        lr: a.lr,
        batch_size: a.batch_size,
        seed: a.seed,
        epochs: Some(a.epochs),
        kl_warmup_epochs: a.kl_warmup,
        iw_samples: a.iw_samples,
        eval_every_secs: a.eval_every_secs,
        threads,
    })
}

fn train(a: TrainArgs, threads: usize) -> Result<()> {
    let spec = run_spec(&a, threads)?;
    // Settings that cannot train are refused before the data is built, where the shape of
    // its items is known beforehand.
    if let Some(shape) = data::peek_shape(&spec.dataset).map_err(|e| anyhow!("data set: {e}"))? {
        spec.train_config_for(shape).map_err(|e| anyhow!("{e}"))?;
    }
    let ds = Arc::new(load_dataset(&spec.dataset, spec.seed)?);
    let mut config = spec.train_config(&ds).map_err(|e| anyhow!("{e}"))?;
    // The latent GIF's frames follow training's progress (dense early), not the clock.
    config.snapshot_interval_ms = 60_000;
    let steps_per_epoch = (ds.train.len() / config.batch_size).max(1) as u64;
    config.snapshot_steps =
        timeline::progress_schedule(steps_per_epoch * a.epochs as u64, GIF_SCHEDULE_FRAMES);
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create output folder {}", a.out.display()))?;
    let metrics_path = a.out.join("metrics.jsonl");
    let metrics = std::fs::File::create(&metrics_path)
        .with_context(|| format!("cannot write {}", metrics_path.display()))?;

    let trainer =
        Trainer::spawn(config, ds.clone(), None).context("cannot start the training thread")?;
    trainer.send(TrainCommand::Start);
    let mut run = CliRun::new(a.out.clone(), a.epochs, metrics, metrics_path.clone());
    loop {
        let ev = trainer
            .events()
            .recv_timeout(Duration::from_secs(600))
            .map_err(|_| anyhow!("the training thread stopped answering"))?;
        if run.on_event(ev, &trainer)? {
            break;
        }
    }
    run.bar.finish_and_clear();
    drop(trainer);
    let snap = run
        .snapshot
        .clone()
        .ok_or_else(|| anyhow!("no snapshot arrived"))?;
    write_figures(&a.out, &snap, &ds, &run.summaries, a.grid, a.seed)?;
    run.gif = Some(figure::latent_gif(
        &a.out.join("latent.gif"),
        run.timeline.frames(),
        &ds,
        Some(a.epochs),
    )?);
    run.print_outputs();
    run.fail_if_diverged()
}

/// Snapshots asked for by step for the latent GIF (epoch ends and the start add more).
const GIF_SCHEDULE_FRAMES: usize = 40;

/// What the command line collects while a run trains.
struct CliRun {
    out: PathBuf,
    epochs: usize,
    bar: ProgressBar,
    metrics: std::fs::File,
    metrics_path: PathBuf,
    summaries: Vec<EpochSummary>,
    final_step: Option<u64>,
    snapshot: Option<Arc<Snapshot>>,
    saved: Option<Vec<PathBuf>>,
    diverged: Vec<(String, u64)>,
    /// Every snapshot, for the latent GIF (and a saved run's timeline).
    timeline: timeline::Timeline,
    gif: Option<figure::GifStats>,
}

impl CliRun {
    fn new(out: PathBuf, epochs: usize, metrics: std::fs::File, metrics_path: PathBuf) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} steps  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            out,
            epochs,
            bar,
            metrics,
            metrics_path,
            summaries: Vec::new(),
            final_step: None,
            snapshot: None,
            saved: None,
            diverged: Vec::new(),
            timeline: timeline::Timeline::default(),
            gif: None,
        }
    }

    /// Takes one worker event; true once everything is saved and the last snapshot is in.
    fn on_event(&mut self, ev: TrainEvent, trainer: &Trainer) -> Result<bool> {
        match ev {
            TrainEvent::Ready {
                batches_per_epoch, ..
            } => self
                .bar
                .set_length((batches_per_epoch * self.epochs) as u64),
            TrainEvent::Progress(p) => self.show_progress(&p),
            TrainEvent::EpochSummary(s) => self.record_epoch(s)?,
            TrainEvent::TestReport(r) => self.record_test(r)?,
            TrainEvent::Diverged { model, step, epoch } => {
                self.diverged.push((model.clone(), step));
                say(
                    &self.bar,
                    format!(
                        "warning: {model} diverged (NaN or infinite loss) at step {step}, epoch \
                            {}; it keeps its last good weights, the others go on",
                        epoch + 1
                    ),
                );
            }
            TrainEvent::Error(e) => {
                self.bar.abandon();
                bail!("{e}");
            }
            TrainEvent::Finished { step, .. } => self.finish(step, trainer),
            TrainEvent::Saved(r) => {
                self.saved = Some(r.map_err(|e| anyhow!("saving checkpoints: {e}"))?)
            }
            TrainEvent::Snapshot(s) => {
                self.timeline.push(s.clone());
                self.snapshot = Some(s);
            }
            TrainEvent::Paused => {
                // The command line never pauses: the worker stopped because every model
                // diverged. Keep what there is: last good weights, metrics so far, figures.
                let step = self.diverged.iter().map(|d| d.1).max().unwrap_or(0);
                self.finish(step, trainer);
            }
            TrainEvent::Running => {}
        }
        let last_is_final = self
            .snapshot
            .as_ref()
            .is_some_and(|s| Some(s.step) == self.final_step);
        Ok(self.final_step.is_some() && self.saved.is_some() && last_is_final)
    }

    /// Training ended at `step`: ask for the checkpoints and a last snapshot.
    fn finish(&mut self, step: u64, trainer: &Trainer) {
        self.final_step = Some(step);
        trainer.send(TrainCommand::Save(self.out.clone()));
        trainer.send(TrainCommand::RequestSnapshot);
    }

    fn show_progress(&self, p: &Progress) {
        self.bar.set_position(p.step);
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
        self.bar.set_message(format!(
            "epoch {}/{}  {}  {:.0} samples/s",
            p.epoch + 1,
            self.epochs,
            losses.join("  "),
            p.samples_per_sec
        ));
    }

    fn record_epoch(&mut self, s: EpochSummary) -> Result<()> {
        for m in &s.models {
            let at = RowAt {
                epoch: s.epoch,
                step: s.step,
                elapsed_secs: s.elapsed_secs,
                samples_per_sec: Some(s.samples_per_sec),
            };
            for (split, metrics_of) in [("train", &m.train), ("test", &m.test)] {
                self.write_row(metrics_line(m, split, metrics_of, &at))?;
            }
        }
        self.metrics.flush().ok();
        say(&self.bar, epoch_line(&s));
        self.summaries.push(s);
        Ok(())
    }

    /// Test rows taken mid-epoch (`--eval-every-secs`).
    fn record_test(&mut self, r: TestReport) -> Result<()> {
        let at = RowAt {
            epoch: r.epoch,
            step: r.step,
            elapsed_secs: r.elapsed_secs,
            samples_per_sec: None,
        };
        for m in &r.models {
            self.write_row(metrics_line(m, "test", &m.test, &at))?;
        }
        let knn: Vec<String> = r
            .models
            .iter()
            .map(|m| format!("{} {:.1}%", m.name, 100.0 * m.knn_accuracy))
            .collect();
        say(
            &self.bar,
            format!(
                "{:>6.1} s  step {:>6}  5-NN {}",
                r.elapsed_secs,
                r.step,
                knn.join("  ")
            ),
        );
        Ok(())
    }

    fn write_row(&mut self, row: serde_json::Value) -> Result<()> {
        writeln!(self.metrics, "{row}")
            .with_context(|| format!("cannot write {}", self.metrics_path.display()))?;
        self.metrics.flush().ok();
        Ok(())
    }

    fn print_outputs(&self) {
        for p in self.saved.clone().unwrap_or_default() {
            out!("checkpoint  {}", p.display());
        }
        out!("metrics     {}", self.metrics_path.display());
        let losses = if self.summaries.is_empty() {
            ""
        } else {
            ",losses"
        };
        out!(
            "figures     {}/{{latent,grid,recon,samples{losses}}}.png",
            self.out.display()
        );
        if let Some(g) = self.gif {
            out!(
                "animation   {} ({} frames, {:.1} MB)",
                self.out.join("latent.gif").display(),
                g.frames,
                g.bytes as f64 / 1e6
            );
        }
    }

    fn fail_if_diverged(&self) -> Result<()> {
        if self.diverged.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = self
            .diverged
            .iter()
            .map(|(m, step)| format!("{m} (step {step})"))
            .collect();
        bail!(
            "diverged with a NaN or infinite loss: {}; their checkpoints hold the \
                last good weights (try a smaller --lr)",
            names.join(", ")
        )
    }
}

/// Prints a line above the progress bar, or plainly when there is no terminal to draw it on.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        out!("{line}");
    } else {
        bar.println(line);
    }
}

/// Where in training a metrics row was taken.
struct RowAt {
    epoch: usize,
    step: u64,
    elapsed_secs: f64,
    samples_per_sec: Option<f64>,
}

fn metrics_line(m: &ModelEpoch, split: &str, x: &model::Metrics, at: &RowAt) -> serde_json::Value {
    let mut v = serde_json::json!({
        "model": m.name,
        "epoch": at.epoch,
        "step": at.step,
        "elapsed_secs": at.elapsed_secs,
        "split": split,
        "recon": x.recon,
        "kl": x.kl,
        "penalty": x.penalty,
        "loss": x.loss,
        "elbo": x.elbo,
        "diverged": m.diverged,
    });
    if let Some(rate) = at.samples_per_sec {
        v["samples_per_sec"] = serde_json::json!(rate);
    }
    if split == "test" {
        v["mean_code_recon"] = serde_json::json!(x.mean_code_recon);
        v["log_px"] = serde_json::json!(x.log_px);
        v["knn5_accuracy"] = serde_json::json!(m.knn_accuracy);
        if x.denoising_recon.is_some() {
            v["denoising_recon"] = serde_json::json!(x.denoising_recon);
        }
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
    a.check_ranges().map_err(|e| anyhow!(e))?;
    let (model, meta) = checkpoint::load(&a.checkpoint)?;
    let spec = a.dataset.clone().unwrap_or_else(|| meta.dataset.clone());
    let seed = a.seed.unwrap_or(meta.seed);
    let wrong_size = |dim: usize| {
        anyhow!(
            "{}: the model takes items of {} values but data set '{spec}' has {dim}",
            a.checkpoint.display(),
            meta.config.input_dim,
        )
    };
    // Known before the data is built for most data sets; checked again after loading.
    let peeked = data::peek_shape(&spec).map_err(|e| anyhow!("data set: {e}"))?;
    if let Some(shape) = peeked.filter(|s| s.dim() != meta.config.input_dim) {
        return Err(wrong_size(shape.dim()));
    }
    let ds = load_dataset(&spec, seed)?;
    if ds.dim() != meta.config.input_dim {
        return Err(wrong_size(ds.dim()));
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
    out!(
        "model            {} ({}), latent dim {}, epoch {}",
        meta.name,
        meta.config.kind.title(),
        meta.config.latent_dim,
        meta.epoch
    );
    out!("data set         {} ({} test items)", spec, ds.test.len());
    out!("reconstruction   {:.3} nats per item", m.recon);
    if meta.config.kind.is_variational() {
        out!("KL               {:.3} nats per item", m.kl);
    }
    if m.penalty != 0.0 {
        out!("penalty          {:.3}", m.penalty);
    }
    out!("total loss       {:.3}", m.loss);
    if let Some(elbo) = m.elbo {
        out!("ELBO             {elbo:.3}");
    }
    if let Some(r) = m.mean_code_recon {
        out!("mean-code recon  {r:.3} (decoding z = μ)");
    }
    if let (Some(lp), Some(k)) = (m.log_px, m.iw_samples) {
        out!("log p(x) ≈       {lp:.3} ({k} importance samples)");
    }
    Ok(())
}

fn dataset(a: DatasetArgs) -> Result<()> {
    a.check_ranges().map_err(|e| anyhow!(e))?;
    let ds = load_dataset(&a.name, a.seed)?;
    let shape = match ds.shape {
        data::ItemShape::Image { width, height } => format!("{width}x{height} gray images"),
        data::ItemShape::Points { dim } => format!("{dim}-D points"),
    };
    out!(
        "{}: {} train, {} test, {shape}, {} classes: {}",
        ds.name,
        ds.train.len(),
        ds.test.len(),
        ds.num_classes(),
        ds.class_names.join(", ")
    );
    if let Some(path) = a.sheet {
        figure::data_sheet(&path, &ds, a.per_class)?;
        out!("sheet: {}", path.display());
    }
    if let Some(dir) = a.export_idx {
        data::export_idx_dir(&ds, &dir)?;
        out!("idx: {}", dir.display());
    }
    Ok(())
}
