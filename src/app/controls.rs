//! The side panel: data set, models, knobs, Train / Pause / Step / Reset, and progress.
//! Live knobs (learning rate, β, noise) apply at once; anything that needs new models
//! asks before it resets.

use super::knobs;
use super::session::{Session, Status};
use super::settings::Settings;
use super::theme;
use crate::data::BUILTIN_NAMES;
use crate::train::TrainCommand;
use crossbeam_channel::{Receiver, bounded};
use egui::{Color32, RichText, Ui};
use std::path::PathBuf;

/// What a file dialog was opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenKind {
    /// A folder of MNIST-layout IDX files.
    Idx,
    /// A folder with one sub-folder of images per class.
    Folder,
    /// A `label,p0,...` CSV file.
    Csv,
    /// A folder to save checkpoints into.
    SaveTo,
}

/// Transient state of the controls.
pub struct Controls {
    /// Settings as edited, not yet applied if they need a reset.
    pub draft: Settings,
    /// True while the "reset now?" question is open.
    pub confirm_open: bool,
    dialog: Option<(OpenKind, Receiver<Option<PathBuf>>, std::time::Instant)>,
    /// A data-set spec typed by hand (for machines without a file dialog).
    typed_spec: String,
}

impl Controls {
    /// Controls showing `settings`.
    pub fn new(settings: &Settings) -> Self {
        Self {
            draft: settings.clone(),
            confirm_open: false,
            dialog: None,
            typed_spec: String::new(),
        }
    }

    /// Opens a native file dialog on its own thread, so the window never waits on it.
    fn open_dialog(&mut self, kind: OpenKind, ctx: &egui::Context) {
        let (tx, rx) = bounded(1);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("latentlab-dialog".into())
            .spawn(move || {
                let dialog = rfd::FileDialog::new();
                let picked = match kind {
                    OpenKind::Csv => dialog.add_filter("CSV", &["csv", "txt"]).pick_file(),
                    _ => dialog.pick_folder(),
                };
                tx.send(picked).ok();
                ctx.request_repaint();
            });
        if spawned.is_ok() {
            self.dialog = Some((kind, rx, std::time::Instant::now()));
        }
    }

    /// Uses a path as the data set (as Open… does), asking before the reset.
    pub fn open_path(&mut self, kind: OpenKind, path: &std::path::Path) {
        let prefix = match kind {
            OpenKind::Idx => "idx",
            OpenKind::Folder => "folder",
            OpenKind::Csv => "csv",
            OpenKind::SaveTo => return,
        };
        self.draft.run.dataset = format!("{prefix}:{}", path.display());
        self.confirm_open = true;
    }

    /// Draws the panel and applies what the user changed.
    pub fn ui(&mut self, ui: &mut Ui, settings: &mut Settings, session: &mut Session) {
        self.poll_dialog(session);
        ui.heading("LatentLab");
        ui.label(RichText::new("Autoencoders side by side").weak());
        ui.separator();
        self.data_ui(ui, session);
        ui.separator();
        self.models_ui(ui);
        ui.separator();
        self.knobs_ui(ui);
        ui.separator();
        self.apply_live(settings, session);
        self.buttons_ui(ui, settings, session);
        ui.separator();
        progress_ui(ui, session);
        self.confirm_ui(ui.ctx(), settings, session);
    }

    fn poll_dialog(&mut self, session: &mut Session) {
        let Some((kind, rx, opened)) = &self.dialog else {
            return;
        };
        let (kind, opened) = (*kind, *opened);
        if let Ok(picked) = rx.try_recv() {
            self.dialog = None;
            if picked.is_none() && opened.elapsed() < std::time::Duration::from_millis(300) {
                // Nobody could have cancelled that fast: there is no dialog on this desktop.
                session.notice("No file dialog is available here; type the path under \"or type\" instead (idx:DIR, folder:DIR or csv:FILE).");
            }
            if let Some(path) = picked {
                if kind == OpenKind::SaveTo {
                    session.send(TrainCommand::Save(path));
                } else {
                    self.open_path(kind, &path);
                }
            }
        }
    }

    fn data_ui(&mut self, ui: &mut Ui, session: &Session) {
        let heading = ui.label(RichText::new("Data set").strong());
        let current = self.draft.run.dataset.clone();
        egui::ComboBox::from_id_salt("dataset")
            .selected_text(short_name(&current))
            .width(200.0)
            .show_ui(ui, |ui| {
                for name in BUILTIN_NAMES {
                    if ui.selectable_label(current == name, name).clicked() && current != name {
                        self.draft.run.dataset = name.to_string();
                        self.confirm_open = true;
                    }
                }
            })
            .response
            .labelled_by(heading.id);
        ui.horizontal(|ui| {
            ui.label("Open…");
            for (label, kind) in [
                ("IDX folder", OpenKind::Idx),
                ("Image folder", OpenKind::Folder),
                ("CSV", OpenKind::Csv),
            ] {
                if ui.small_button(label).clicked() {
                    self.open_dialog(kind, ui.ctx());
                }
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("or type");
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.typed_spec)
                        .hint_text("idx:/data/mnist")
                        .desired_width(150.0),
                )
                .labelled_by(l.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.small_button("Load").clicked() || enter) && !self.typed_spec.trim().is_empty() {
                self.draft.run.dataset = self.typed_spec.trim().to_string();
                self.confirm_open = true;
            }
        });
        if session.is_loading() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("loading…");
            });
        } else if let Some(d) = &session.data {
            ui.label(
                RichText::new(format!(
                    "{} train · {} test · {} classes",
                    d.train.len(),
                    d.test.len(),
                    d.num_classes()
                ))
                .small(),
            );
        }
    }

    fn models_ui(&mut self, ui: &mut Ui) {
        knobs::models_ui(ui, &mut self.draft.run);
    }

    fn knobs_ui(&mut self, ui: &mut Ui) {
        knobs::knobs_ui(ui, &mut self.draft.run);
    }

    /// Sends live knobs to the worker as soon as they change.
    fn apply_live(&mut self, settings: &mut Settings, session: &mut Session) {
        for cmd in knobs::apply_live(&mut settings.run, &self.draft.run) {
            session.send(cmd);
        }
    }

    fn buttons_ui(&mut self, ui: &mut Ui, settings: &mut Settings, session: &mut Session) {
        if settings.needs_reset(&self.draft) && !self.confirm_open {
            ui.colored_label(theme::WARNING, "Changed settings need new models.");
            if self.draft.run.models.is_empty() {
                ui.colored_label(theme::ERROR, "pick at least one model");
            } else if ui.button("Apply and reset…").clicked() {
                self.confirm_open = true;
            }
            if ui.small_button("Undo changes").clicked() {
                self.draft = settings.clone();
            }
        }
        let running = session.status == Status::Running;
        ui.horizontal(|ui| {
            let big = |t: &str| RichText::new(t).size(18.0);
            if ui
                .add_enabled(
                    !running && session.trainer.is_some(),
                    egui::Button::new(big("Train")),
                )
                .clicked()
            {
                session.start_when_ready = true;
                session.send(TrainCommand::Start);
            }
            if ui
                .add_enabled(running, egui::Button::new(big("Pause")))
                .clicked()
            {
                session.start_when_ready = false;
                session.send(TrainCommand::Pause);
            }
        });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    !running && session.trainer.is_some(),
                    egui::Button::new("Step"),
                )
                .on_hover_text("one training step")
                .clicked()
            {
                session.send(TrainCommand::Step);
            }
            if ui
                .add_enabled(session.data.is_some(), egui::Button::new("Reset"))
                .on_hover_text("new models with the current settings")
                .clicked()
            {
                session.start_when_ready = running;
                session.reset(settings);
            }
            if ui
                .add_enabled(session.trainer.is_some(), egui::Button::new("Save…"))
                .on_hover_text("save checkpoints into a folder")
                .clicked()
            {
                self.open_dialog(OpenKind::SaveTo, ui.ctx());
            }
        });
    }

    fn confirm_ui(&mut self, ctx: &egui::Context, settings: &mut Settings, session: &mut Session) {
        if !self.confirm_open {
            return;
        }
        let modal = egui::Modal::new(egui::Id::unique("confirm-reset")).show(ctx, |ui| {
            ui.set_width(420.0);
            ui.heading("Start again with new models?");
            ui.label(format!("Data set: {}", short_name(&self.draft.run.dataset)));
            ui.label("This change needs new models, so training starts from scratch. The current models are discarded.");
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button(RichText::new("Reset now").strong()).clicked() {
                    let data_changed = self.draft.run.dataset != settings.run.dataset || self.draft.run.seed != settings.run.seed;
                    *settings = self.draft.clone();
                    session.start_when_ready = true;
                    if data_changed || session.data.is_none() {
                        session.load(&settings.run.dataset, settings.run.seed);
                    } else {
                        session.reset(settings);
                    }
                    self.confirm_open = false;
                }
                if ui.button("Cancel").clicked() {
                    self.draft = settings.clone();
                    self.confirm_open = false;
                }
            });
        });
        if modal.should_close() && self.confirm_open {
            self.draft = settings.clone();
            self.confirm_open = false;
        }
    }
}

/// The data-set name without a long path.
fn short_name(spec: &str) -> String {
    match spec.split_once(':') {
        Some((kind, path)) => {
            let name = std::path::Path::new(path)
                .file_name()
                .map_or(path.to_string(), |n| n.to_string_lossy().into_owned());
            format!("{kind}: {name}")
        }
        None => spec.to_string(),
    }
}

fn progress_ui(ui: &mut Ui, session: &Session) {
    let status = match session.status {
        Status::Loading => ("loading data…", Color32::GRAY),
        Status::Paused => ("paused", theme::WARNING),
        Status::Running => ("training", Color32::from_rgb(40, 160, 60)),
        Status::Finished => ("finished", Color32::GRAY),
        Status::Idle => ("idle", Color32::GRAY),
    };
    ui.horizontal(|ui| {
        ui.label("Status:");
        ui.label(RichText::new(status.0).color(status.1).strong());
    });
    if let Some(p) = &session.progress {
        ui.add(egui::ProgressBar::new(p.epoch_fraction).text(format!(
            "epoch {}  ·  {:.0}%",
            p.epoch + 1,
            100.0 * p.epoch_fraction
        )));
        egui::Grid::new("progress").num_columns(2).show(ui, |ui| {
            ui.label("steps");
            ui.label(p.step.to_string());
            ui.end_row();
            ui.label("samples/s");
            ui.label(format!("{:.0}", p.samples_per_sec));
            ui.end_row();
            ui.label("elapsed");
            let s = p.elapsed_secs as u64;
            ui.label(format!("{}:{:02}", s / 60, s % 60));
            ui.end_row();
        });
        for l in &p.losses {
            let text = if l.diverged {
                format!("{}: diverged", l.name)
            } else if l.kind.is_variational() {
                format!("{}: recon {:.1} + KL {:.1} nats", l.name, l.recon, l.kl)
            } else {
                format!("{}: {:.1} nats", l.name, l.loss)
            };
            ui.label(RichText::new(text).color(theme::model_color(l.kind)));
        }
    }
}
