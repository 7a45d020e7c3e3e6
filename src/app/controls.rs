//! The side panel: data set, models, knobs, Train / Pause / Step / Reset, and progress.
//! The learning rate and live knobs apply at once; anything that needs new models asks
//! before it resets.

use super::actions::Action;
use super::dialog::OpenKind;
use super::knobs;
use super::session::{Session, Status};
use super::settings::Settings;
use super::theme;
use crate::data::{self, BUILTIN_NAMES, FolderOptions};
use crate::model::Arch;
use egui::{RichText, Ui};

/// The sides offered for an image folder's items (any of 8 to 128 can be typed in a spec).
const FOLDER_SIDES: [usize; 6] = [16, 28, 32, 48, 64, 96];

/// Transient state of the controls.
pub struct Controls {
    /// Settings as edited, not yet applied if they need a reset.
    pub draft: Settings,
    /// True while the "reset now?" question is open.
    pub confirm_open: bool,
    /// A data-set spec typed by hand (for machines without a file dialog).
    typed_spec: String,
    /// The folder to save into, typed by hand: shown once Save… found no file dialog.
    save_folder: Option<String>,
    /// The run folder to open, typed by hand: shown once "Open run…" found no file dialog.
    run_folder: Option<String>,
}

impl Controls {
    /// Controls showing `settings`.
    pub fn new(settings: &Settings) -> Self {
        Self {
            draft: settings.clone(),
            confirm_open: false,
            typed_spec: String::new(),
            save_folder: None,
            run_folder: None,
        }
    }

    /// Offers a field to type the run folder to open (where no file dialog opens).
    pub fn ask_run_folder(&mut self) {
        self.run_folder.get_or_insert_with(String::new);
    }

    /// Offers a field to type the folder to save into (where no file dialog opens).
    pub fn ask_save_folder(&mut self) {
        self.save_folder.get_or_insert_with(String::new);
    }

    /// Makes `spec` the draft data set and asks the user to confirm the change.
    pub fn offer_dataset(&mut self, spec: &str) {
        self.draft.run.dataset = spec.to_string();
        self.confirm_open = true;
    }

    /// Uses a path as the data set (as Open… does), asking before the reset.
    pub fn open_path(&mut self, kind: OpenKind, path: &std::path::Path) {
        let prefix = match kind {
            OpenKind::Data(prefix) => prefix,
            OpenKind::SaveTo
            | OpenKind::Lesson
            | OpenKind::Run
            | OpenKind::SaveGif
            | OpenKind::SavePng => return,
        };
        self.draft.run.dataset = format!("{prefix}:{}", path.display());
        self.confirm_open = true;
    }

    /// Draws the panel; returns what the user asked for (settings change only through them).
    pub fn ui(&mut self, ui: &mut Ui, settings: &Settings, session: &Session) -> Vec<Action> {
        let mut actions = Vec::new();
        // What a teacher reaches for in class comes first, above the fold of a 720-pixel
        // screen: training, the status, saving and opening; the settings follow.
        ui.heading("LatentLab");
        self.buttons_ui(ui, session, &mut actions);
        progress_ui(ui, session);
        ui.separator();
        self.data_ui(ui, session, &mut actions);
        ui.separator();
        self.models_ui(ui);
        ui.separator();
        self.knobs_ui(ui);
        if settings.needs_reset(&self.draft) && !self.confirm_open {
            ui.separator();
            self.pending_changes_ui(ui, settings);
        }
        self.apply_live(settings, &mut actions);
        self.confirm_ui(ui.ctx(), settings, &mut actions);
        actions
    }

    fn data_ui(&mut self, ui: &mut Ui, session: &Session, actions: &mut Vec<Action>) {
        let heading = ui.label(RichText::new("Data set").strong());
        let current = self.draft.run.dataset.clone();
        egui::ComboBox::from_id_salt("dataset")
            .selected_text(short_name(&current))
            .width(200.0)
            .height(400.0)
            .show_ui(ui, |ui| {
                for name in BUILTIN_NAMES {
                    if ui.selectable_label(current == name, name).clicked() && current != name {
                        self.draft.run.dataset = name.to_string();
                        // The sprites are 64×64: the preset takes the convolutional
                        // network (and its learning rate), which learns them far better
                        // than dense layers.
                        if name.contains("sprites") {
                            self.draft.run.set_arch(Arch::Conv);
                        }
                        self.confirm_open = true;
                    }
                }
                ui.separator();
                for (set, cached) in super::download::remote_sets() {
                    let name = set.name();
                    if cached {
                        if ui.selectable_label(current == name, name).clicked() && current != name {
                            self.offer_dataset(name);
                        }
                    } else if ui
                        .selectable_label(false, format!("Download {}…", set.title()))
                        .on_hover_text("about 11-30 MB from the official mirrors, checked")
                        .clicked()
                    {
                        actions.push(Action::Download(set));
                    }
                }
            })
            .response
            .labelled_by(heading.id);
        ui.horizontal(|ui| {
            ui.label("Open…");
            for (prefix, label, _) in data::sources::file_sources() {
                if ui.small_button(label).clicked() {
                    actions.push(Action::OpenDialog(OpenKind::Data(prefix)));
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
        self.folder_options_ui(ui);
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

    /// For an image folder: grey or colour, and the side its images are resized to (the
    /// spec's `#colour,size=N`). A change asks before the reset, as a new data set does.
    fn folder_options_ui(&mut self, ui: &mut Ui) {
        let Some(arg) = self.draft.run.dataset.strip_prefix("folder:") else {
            return;
        };
        let Ok((dir, mut opts)) = FolderOptions::parse(arg) else {
            return;
        };
        let (dir, before) = (dir.to_owned(), opts);
        ui.horizontal(|ui| {
            ui.label("images");
            ui.selectable_value(&mut opts.colour, false, "grey");
            ui.selectable_value(&mut opts.colour, true, "colour");
            let l = ui.label("side");
            egui::ComboBox::from_id_salt("folder-size")
                .selected_text(format!("{} px", opts.size))
                .width(64.0)
                .show_ui(ui, |ui| {
                    for size in FOLDER_SIDES {
                        ui.selectable_value(&mut opts.size, size, format!("{size} px"));
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text("every image is resized to this square side (triangle filter)");
        });
        if opts != before {
            self.draft.run.dataset = format!("folder:{dir}{}", opts.suffix());
            self.confirm_open = true;
        }
    }

    fn models_ui(&mut self, ui: &mut Ui) {
        knobs::models_ui(ui, &mut self.draft.run);
    }

    fn knobs_ui(&mut self, ui: &mut Ui) {
        knobs::knobs_ui(ui, &mut self.draft.run);
    }

    /// Asks for the learning rate and live knobs to reach the worker as soon as they change.
    fn apply_live(&mut self, settings: &Settings, actions: &mut Vec<Action>) {
        actions.extend(knobs::live_changes(&settings.run, &self.draft.run));
    }

    fn buttons_ui(&mut self, ui: &mut Ui, session: &Session, actions: &mut Vec<Action>) {
        let running = session.status == Status::Running;
        let has_trainer = session.trainer.is_some();
        let (train_enabled, pause_enabled) = train_pause_enabled(session);
        let mut button = |ui: &mut Ui, enabled: bool, text: RichText, action: Action| {
            let response = ui.add_enabled(enabled, egui::Button::new(text));
            if response.clicked() {
                actions.push(action);
            }
            response
        };
        ui.horizontal(|ui| {
            let big = |t: &str| RichText::new(t).size(18.0).strong();
            button(ui, train_enabled, big("Train"), Action::Train);
            button(ui, pause_enabled, big("Pause"), Action::Pause);
            button(ui, !running && has_trainer, "Step".into(), Action::Step)
                .on_hover_text("one training step");
            button(ui, session.data.is_some(), "Reset".into(), Action::Reset)
                .on_hover_text("new models with the current settings");
        });
        ui.horizontal(|ui| {
            let save = Action::OpenDialog(OpenKind::SaveTo);
            button(ui, has_trainer, "Save…".into(), save).on_hover_text(
                "save the run (models, settings, losses, figures) into a new or empty folder",
            );
            let open = Action::OpenDialog(OpenKind::Run);
            button(ui, true, "Open run…".into(), open)
                .on_hover_text("open a saved run; Train continues from there");
        });
        self.save_folder_ui(ui, has_trainer, actions);
        self.run_folder_ui(ui, actions);
    }

    /// The typed run folder to open, when "Open run…" found no file dialog.
    fn run_folder_ui(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let prompt = ("type the run folder to open", "Open");
        if let Some(folder) = typed_folder_ui(ui, &mut self.run_folder, prompt, true) {
            actions.push(Action::OpenRun(folder));
        }
    }

    /// The typed folder to save into, when Save… found no file dialog.
    fn save_folder_ui(&mut self, ui: &mut Ui, has_trainer: bool, actions: &mut Vec<Action>) {
        let prompt = ("type the folder to save into", "Save");
        if let Some(folder) = typed_folder_ui(ui, &mut self.save_folder, prompt, has_trainer) {
            actions.push(Action::Save(folder));
        }
    }

    /// Says that the edited settings need new models, and offers to apply or undo them.
    fn pending_changes_ui(&mut self, ui: &mut Ui, settings: &Settings) {
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

    fn confirm_ui(&mut self, ctx: &egui::Context, settings: &Settings, actions: &mut Vec<Action>) {
        if !self.confirm_open {
            return;
        }
        let modal = egui::Modal::new(egui::Id::unique("confirm-reset")).show(ctx, |ui| {
            ui.set_width(420.0);
            ui.heading("Start again with new models?");
            for change in settings.changes(&self.draft) {
                ui.label(RichText::new(change).strong());
            }
            ui.label(
                "This change needs new models, so training starts from scratch. \
                 The current models are discarded.",
            );
            ui.add_space(8.0);
            ui.horizontal(|ui| {
                if ui.button(RichText::new("Reset now").strong()).clicked() {
                    actions.push(Action::ApplySettings(Box::new(self.draft.clone())));
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

/// Whether Train and Pause can be pressed. Pause: while training, or while new models
/// are on their way with a start pending (so it is honoured when they are ready); Train:
/// while built models are not training, or while new ones are on their way with no start
/// pending.
fn train_pause_enabled(session: &Session) -> (bool, bool) {
    let running = session.status == Status::Running;
    let building = session.is_building();
    let pending = session.start_when_ready;
    let train = (!running && session.trainer.is_some()) || (building && !pending);
    let pause = running || (building && pending);
    (train, pause)
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
    // While new models are on their way, say what they will do: the user's last choice.
    let then = if session.start_when_ready {
        "then training"
    } else {
        "then paused"
    };
    let status = match session.status {
        Status::Loading => (format!("loading data, {then}"), theme::QUIET),
        Status::Running => ("training".into(), theme::RUNNING),
        _ if session.is_building() => (format!("new models, {then}"), theme::QUIET),
        Status::Paused => ("paused".into(), theme::WARNING),
        Status::Finished => ("finished".into(), theme::QUIET),
        Status::Idle => ("idle".into(), theme::QUIET),
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(&status.0).color(status.1).strong());
        if let Some(p) = &session.progress {
            let s = p.elapsed_secs as u64;
            ui.label(format!(
                "step {} · {:.0} samples/s · {}:{:02}",
                p.step,
                p.samples_per_sec,
                s / 60,
                s % 60
            ));
        }
    });
    if let Some(p) = &session.progress {
        let epochs = p.epoch as f64 + f64::from(p.epoch_fraction);
        ui.add(
            egui::ProgressBar::new(p.epoch_fraction).text(super::timeline_bar::epoch_text(epochs)),
        );
        for l in &p.losses {
            let text = if l.diverged {
                format!("{}: diverged", l.name)
            } else if crate::model::iwae::trains_on_bound(l.kind) {
                // Its loss is −L_k, below the one-sample ELBO's recon + KL for k > 1: show both.
                format!(
                    "{}: −L_k {:.1}, recon {:.1} + KL {:.1}",
                    l.name, l.loss, l.terms.recon, l.terms.kl
                )
            } else if l.kind.is_variational() {
                format!(
                    "{}: recon {:.1} + KL {:.1} nats",
                    l.name, l.terms.recon, l.terms.kl
                )
            } else if let Some(p) = l.kind.penalty() {
                // The kind's own term (sparse, contractive, a vq-vae's codebook + commitment).
                let text = format!(
                    "{}: recon {:.1} + penalty {:.1} nats",
                    l.name, l.terms.recon, l.terms.penalty
                );
                ui.label(RichText::new(text).color(theme::model_color(l.kind)))
                    .on_hover_text(format!("penalty: {}", p.label));
                continue;
            } else {
                format!("{}: {:.1} nats", l.name, l.loss)
            };
            ui.label(RichText::new(text).color(theme::model_color(l.kind)));
        }
    }
}

/// A field to type a folder where no file dialog opens: `(prompt, button)` label it; the
/// folder once the user confirms (the button, when `enabled`, or Enter). The field goes
/// away (`None`) on confirm or Cancel.
fn typed_folder_ui(
    ui: &mut Ui,
    field: &mut Option<String>,
    (prompt, button): (&str, &str),
    enabled: bool,
) -> Option<std::path::PathBuf> {
    let folder = field.as_mut()?;
    let (mut picked, mut done) = (None, false);
    let l = ui.label(prompt);
    ui.horizontal(|ui| {
        let edit = ui
            .add(
                egui::TextEdit::singleline(folder)
                    .hint_text("/home/me/runs/today")
                    .desired_width(150.0),
            )
            .labelled_by(l.id);
        let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let typed = !folder.trim().is_empty();
        let go = ui.add_enabled(typed && enabled, egui::Button::new(button));
        if (go.clicked() || enter) && typed && enabled {
            picked = Some(folder.trim().into());
            done = true;
        }
        done |= ui.small_button("Cancel").clicked();
    });
    if done {
        *field = None;
    }
    picked
}
