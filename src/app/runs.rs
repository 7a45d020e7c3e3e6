//! Saved runs in the window: Save… writes one (the window's part: settings, loss history,
//! metrics, figures and extra files; the worker adds the checkpoints and run.json), and
//! "Open run…", `--open` and a lesson's `open:` read one back. Opening checks everything
//! first (files, hashes, version, the data set) and changes nothing when it fails.

use super::history::{CurveValues, LossHistory};
use super::session::Session;
use super::settings::Settings;
use crate::data::Dataset;
use crate::report as figure;
use crate::train::run::{
    self, LossRow, OpenedRun, RowAt, RunError, RunSave, Staging, metrics_line,
};
use crate::train::{EpochSummary, Snapshot, Timeline, timeline};
use crossbeam_channel::{Receiver, bounded};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A run checked and its data set loaded: ready to show (`latentlab --open` makes one
/// before the window opens).
#[derive(Clone, Debug)]
pub struct LoadedRun {
    /// The run.
    pub run: OpenedRun,
    /// Its data set, checked against the run's fingerprint.
    pub data: Arc<Dataset>,
}

/// Opens the run in `dir` and loads its data set: everything `--open` checks before any
/// window opens.
pub fn load_run(dir: &Path) -> Result<LoadedRun, RunError> {
    let run = run::open_run(dir)?;
    let data = Arc::new(run.load_data()?);
    Ok(LoadedRun { run, data })
}

/// A run whose data set is loading on its own thread.
struct PendingOpen {
    rx: Receiver<Result<LoadedRun, RunError>>,
    /// Whether new models were to train before the open began (kept if it fails).
    start_before: bool,
}

/// A save whose window files are being written on their own thread.
struct PendingSave {
    rx: Receiver<Result<RunSave, String>>,
    /// The session's generation of models when Save… was pressed.
    generation: u64,
}

/// What a save or an open in the background came to, for the app to act on.
pub enum RunEvent {
    /// The window's files of a save are written: the worker of `generation` adds the
    /// checkpoints and run.json.
    Staged(Box<RunSave>, u64),
    /// A run checked and its data set loaded: ready to show.
    Opened(Box<LoadedRun>),
    /// Opening failed: training goes back to what it was going to do.
    OpenFailed {
        /// Why.
        error: String,
        /// Whether new models were to train before the open began.
        start_before: bool,
    },
    /// Something to tell the user (a save that failed).
    Error(String),
}

/// What a save takes from the window, as it is when Save… is pressed.
pub struct SaveInput<'a> {
    /// The training session (history, epochs, snapshot, data set).
    pub session: &'a Session,
    /// The settings as applied.
    pub settings: &'a Settings,
    /// The snapshots kept so far.
    pub timeline: &'a Timeline,
}

/// Saved runs in the window: one being saved, one being opened, the last one opened.
#[derive(Default)]
pub struct Runs {
    open: Option<PendingOpen>,
    save: Option<PendingSave>,
    /// The folder of the run last opened, if any.
    pub opened: Option<PathBuf>,
}

impl Runs {
    /// A run is being opened (read and checked on its own thread).
    pub fn is_opening(&self) -> bool {
        self.open.is_some()
    }

    /// A save is writing its window files.
    pub fn is_saving(&self) -> bool {
        self.save.is_some()
    }

    /// Save…: begins writing this run into `folder` (which must be new or empty). The
    /// figures are drawn on their own thread, so the window does not stop; the worker's
    /// part follows in [`RunEvent::Staged`].
    pub fn save(&mut self, folder: PathBuf, input: SaveInput<'_>) -> Result<(), String> {
        if input.session.trainer.is_none() {
            return Err("there is no run to save yet".into());
        }
        if self.save.is_some() {
            return Err("not saved: the last Save… is still being written".into());
        }
        let staging = Staging::begin(&folder, false).map_err(|e| format!("not saved: {e}"))?;
        let files = WindowFiles::gather(&input);
        let spec = input.settings.run.clone();
        let grid_k = Some(input.settings.grid_k);
        let (tx, rx) = bounded(1);
        let repaint = input.session.repaint();
        let spawned = std::thread::Builder::new()
            .name("latentlab-save".into())
            .spawn(move || {
                let written = match files.write(&staging) {
                    Ok(()) => Ok(RunSave {
                        staging,
                        spec,
                        grid_k,
                    }),
                    Err(e) => {
                        staging.abandon();
                        Err(format!("not saved: {e}"))
                    }
                };
                tx.send(written).ok();
                if let Some(ctx) = repaint {
                    ctx.request_repaint();
                }
            });
        match spawned {
            Ok(_) => {
                self.save = Some(PendingSave {
                    rx,
                    generation: input.session.generation,
                });
                Ok(())
            }
            Err(e) => Err(format!("not saved: cannot start writing: {e}")),
        }
    }

    /// "Open run…": checks the run now and loads its data set in the background; the run
    /// arrives as [`RunEvent::Opened`]. `start_before` is what training was to do.
    pub fn open(
        &mut self,
        dir: &Path,
        start_before: bool,
        repaint: Option<egui::Context>,
    ) -> Result<(), String> {
        let run = run::open_run(dir).map_err(|e| format!("cannot open the run: {e}"))?;
        let (tx, rx) = bounded(1);
        std::thread::Builder::new()
            .name("latentlab-open-run".into())
            .spawn(move || {
                let loaded = run.load_data().map(|data| LoadedRun {
                    run,
                    data: Arc::new(data),
                });
                tx.send(loaded).ok();
                if let Some(ctx) = repaint {
                    ctx.request_repaint();
                }
            })
            .map_err(|e| format!("cannot open the run: cannot start loading its data: {e}"))?;
        self.open = Some(PendingOpen { rx, start_before });
        Ok(())
    }

    /// A save or an open that has finished, if one has.
    pub fn poll(&mut self) -> Option<RunEvent> {
        if let Some(p) = &self.save
            && let Ok(written) = p.rx.try_recv()
        {
            let generation = p.generation;
            self.save = None;
            return Some(match written {
                Ok(save) => RunEvent::Staged(Box::new(save), generation),
                Err(e) => RunEvent::Error(e),
            });
        }
        let p = self.open.as_ref()?;
        let result = p.rx.try_recv().ok()?;
        let start_before = p.start_before;
        self.open = None;
        Some(match result {
            Ok(loaded) => RunEvent::Opened(Box::new(loaded)),
            Err(e) => RunEvent::OpenFailed {
                error: format!("cannot open the run: {e}"),
                start_before,
            },
        })
    }
}

/// The files the window owns in a saved run (losses.csv, metrics.jsonl, the figures,
/// latent.gif, timeline.bin), gathered on the UI thread and written on another.
struct WindowFiles {
    rows: Vec<LossRow>,
    metrics: String,
    shown: Option<(Arc<Snapshot>, Arc<Dataset>)>,
    epochs: Vec<EpochSummary>,
    grid_k: usize,
    seed: u64,
    timeline: Timeline,
}

impl WindowFiles {
    fn gather(input: &SaveInput<'_>) -> Self {
        let session = input.session;
        let bpe = session.batches_per_epoch.max(1);
        let mut metrics = String::new();
        for s in &session.epochs {
            let at = RowAt {
                epoch: s.epoch,
                step: s.step,
                elapsed_secs: s.elapsed_secs,
                samples_per_sec: Some(s.samples_per_sec),
            };
            for m in &s.models {
                for (split, x) in [("train", &m.train), ("test", &m.test)] {
                    metrics.push_str(&metrics_line(m, split, x, &at).to_string());
                    metrics.push('\n');
                }
            }
        }
        Self {
            rows: history_rows(&session.history, bpe),
            metrics,
            shown: session.snapshot.clone().zip(session.data.clone()),
            epochs: session.epochs.clone(),
            grid_k: input.settings.grid_k,
            seed: input.settings.run.seed,
            timeline: input.timeline.clone(),
        }
    }

    fn write(&self, staging: &Staging) -> anyhow::Result<()> {
        staging.write(run::LOSSES_CSV, run::write_loss_rows(&self.rows).as_bytes())?;
        staging.write(run::METRICS_JSONL, self.metrics.as_bytes())?;
        // The frames timeline.bin keeps, as `latentlab train` animates its own.
        let kept = self
            .timeline
            .thinned(timeline::RUN_FILE_BYTES, timeline::RUN_FILE_FRAMES);
        if let Some((snap, ds)) = &self.shown {
            let dir = staging.path();
            figure::run_figures(dir, snap, ds, &self.epochs, self.grid_k, self.seed)?;
            if !kept.is_empty() {
                figure::latent_gif(&dir.join("latent.gif"), &kept.light_frames(), ds, None)?;
            }
        }
        for (name, bytes) in extra_files(&kept)? {
            staging.write(&name, &bytes)?;
        }
        Ok(())
    }
}

/// Files other features add to a saved run (the timeline, already thinned to the file's
/// limits), by name. Opening hands them back to [`saved_timeline`].
fn extra_files(kept: &Timeline) -> Result<Vec<(String, Vec<u8>)>, timeline::TimelineError> {
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![(timeline::RUN_FILE.to_string(), kept.to_bytes()?)])
}

/// The timeline an opened run kept, if it has one; a note if it cannot be read.
pub fn saved_timeline(files: &BTreeMap<String, Vec<u8>>) -> Result<Option<Timeline>, String> {
    let Some(bytes) = files.get(timeline::RUN_FILE) else {
        return Ok(None);
    };
    Timeline::from_bytes(bytes)
        .map(Some)
        .map_err(|e| format!("the run's timeline could not be read ({e}); replay starts now"))
}

/// The settings an opened run trains on: its own, with epochs lifted once done (a run
/// that did its epochs goes on when the user presses Train).
pub fn settings_of(run: &OpenedRun, grid_k: usize) -> Settings {
    let m = &run.manifest;
    let mut spec = m.spec.clone();
    if spec.epochs.is_some_and(|e| m.epoch >= e) {
        spec.epochs = None;
    }
    Settings {
        run: spec,
        grid_k: m.grid_k.unwrap_or(grid_k),
    }
}

/// The note shown once a run is open.
pub fn opened_note(run: &OpenedRun) -> String {
    let m = &run.manifest;
    format!(
        "opened the run {}: {} at step {} (epoch {}); Train continues from there, and \
         Save… writes a new folder",
        run.dir.display(),
        m.models
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        m.step,
        m.epoch
    )
}

/// The loss history as losses.csv rows (train points as the curve shows them).
fn history_rows(h: &LossHistory, batches_per_epoch: usize) -> Vec<LossRow> {
    let mut rows = Vec::new();
    for m in &h.models {
        for (split, points) in [("train", &m.train), ("test", &m.test)] {
            for p in points.iter() {
                rows.push(LossRow {
                    step: p.step,
                    epoch: (p.step / batches_per_epoch as f64).floor() as usize,
                    model: m.name.clone(),
                    kind: m.kind,
                    split: split.into(),
                    recon: p.values.recon,
                    kl: p.values.kl,
                    total: p.values.total,
                });
            }
        }
    }
    rows
}

/// The loss history losses.csv rows make.
pub fn rows_history(rows: &[LossRow]) -> LossHistory {
    let mut h = LossHistory::new();
    for r in rows {
        h.restore_point(
            &r.model,
            r.kind,
            r.split == "test",
            r.step,
            CurveValues {
                recon: r.recon,
                kl: r.kl,
                total: r.total,
            },
        );
    }
    h
}
