//! Saved runs in the window: Save… writes one (the window's part: settings, loss history,
//! metrics, figures and extra files; the worker adds the checkpoints and run.json), and
//! "Open run…", `--open` and a lesson's `open:` read one back. Opening checks everything
//! first (files, hashes, version, the data set) and changes nothing when it fails.

use super::LatentLabApp;
use super::history::{CurveValues, LossHistory};
use super::settings::Settings;
use crate::data::Dataset;
use crate::report as figure;
use crate::train::run::{
    self, LossRow, OpenedRun, RowAt, RunError, RunSave, Staging, metrics_line,
};
use crate::train::{TrainCommand, timeline};
use crossbeam_channel::{Receiver, bounded};
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
pub struct PendingOpen {
    rx: Receiver<Result<LoadedRun, RunError>>,
    /// Whether new models were to train before the open began (kept if it fails).
    start_before: bool,
}

/// The window's saved-run state.
#[derive(Default)]
pub struct Runs {
    /// A run being opened.
    pub(super) pending: Option<PendingOpen>,
    /// The folder of the run last opened, if any.
    pub opened: Option<PathBuf>,
}

impl Runs {
    /// A run is being opened (read and checked on its own thread).
    pub fn is_opening(&self) -> bool {
        self.pending.is_some()
    }
}

impl LatentLabApp {
    /// Save…: writes this run into `folder` (which must be new or empty).
    pub(super) fn save_run(&mut self, folder: PathBuf) {
        if self.session.trainer.is_none() {
            self.session.error("there is no run to save yet");
            return;
        }
        let staging = match Staging::begin(&folder, false) {
            Ok(s) => s,
            Err(e) => {
                self.session.error(format!("not saved: {e}"));
                return;
            }
        };
        if let Err(e) = self.write_window_files(&staging) {
            staging.abandon();
            self.session.error(format!("not saved: {e}"));
            return;
        }
        let save = RunSave {
            staging: staging.clone(),
            spec: self.settings.run.clone(),
            grid_k: Some(self.settings.grid_k),
        };
        let sent = self
            .session
            .trainer
            .as_ref()
            .is_some_and(|t| t.send(TrainCommand::SaveRun(Box::new(save))));
        if !sent {
            staging.abandon();
            self.session
                .error("not saved: the training thread is not answering");
        }
    }

    /// The files the window owns: losses.csv, metrics.jsonl, the figures, latent.gif and
    /// extra files.
    fn write_window_files(&self, staging: &Staging) -> anyhow::Result<()> {
        let bpe = self.session.batches_per_epoch.max(1);
        let rows = history_rows(&self.session.history, bpe);
        staging.write(run::LOSSES_CSV, run::write_loss_rows(&rows).as_bytes())?;
        let mut metrics = String::new();
        for s in &self.session.epochs {
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
        staging.write(run::METRICS_JSONL, metrics.as_bytes())?;
        if let (Some(snap), Some(ds)) = (&self.session.snapshot, &self.session.data) {
            let dir = staging.path();
            let grid = self.settings.grid_k;
            figure::latent_scatter(&dir.join("latent.png"), snap, ds)?;
            figure::latent_grid(&dir.join("grid.png"), snap, ds, grid)?;
            figure::reconstructions(&dir.join("recon.png"), snap, ds)?;
            figure::prior_samples(
                &dir.join("samples.png"),
                snap,
                ds,
                10,
                self.settings.run.seed,
            )?;
            if !self.session.epochs.is_empty() {
                figure::loss_curves(&dir.join("losses.png"), &self.session.epochs)?;
            }
            // The frames timeline.bin keeps, as `latentlab train` animates its own.
            let kept = self.saved_timeline();
            if !kept.is_empty() {
                figure::latent_gif(&dir.join("latent.gif"), &kept.light_frames(), ds, None)?;
            }
        }
        for (name, bytes) in self.run_extra_files()? {
            staging.write(&name, &bytes)?;
        }
        Ok(())
    }

    /// Files other features add to a saved run (the timeline), by name. Opening hands
    /// them back to [`LatentLabApp::restore_extra_files`].
    pub(super) fn run_extra_files(
        &self,
    ) -> Result<Vec<(String, Vec<u8>)>, timeline::TimelineError> {
        let kept = self.saved_timeline();
        if kept.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![(timeline::RUN_FILE.to_string(), kept.to_bytes()?)])
    }

    /// The timeline a saved run keeps: this one thinned to the file's limits.
    fn saved_timeline(&self) -> crate::train::Timeline {
        self.timeline_bar
            .timeline
            .thinned(timeline::RUN_FILE_BYTES, timeline::RUN_FILE_FRAMES)
    }

    /// The extra files of an opened run (see [`LatentLabApp::run_extra_files`]).
    pub(super) fn restore_extra_files(
        &mut self,
        files: &std::collections::BTreeMap<String, Vec<u8>>,
    ) {
        let Some(bytes) = files.get(timeline::RUN_FILE) else {
            return;
        };
        match crate::train::Timeline::from_bytes(bytes) {
            Ok(t) => self.timeline_bar.restore(t),
            Err(e) => self.session.notice(format!(
                "the run's timeline could not be read ({e}); replay starts now"
            )),
        }
    }

    /// "Open run…": checks the run now, loads its data set in the background, and shows
    /// it when that arrives. A run that cannot be opened says why and changes nothing.
    pub(super) fn open_run(&mut self, dir: &Path) {
        let run = match run::open_run(dir) {
            Ok(r) => r,
            Err(e) => {
                self.session.error(format!("cannot open the run: {e}"));
                return;
            }
        };
        let (tx, rx) = bounded(1);
        let ctx = self.egui_ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("latentlab-open-run".into())
            .spawn(move || {
                let loaded = run.load_data().map(|data| LoadedRun {
                    run,
                    data: Arc::new(data),
                });
                tx.send(loaded).ok();
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.runs.pending = Some(PendingOpen {
                    rx,
                    start_before: self.session.start_when_ready,
                });
                // An opened run waits for Train (a lesson step may say Train after this).
                self.session.start_when_ready = false;
            }
            Err(e) => self.session.error(format!(
                "cannot open the run: cannot start loading its data: {e}"
            )),
        }
    }

    /// A run whose data set has arrived: show it, or say why not.
    pub(super) fn poll_open(&mut self) {
        let Some(p) = &self.runs.pending else {
            return;
        };
        let Ok(result) = p.rx.try_recv() else {
            return;
        };
        let start_before = p.start_before;
        self.runs.pending = None;
        match result {
            Ok(loaded) => self.show_run(loaded),
            Err(e) => {
                self.session.start_when_ready = start_before;
                self.session.error(format!("cannot open the run: {e}"));
            }
        }
    }

    /// Puts an opened run in the window: its settings, data set, models (from their saved
    /// weights, at their saved step) and loss history. Train continues from there.
    pub fn show_run(&mut self, loaded: LoadedRun) {
        let LoadedRun { run, data } = loaded;
        let m = &run.manifest;
        let mut spec = m.spec.clone();
        // A run that did its epochs goes on when the user presses Train.
        if spec.epochs.is_some_and(|e| m.epoch >= e) {
            spec.epochs = None;
        }
        let settings = Settings {
            run: spec,
            grid_k: m.grid_k.unwrap_or(self.settings.grid_k),
        };
        self.settings = settings.clone();
        self.controls.draft = settings;
        self.session.cancel_load();
        self.session.data = Some(data);
        self.session.restore_history = Some(rows_history(&run.losses));
        self.session
            .reset_with(&self.settings, Some(run.start_from()));
        self.restore_extra_files(&run.extra);
        self.session.notice(format!(
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
        ));
        self.runs.opened = Some(run.dir.clone());
        self.lesson_step_after_open(&run.dir);
    }

    /// A lesson step that opened the run at `dir` applies its other keys to it now that
    /// it is in (they were worked out against the settings before it).
    fn lesson_step_after_open(&mut self, dir: &Path) {
        let Some(l) = &self.lesson else {
            return;
        };
        let mut setup = l.lesson.setup(l.step);
        if setup.open.as_deref() != Some(dir) {
            return;
        }
        setup.open = None;
        for action in self.setup_actions(&setup) {
            self.apply(action);
        }
        self.controls.draft = self.settings.clone();
    }
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
fn rows_history(rows: &[LossRow]) -> LossHistory {
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

#[cfg(test)]
mod tests {
    use super::super::{LatentLabApp, Settings};
    use crate::data::Sizes;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use std::time::{Duration, Instant};

    #[test]
    fn open_run_without_a_file_dialog_offers_a_field_and_a_bad_folder_changes_nothing() {
        let mut settings = Settings::default();
        settings.run.hidden = vec![16];
        let sizes = Sizes {
            train: 500,
            test: 100,
        };
        let mut h = Harness::builder()
            .with_size(egui::vec2(1600.0, 1000.0))
            .with_max_steps(10_000)
            .build_eframe(move |cc| {
                let mut app = LatentLabApp::with_settings(&cc.egui_ctx, settings, Some(sizes));
                app.session.start_when_ready = false;
                app
            });
        let start = Instant::now();
        while h.state().session.snapshot.is_none() {
            assert!(start.elapsed() < Duration::from_secs(60), "no models");
            std::thread::sleep(Duration::from_millis(20));
            h.run_steps(1);
        }
        // As on a desktop without a file-dialog portal.
        h.state_mut().dialog.native = false;
        h.get_by_label("Open run…").click();
        h.run_steps(3);
        let dir = tempfile::tempdir().unwrap();
        let field = h.get_by_label_contains("type the run folder to open");
        field.focus();
        field.type_text(&dir.path().display().to_string());
        h.run_steps(2);
        h.get_by_label("Open").click();
        h.run_steps(3);
        let errors: Vec<&str> = h
            .state()
            .session
            .messages
            .iter()
            .filter(|m| m.is_error)
            .map(|m| m.text.as_str())
            .collect();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("cannot open the run") && e.contains("no run.json")),
            "{errors:?}"
        );
        assert!(h.query_by_label_contains("type the run folder").is_none());
        assert_eq!(h.state().settings.run.hidden, vec![16], "nothing changed");
        assert!(h.state().runs.pending.is_none() && h.state().runs.opened.is_none());
    }
}
