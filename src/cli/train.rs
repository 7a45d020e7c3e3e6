//! `latentlab train`: the models side by side on one data set, a progress bar, and the
//! saved run (checkpoints, metrics.jsonl, losses.csv, figures, the timeline) at the end.

use super::args::TrainArgs;
use super::dataset::load_dataset;
use super::output::out;
use crate::data::{self, Dataset};
use crate::model::{self};
use crate::report as figure;
use crate::train::run::{self, LossRow, RowAt, Staging, metrics_line};
use crate::train::{
    EpochSummary, ModelEpoch, Progress, RunSpec, Snapshot, TestReport, TrainCommand, TrainEvent,
    Trainer, spec, timeline,
};
use anyhow::{Context, Result, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The run the arguments describe, through the same [`RunSpec`] the window uses.
fn run_spec(a: &TrainArgs, threads: usize) -> Result<RunSpec> {
    a.check_ranges().map_err(|e| anyhow!(e))?;
    Ok(RunSpec {
        dataset: a.folder.apply(&a.dataset).map_err(|e| anyhow!(e))?,
        models: spec::parse_models(&a.models).map_err(|e| anyhow!("--models: {e}"))?,
        latent_dim: a.latent_dim,
        hidden: spec::parse_hidden(&a.hidden).map_err(|e| anyhow!("--hidden: {e}"))?,
        arch: crate::model::Arch::from_name(&a.arch).map_err(|e| anyhow!("--arch: {e}"))?,
        knobs: a.knobs.values.clone(),
        lr: a.lr(),
        batch_size: a.batch_size,
        seed: a.seed,
        epochs: Some(a.epochs()),
        kl_warmup_epochs: a.kl_warmup,
        iw_samples: a.iw_samples,
        eval_every_secs: a.eval_every_secs,
        threads,
    })
}

pub(super) fn train(a: TrainArgs, threads: usize) -> Result<()> {
    let spec = run_spec(&a, threads)?;
    // Settings that cannot train are refused before the data is built, where the shape of
    // its items is known beforehand.
    if let Some(shape) = data::peek_shape(&spec.dataset).map_err(|e| anyhow!("data set: {e}"))? {
        spec.train_config_for(shape).map_err(|e| anyhow!("{e}"))?;
    }
    // A run already in --out stops here, before any training, unless --overwrite.
    Staging::check(&a.out, a.overwrite)?;
    let ds = Arc::new(load_dataset(&spec.dataset, spec.seed)?);
    let mut config = spec.train_config(&ds).map_err(|e| anyhow!("{e}"))?;
    // The latent GIF's frames follow training's progress (dense early), not the clock.
    config.snapshot_interval_ms = 60_000;
    let steps_per_epoch = (ds.train.len() / config.batch_size).max(1) as u64;
    config.snapshot_steps =
        timeline::progress_schedule(steps_per_epoch * a.epochs() as u64, GIF_SCHEDULE_FRAMES);
    let staging = Staging::begin(&a.out, a.overwrite)?;
    let result = train_into(&a, spec, ds, config, &staging);
    if result.is_err() {
        staging.abandon();
    }
    result
}

fn train_into(
    a: &TrainArgs,
    spec: RunSpec,
    ds: Arc<Dataset>,
    config: crate::train::TrainConfig,
    staging: &Staging,
) -> Result<()> {
    // metrics.jsonl grows in the hidden folder while training; the run appears under
    // --out, whole, once it is saved.
    let metrics_path = staging.path().join(run::METRICS_JSONL);
    let metrics = std::fs::File::create(&metrics_path)
        .with_context(|| format!("cannot write {}", metrics_path.display()))?;
    let trainer =
        Trainer::spawn(config, ds.clone(), None).context("cannot start the training thread")?;
    trainer.send(TrainCommand::Start);
    let mut run = CliRun::new(a, spec, staging.clone(), metrics, ds);
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
    run.print_outputs();
    run.fail_if_diverged()
}

/// Snapshots asked for by step for the latent GIF (epoch ends and the start add more).
const GIF_SCHEDULE_FRAMES: usize = 40;

/// What the command line collects while a run trains.
struct CliRun {
    out: PathBuf,
    epochs: usize,
    grid: usize,
    spec: RunSpec,
    staging: Staging,
    ds: Arc<Dataset>,
    bar: ProgressBar,
    metrics: std::fs::File,
    summaries: Vec<EpochSummary>,
    loss_rows: Vec<LossRow>,
    final_step: Option<u64>,
    save_sent: bool,
    saved: Option<PathBuf>,
    model_names: Vec<String>,
    diverged: Vec<(String, u64)>,
    /// Every snapshot, for the latent GIF (and a saved run's timeline).
    timeline: timeline::Timeline,
    gif: Option<figure::GifStats>,
}

impl CliRun {
    fn new(
        a: &TrainArgs,
        spec: RunSpec,
        staging: Staging,
        metrics: std::fs::File,
        ds: Arc<Dataset>,
    ) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} steps  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self {
            out: a.out.clone(),
            epochs: a.epochs(),
            grid: a.grid,
            spec,
            staging,
            ds,
            bar,
            metrics,
            summaries: Vec::new(),
            loss_rows: Vec::new(),
            final_step: None,
            save_sent: false,
            saved: None,
            model_names: Vec::new(),
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
            TrainEvent::Progress(p) => {
                self.log_progress(&p);
                self.show_progress(&p)
            }
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
            TrainEvent::RunSaved(r) => {
                self.saved = Some(r.map_err(|e| anyhow!("saving the run: {e}"))?)
            }
            TrainEvent::Snapshot(s) => {
                self.timeline.push(&s);
                self.on_snapshot(&s, trainer)?
            }
            TrainEvent::Paused => {
                // The command line never pauses: the worker stopped because every model
                // diverged. Keep what there is: last good weights, metrics so far, figures.
                let step = self.diverged.iter().map(|d| d.1).max().unwrap_or(0);
                self.finish(step, trainer);
            }
            TrainEvent::Running => {}
        }
        Ok(self.saved.is_some())
    }

    /// Training ended at `step`: ask for a last snapshot (the figures are drawn from it).
    fn finish(&mut self, step: u64, trainer: &Trainer) {
        self.final_step = Some(step);
        trainer.send(TrainCommand::RequestSnapshot);
    }

    /// The last snapshot: the figures and losses.csv into the run, then the checkpoints
    /// and run.json (the worker writes those).
    fn on_snapshot(&mut self, snap: &Arc<Snapshot>, trainer: &Trainer) -> Result<()> {
        if self.save_sent || self.final_step != Some(snap.step) {
            return Ok(());
        }
        self.model_names = snap.models.iter().map(|m| m.name.clone()).collect();
        let dir = self.staging.path();
        write_figures(
            dir,
            snap,
            &self.ds,
            &self.summaries,
            self.grid,
            self.spec.seed,
        )?;
        self.gif = Some(figure::latent_gif(
            &dir.join("latent.gif"),
            &self.timeline.light_frames(),
            &self.ds,
            Some(self.epochs),
        )?);
        // The timeline, so the window's replay works on an opened run too (thinned: a run
        // folder should stay small).
        let kept = self
            .timeline
            .thinned(timeline::RUN_FILE_BYTES, timeline::RUN_FILE_FRAMES);
        self.staging.write(timeline::RUN_FILE, &kept.to_bytes()?)?;
        self.staging.write(
            run::LOSSES_CSV,
            run::write_loss_rows(&self.loss_rows).as_bytes(),
        )?;
        self.metrics
            .sync_all()
            .with_context(|| format!("cannot write {}", run::METRICS_JSONL))?;
        let save = run::RunSave {
            staging: self.staging.clone(),
            spec: self.spec.clone(),
            grid_k: None,
        };
        trainer.send(TrainCommand::SaveRun(Box::new(save)));
        self.save_sent = true;
        Ok(())
    }

    /// The training losses of a progress event, as losses.csv rows: the curve the window
    /// draws when the run is opened.
    fn log_progress(&mut self, p: &Progress) {
        for l in p
            .losses
            .iter()
            .filter(|l| !l.diverged && l.loss.is_finite())
        {
            self.loss_rows.push(LossRow {
                step: p.step as f64,
                epoch: p.epoch,
                model: l.name.clone(),
                kind: l.kind,
                split: "train".into(),
                recon: l.terms.recon,
                kl: l.terms.kl,
                total: l.loss,
            });
        }
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
            // The training curve comes from the progress events; the epoch's test point.
            self.loss_rows.push(loss_row(m, "test", &m.test, &at));
        }
        self.metrics
            .flush()
            .with_context(|| format!("cannot write {}", run::METRICS_JSONL))?;
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
            self.loss_rows.push(loss_row(m, "test", &m.test, &at));
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
            .with_context(|| format!("cannot write {}", run::METRICS_JSONL))?;
        self.metrics
            .flush()
            .with_context(|| format!("cannot write {}", run::METRICS_JSONL))?;
        Ok(())
    }

    fn print_outputs(&self) {
        if self.staging.replaces() {
            out!(
                "replaced    the previous contents of {}",
                self.out.display()
            );
        }
        out!("run         {}", self.out.join(run::MANIFEST).display());
        for name in &self.model_names {
            out!(
                "checkpoint  {}",
                self.out.join(format!("{name}.json")).display()
            );
        }
        out!(
            "metrics     {}",
            self.out.join(run::METRICS_JSONL).display()
        );
        out!("losses      {}", self.out.join(run::LOSSES_CSV).display());
        let losses = if self.summaries.is_empty() {
            ""
        } else {
            ",losses"
        };
        // The figures written only for some runs: by the files there.
        let optional: String = ["classes", "traversals"]
            .iter()
            .filter(|f| self.out.join(format!("{f}.png")).exists())
            .map(|f| format!(",{f}"))
            .collect();
        out!(
            "figures     {}/{{latent,grid,recon,samples{losses}{optional}}}.png",
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

/// The losses.csv row of a metrics row.
fn loss_row(m: &ModelEpoch, split: &str, x: &model::Metrics, at: &RowAt) -> LossRow {
    LossRow {
        step: at.step as f64,
        epoch: at.epoch,
        model: m.name.clone(),
        kind: m.kind,
        split: split.into(),
        recon: x.recon,
        kl: x.kl,
        total: x.loss,
    }
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
            let codes = match m.test.codes_in_use {
                Some(n) => format!(" codes in use {n}"),
                None => String::new(),
            };
            format!(
                "{} test loss {:.2} (recon {:.2}{kl}){codes} 5-NN {:.1}%{state}",
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
    Ok(figure::run_figures(out, snap, ds, summaries, grid, seed)?)
}
