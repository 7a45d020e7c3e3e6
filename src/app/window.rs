//! The window's one object: the state every feature shares (settings, the training
//! session, the selection, the tabs) and [`LatentLabApp::apply`], the one place where the
//! [`Action`]s that panels and features return change it. Drains worker events and
//! background work in `logic`, draws the frame in `ui`.
//!
//! Every tab is a [`View`]: it draws from a [`ViewCtx`] (snapshot, data, the shared
//! [`Selection`], read-only settings) and returns actions. The features (the side panel,
//! saved runs, the timeline, a lesson, a download, PNG export) own their state and return
//! actions or events too; none of them sees this struct.

use super::actions::Action;
use super::chrome::{about_ui, dropped_image, messages_ui, waiting_ui};
use super::controls::Controls;
use super::dialog::{DialogAnswer, FileDialog, OpenKind};
use super::download::Download;
use super::export::PngExport;
use super::frame_stats::FrameStats;
use super::lesson_run::{self, LessonRun};
use super::losses::LossesPanel;
use super::presentation::{self, Presentation};
use super::runs::{self, LoadedRun, RunEvent, Runs, SaveInput};
use super::selection::Selection;
use super::session::{Answer, Session, Status};
use super::settings::{self, Settings};
use super::tabs;
use super::theme;
use super::timeline_bar::TimelineBar;
use super::view::{ScreenRects, View, ViewCtx};
use crate::data::Sizes;
use crate::data::fetch::{FetchOptions, RemoteSet};
use crate::lessons::{self, Lesson};
use crate::train::TrainCommand;
use crate::train::run::OpenedRun;
use egui::{RichText, Ui};
use std::path::Path;
use std::time::{Duration, Instant};

/// The application.
pub struct LatentLabApp {
    /// Persisted settings (as applied).
    pub settings: Settings,
    /// The training session.
    pub session: Session,
    /// The side panel.
    pub controls: Controls,
    /// The tabs of the central area, in order.
    pub views: Vec<Box<dyn View>>,
    /// Index of the selected tab in `views`.
    pub tab: usize,
    /// Probes, pinned item and plane, shared by every tab.
    pub selection: Selection,
    /// Where the tabs drew things in the last frame (tests aim the mouse with it).
    pub rects: ScreenRects,
    /// The loss plot.
    pub losses: LossesPanel,
    /// Presentation mode, and which models the tabs show.
    pub presentation: Presentation,
    /// The lesson being taught, if any.
    pub lesson: Option<LessonRun>,
    /// A data set being downloaded ("Download MNIST…"), if any.
    pub download: Option<Download>,
    /// Saved runs: one being saved, one being opened, the last one opened.
    pub runs: Runs,
    /// A run shown while the worker builds its models from its checkpoints.
    opening: Option<Opening>,
    /// The snapshots so far and the moment the tabs show.
    pub timeline_bar: TimelineBar,
    /// "Export PNG…" of the current tab.
    pub png_export: PngExport,
    pub(super) dialog: FileDialog,
    egui_ctx: egui::Context,
    last_step_seen: Option<u64>,
    frame_stats: FrameStats,
    /// Times the window asked for the keyboard focus at start (a few, then it lets be).
    focus_asked: u32,
}

impl LatentLabApp {
    /// The app as eframe starts it: settings from storage, training at once.
    pub fn new(cc: &eframe::CreationContext<'_>, launch: &Launch) -> Self {
        let mut settings = cc
            .storage
            .and_then(|s| eframe::get_value::<Settings>(s, settings::STORAGE_KEY))
            .unwrap_or_default();
        let fixed = settings.sanitize();
        let mut app = Self::with_settings(&cc.egui_ctx, settings, None);
        if !fixed.is_empty() {
            app.session.notice(format!(
                "saved settings out of range, back to their defaults: {}",
                fixed.join("; ")
            ));
        }
        if let Some(n) = launch.threads {
            app.session.threads = n;
        }
        if let Some(mut p) = cc
            .storage
            .and_then(|s| eframe::get_value::<Presentation>(s, Presentation::STORAGE_KEY))
        {
            p.sanitize();
            app.presentation = p;
        }
        if launch.presentation {
            app.apply(Action::Present(true));
        }
        if let Some(run) = &launch.run {
            // An opened run waits for Train, as it was saved.
            app.session.start_when_ready = false;
            app.show_run((**run).clone());
        }
        if let Some(lesson) = &launch.lesson {
            app.apply(Action::StartLesson(Box::new(lesson.clone())));
        }
        app
    }

    /// The app with given settings; `sizes` caps built-in data sets (tests use small ones).
    pub fn with_settings(ctx: &egui::Context, settings: Settings, sizes: Option<Sizes>) -> Self {
        theme::apply(ctx);
        let mut session = Session::new(Some(ctx.clone()), sizes);
        session.load(&settings.run.dataset, settings.run.seed);
        Self {
            controls: Controls::new(&settings),
            settings,
            session,
            views: tabs::all(),
            tab: 0,
            selection: Selection::default(),
            rects: ScreenRects::default(),
            losses: LossesPanel::default(),
            presentation: Presentation::default(),
            lesson: None,
            download: None,
            runs: Runs::default(),
            opening: None,
            timeline_bar: TimelineBar::default(),
            png_export: PngExport::default(),
            dialog: FileDialog::default(),
            egui_ctx: ctx.clone(),
            last_step_seen: None,
            focus_asked: 0,
            frame_stats: FrameStats::from_env(),
        }
    }

    /// The tabs' titles, in order.
    pub fn tab_titles(&self) -> Vec<&'static str> {
        self.views.iter().map(|v| v.title()).collect()
    }

    /// Drains the worker and the file dialog without drawing: called before every frame.
    pub fn drain(&mut self) {
        let had_data = self.session.data.is_some();
        self.session.poll(&self.settings);
        self.take_answer();
        self.fall_back_to_digits(had_data);
        // A load that failed leaves the models on the old data: show (and remember) that.
        if !self.session.is_loading()
            && let Some(d) = &self.session.data
            && d.name != self.settings.run.dataset
        {
            self.settings.run.dataset = d.name.clone();
            self.controls.draft.run.dataset = d.name.clone();
        }
        // A new run (step went backwards or snapshot cleared): forget per-run views.
        let step = self.session.snapshot.as_ref().map(|s| s.step);
        if step.is_some_and(|s| self.last_step_seen.is_some_and(|l| s < l))
            || (step.is_none() && self.last_step_seen.is_some())
        {
            self.selection.clear();
            self.views.iter_mut().for_each(|v| v.clear());
        }
        self.last_step_seen = step;
        let mut actions: Vec<Action> = Vec::new();
        actions.extend(self.timeline_bar.drain(self.session.snapshot.as_ref()));
        actions.extend(self.png_export.poll(&self.egui_ctx));
        actions.extend(self.poll_dialog());
        if let Some(end) = self.download.as_ref().and_then(|d| d.poll()) {
            self.download = None;
            actions.extend(end.actions());
        }
        for action in actions {
            self.apply(action);
        }
        if let Some(event) = self.runs.poll() {
            self.run_event(event);
        }
    }

    /// The remembered data set is gone: fall back to the built-in one.
    fn fall_back_to_digits(&mut self, had_data: bool) {
        if had_data
            || self.session.data.is_some()
            || self.session.is_loading()
            || self.settings.run.dataset == "digits"
        {
            return;
        }
        self.session.notice(format!(
            "falling back to the built-in digits (could not load {})",
            self.settings.run.dataset
        ));
        self.settings.run.dataset = "digits".into();
        self.controls.draft.run.dataset = "digits".into();
        self.session.load("digits", self.settings.run.seed);
    }

    /// A closed file dialog: save there, or offer the picked data set; where there is no
    /// dialog, a field to type the folder (saving) or a note on where to type the path.
    fn poll_dialog(&mut self) -> Option<Action> {
        let answer = self.dialog.poll()?;
        match answer {
            DialogAnswer::Picked(OpenKind::SaveTo, folder) => Some(Action::Save(folder)),
            DialogAnswer::Picked(OpenKind::Lesson, file) => Some(Action::OpenLessonFile(file)),
            DialogAnswer::Picked(OpenKind::Run, dir) => Some(Action::OpenRun(dir)),
            DialogAnswer::Picked(OpenKind::SaveGif, file) => Some(Action::ExportGif(file)),
            DialogAnswer::Picked(OpenKind::SavePng, file) => Some(Action::ExportPng(file)),
            DialogAnswer::Picked(kind, path) => {
                self.controls.open_path(kind, &path);
                None
            }
            DialogAnswer::Unavailable(OpenKind::Run) => {
                self.controls.ask_run_folder();
                None
            }
            DialogAnswer::Unavailable(OpenKind::SaveTo) => {
                self.controls.ask_save_folder();
                None
            }
            DialogAnswer::Unavailable(k @ (OpenKind::SaveGif | OpenKind::SavePng)) => {
                self.timeline_bar.ask_path(k);
                None
            }
            DialogAnswer::Unavailable(_) => Some(Action::Notice(format!(
                "No file dialog is available here; type the path under \"or type\" instead \
                 ({}).",
                crate::data::sources::path_forms()
            ))),
            DialogAnswer::Cancelled => None,
        }
    }

    /// F5 toggles presentation mode (Escape leaves it); Space starts and pauses training,
    /// unless a text field has the keyboard.
    fn shortcuts(&self, ui: &Ui) -> Option<Action> {
        if ui.input(|i| i.key_pressed(egui::Key::F5)) {
            return Some(Action::Present(!self.presentation.on));
        }
        if self.presentation.on && ui.input(|i| i.key_pressed(egui::Key::Escape)) {
            return Some(Action::Present(false));
        }
        let typing = ui.ctx().memory(|m| m.focused().is_some());
        if typing || !ui.input(|i| i.key_pressed(egui::Key::Space)) {
            return None;
        }
        match self.session.status {
            Status::Running => Some(Action::Pause),
            Status::Paused => Some(Action::Train),
            _ => None,
        }
    }

    fn central_ui(&mut self, ui: &mut Ui) -> Vec<Action> {
        let mut actions = Vec::new();
        // In presentation mode the tabs are a menu in the bar at the top, and the
        // explanations stay out of the way: the room goes to the plots.
        if !self.presentation.on {
            // One row of tabs at 1280 pixels; the buttons and the model filter share the
            // next row, so the tab itself keeps the height.
            ui.horizontal_wrapped(|ui| {
                ui.spacing_mut().item_spacing.x = 4.0;
                ui.spacing_mut().button_padding.x = 5.0;
                for (i, view) in self.views.iter().enumerate() {
                    ui.selectable_value(&mut self.tab, i, RichText::new(view.title()).size(15.0));
                }
            });
            ui.horizontal_wrapped(|ui| {
                let present = ui.button("Present (F5)").on_hover_text(
                    "presentation mode: large text and plots, one pair of models, no side panel",
                );
                if present.clicked() {
                    actions.push(Action::Present(true));
                }
                actions.extend(self.png_export.button_ui(ui));
                if let Some(snap) = &self.session.snapshot {
                    ui.separator();
                    self.presentation.filter_ui(ui, snap);
                }
            });
            // A running lesson's banner says what to look at; the tab's own line would
            // only take the room.
            if self.lesson.is_none()
                && let Some(view) = self.views.get(self.tab)
            {
                about_ui(ui, view.as_ref());
            }
        }
        actions.extend(self.timeline_bar.ui(ui, self.session.batches_per_epoch));
        let shown = self
            .timeline_bar
            .shown()
            .or_else(|| self.session.snapshot.clone());
        let (Some(full), Some(ds)) = (shown, self.session.data.clone()) else {
            // Models are on their way while building, and between Ready and the first
            // snapshot (a config is there); otherwise none will come.
            let coming = self.session.is_building() || self.session.config.is_some();
            waiting_ui(ui, self.session.is_loading(), coming);
            return actions;
        };
        let snap = presentation::only(&full, &self.presentation.shown(&full));
        self.selection.prepare(&snap);
        let Some(view) = self.views.get_mut(self.tab) else {
            return actions;
        };
        let mut ctx = ViewCtx {
            snap: &snap,
            ds: &ds,
            selection: &mut self.selection,
            settings: &self.settings,
            rects: &mut self.rects,
            presenting: self.presentation.on,
        };
        self.png_export
            .set_tab_rect(ui.available_rect_before_wrap());
        actions.extend(view.ui(ui, &mut ctx));
        actions
    }
}

impl eframe::App for LatentLabApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain();
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, settings::STORAGE_KEY, &self.settings);
        eframe::set_value(storage, Presentation::STORAGE_KEY, &self.presentation);
    }
}

impl LatentLabApp {
    /// One frame of the whole window (eframe's `ui`, and the fit check's headless frames).
    pub fn frame_ui(&mut self, ui: &mut Ui) {
        let started = Instant::now();
        self.rects.subjects.clear();
        self.presentation.fit_zoom(ui.ctx());
        self.take_focus(ui.ctx());
        let mut actions: Vec<Action> = self.shortcuts(ui).into_iter().collect();
        actions.extend(dropped_image(ui));
        actions.extend(self.lesson.as_ref().and_then(|l| l.keys(ui)));
        if self.presentation.on {
            let snap = self.session.snapshot.clone();
            let training = self.session.status == Status::Running
                || (self.session.is_building() && self.session.start_when_ready);
            let titles = self.tab_titles();
            egui::Panel::top("presentation").show(ui, |ui| {
                let bar =
                    self.presentation
                        .bar_ui(ui, snap.as_deref(), training, &titles, &mut self.tab);
                actions.extend(bar);
            });
        } else {
            egui::Panel::left("controls")
                .resizable(true)
                .default_size(270.0)
                .min_size(240.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        actions.extend(self.controls.ui(ui, &self.settings, &self.session));
                    });
                });
        }
        if !self.session.messages.is_empty() {
            egui::Panel::top("messages").show(ui, |ui| {
                actions.extend(messages_ui(ui, &self.session.messages))
            });
        }
        actions.extend(self.lesson.as_ref().and_then(|l| l.banner(ui)));
        let loss_height = if self.presentation.on {
            // The class looks at the latent spaces; the losses stay a strip, but one
            // whose plots still have their numbers.
            (ui.available_height() * 0.3).clamp(150.0, theme::LOSS_PLOT_HEIGHT)
        } else {
            (ui.available_height() * theme::LOSS_PLOT_SHARE)
                .clamp(theme::LOSS_PLOT_MIN, theme::LOSS_PLOT_HEIGHT)
        };
        if !self.presentation.on || self.presentation.show_losses || self.step_names("losses") {
            egui::Panel::bottom("losses")
                .resizable(false)
                .show(ui, |ui| {
                    let steps_per_epoch = self.session.batches_per_epoch;
                    self.losses.marker_step = self.timeline_bar.shown().map(|s| s.step as f64);
                    // Room at the right for the last step's label under the x axis.
                    let margin = egui::Margin {
                        right: 16,
                        ..Default::default()
                    };
                    egui::Frame::NONE.inner_margin(margin).show(ui, |ui| {
                        self.losses
                            .ui(ui, &self.session.history, loss_height, steps_per_epoch);
                    });
                    let shown = ui.min_rect();
                    self.rects.subject("losses", ui, shown);
                });
        }
        egui::CentralPanel::default_margins().show(ui, |ui| actions.extend(self.central_ui(ui)));
        if let Some(d) = &self.download
            && d.window(ui.ctx())
        {
            actions.push(Action::CancelDownload);
        }
        // Every request of this frame, in the order the user made them, in one place.
        for action in actions {
            self.apply(action);
        }
        self.frame_stats
            .record(started.elapsed().as_secs_f64() * 1000.0);
    }

    /// The keys (F5, PageDown, Space) work at once, without a click into the window first:
    /// while the new window lacks the focus, ask for it (a few times: the window must be
    /// shown before the display gives it).
    fn take_focus(&mut self, ctx: &egui::Context) {
        if self.focus_asked >= 30 {
            return;
        }
        if ctx.input(|i| i.viewport().focused) == Some(false) {
            self.focus_asked += 1;
            ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
            ctx.request_repaint_after(Duration::from_millis(200));
        } else if ctx.input(|i| i.viewport().focused) == Some(true) {
            self.focus_asked = 30;
        }
    }

    /// Does the lesson step shown name `subject`?
    pub fn step_names(&self, subject: &str) -> bool {
        self.lesson
            .as_ref()
            .is_some_and(|run| run.subjects().contains(&subject))
    }
}

/// An opened run whose models the worker is building, and the settings to go back to if
/// it refuses them.
struct Opening {
    settings_before: Settings,
    run: OpenedRun,
}

/// How the window starts (`latentlab [--threads N] [--presentation]`).
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Training threads (default: cores minus one).
    pub threads: Option<usize>,
    /// Start in presentation mode.
    pub presentation: bool,
    /// Start this lesson (already checked: `latentlab --lesson`).
    pub lesson: Option<Lesson>,
    /// Show this saved run (already checked: `latentlab --open`).
    pub run: Option<Box<LoadedRun>>,
}

/// Opens the window.
pub fn run(launch: Launch) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("LatentLab")
            .with_inner_size([1600.0, 1000.0])
            .with_min_inner_size([900.0, 600.0])
            .with_active(true),
        ..Default::default()
    };
    // eframe panics on a stored zoom it cannot use before the app exists: repair it first.
    let repaired =
        eframe::storage_dir("LatentLab").and_then(|d| super::startup::repair_saved_zoom(&d));
    eframe::run_native(
        "LatentLab",
        options,
        Box::new(move |cc| {
            let mut app = LatentLabApp::new(cc, &launch);
            if let Some(message) = repaired {
                app.session.notice(message);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}

impl LatentLabApp {
    /// Applies one action: the only place where the requests of panels and features
    /// reach the session, the settings and the dialogs.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Train => {
                self.session.start_when_ready = true;
                self.session.send(TrainCommand::Start);
            }
            Action::Pause => {
                self.session.start_when_ready = false;
                self.session.send(TrainCommand::Pause);
            }
            Action::Step => self.session.send(TrainCommand::Step),
            Action::Reset => self.session.reset(&self.settings),
            Action::ApplySettings(settings) => self.apply_settings(*settings),
            Action::SetLr(lr) => {
                self.settings.run.lr = lr;
                self.session.send(TrainCommand::SetLr(lr));
            }
            Action::SetKnob { key, value } => {
                self.settings.run.knobs.insert(key.clone(), value.clone());
                self.session.send(TrainCommand::SetKnob { key, value });
            }
            Action::ShuffleRecon => self.session.send(TrainCommand::ShuffleRecon),
            Action::SetGridK(k) => self.settings.grid_k = k,
            Action::OpenDialog(kind) => {
                if let Err(e) = self.dialog.open(kind, &self.egui_ctx) {
                    self.session.error(format!("{e:#}"));
                }
            }
            Action::Save(folder) => {
                let input = SaveInput {
                    session: &self.session,
                    settings: &self.settings,
                    timeline: &self.timeline_bar.timeline,
                };
                if let Err(e) = self.runs.save(folder, input) {
                    self.session.error(e);
                }
            }
            Action::OpenRun(dir) | Action::LessonOpenRun(dir) => self.open_run(&dir),
            Action::DismissMessage(i) => {
                if i < self.session.messages.len() {
                    self.session.messages.remove(i);
                }
            }
            Action::Notice(text) => self.session.notice(text),
            Action::Error(text) => self.session.error(text),
            Action::OfferDataset(spec) => self.controls.offer_dataset(&spec),
            Action::Present(on) => self.presentation.set(&self.egui_ctx, on),
            Action::SetPresentationScale(scale) => {
                self.presentation.set_scale(&self.egui_ctx, scale)
            }
            Action::DrawFromFile(path) => self.draw_from_file(&path),
            Action::SelectTab(title) => self.select_tab(&title),
            Action::Highlight(h) => {
                if h.view == Some(crate::explore::projection::Projection::Pca) {
                    self.selection.plane = super::selection::Plane::Pca;
                }
                self.views.iter_mut().for_each(|v| v.highlight(&h));
            }
            Action::StartLesson(lesson) => self.start_lesson(*lesson),
            Action::LessonStep(i) => self.lesson_step(i),
            Action::EndLesson => {
                self.lesson = None;
                self.presentation.lesson_models = false;
            }
            Action::OpenLessonFile(path) => match lessons::open_file(&path) {
                Ok(lesson) => self.start_lesson(lesson),
                Err(e) => self.session.error(e.to_string()),
            },
            Action::ExportGif(path) => {
                let ds = self.session.data.clone();
                if let Some(a) = self.timeline_bar.export_gif(path, ds, &self.egui_ctx) {
                    self.apply(a);
                }
            }
            Action::ExportPng(path) => self.png_export.start(path, &self.egui_ctx),
            Action::Download(set) => match FetchOptions::new(set, None) {
                Ok(opts) => self.start_download(set, opts),
                Err(e) => self.session.error(format!("{}: {e}", set.title())),
            },
            Action::CancelDownload => {
                if let Some(d) = &self.download {
                    d.cancel();
                }
            }
        }
    }

    /// Fetches `set` with `opts` on its own thread; one download at a time.
    pub fn start_download(&mut self, set: RemoteSet, opts: FetchOptions) {
        if let Some(d) = &self.download {
            self.session.notice(format!(
                "{} is still downloading; cancel it first",
                d.set.title()
            ));
            return;
        }
        match Download::start(set, opts, Some(self.egui_ctx.clone())) {
            Ok(d) => self.download = Some(d),
            Err(e) => self
                .session
                .error(format!("cannot start downloading {}: {e}", set.title())),
        }
    }

    /// An image file as the drawn item, and the "Draw & inspect" tab to see it.
    fn draw_from_file(&mut self, path: &Path) {
        let Some(shape) = self
            .session
            .data
            .as_ref()
            .map(|d| d.shape)
            .filter(|s| s.is_image())
        else {
            self.session.error(format!(
                "{}: only image data sets take a dropped image",
                path.display()
            ));
            return;
        };
        // Made the data set's shape (its side, grey or colour), as its items were.
        match crate::data::load_image_as(path, shape) {
            Ok(x) => {
                self.selection.drawn = Some(x);
                if let Some(i) = self
                    .views
                    .iter()
                    .position(|v| v.title() == "Draw & inspect")
                {
                    self.tab = i;
                }
            }
            Err(e) => self.session.error(e.to_string()),
        }
    }

    /// New settings after the user confirmed: reload the data if it changed, else reset.
    /// Like Reset, the new models train or wait as the user last chose.
    fn apply_settings(&mut self, settings: Settings) {
        let data_changed = settings.run.dataset != self.settings.run.dataset
            || settings.run.seed != self.settings.run.seed;
        self.settings = settings;
        if data_changed || self.session.data.is_none() {
            self.session
                .load(&self.settings.run.dataset, self.settings.run.seed);
        } else {
            self.session.reset(&self.settings);
        }
    }

    /// "Open run…": checks the run now, loads its data set in the background, and shows
    /// it when that arrives. A run that cannot be opened says why and changes nothing.
    fn open_run(&mut self, dir: &Path) {
        let start_before = self.session.start_when_ready;
        match self.runs.open(dir, start_before, self.session.repaint()) {
            // An opened run waits for Train (a lesson step may say Train after this).
            Ok(()) => self.session.start_when_ready = false,
            Err(e) => self.session.error(e),
        }
    }

    /// A save or an open that finished in the background.
    fn run_event(&mut self, event: RunEvent) {
        match event {
            RunEvent::Staged(save, generation) => {
                if generation != self.session.generation {
                    save.staging.abandon();
                    self.session
                        .error("not saved: the models were rebuilt while saving; save again");
                    return;
                }
                let staging = save.staging.clone();
                let sent = self
                    .session
                    .trainer
                    .as_ref()
                    .is_some_and(|t| t.send(TrainCommand::SaveRun(save)));
                if !sent {
                    staging.abandon();
                    self.session
                        .error("not saved: the training thread is not answering");
                }
            }
            RunEvent::Opened(loaded) => self.show_run(*loaded),
            RunEvent::OpenFailed {
                error,
                start_before,
            } => {
                self.session.start_when_ready = start_before;
                self.session.error(error);
            }
            RunEvent::Error(e) => self.session.error(e),
        }
    }

    /// Puts an opened run in the window: its settings, data set, models (from their saved
    /// weights, at their saved step) and loss history. Train continues from there. The
    /// worker reads the checkpoints again when it builds the models: until it has (see
    /// [`Self::take_answer`]) the run is not marked opened, and if it refuses them the
    /// window goes back to the settings and models it had.
    pub fn show_run(&mut self, loaded: LoadedRun) {
        let LoadedRun { run, data } = loaded;
        let before = self.settings.clone();
        self.settings = runs::settings_of(&run, self.settings.grid_k);
        self.controls.draft = self.settings.clone();
        self.session.restore_history = Some(runs::rows_history(&run.losses));
        self.session
            .reset_tentatively(&self.settings, data, run.start_from());
        self.opening = Some(Opening {
            settings_before: before,
            run,
        });
        self.take_answer();
    }

    /// The worker's answer to an opened run's models: taken, the run is in (its timeline,
    /// the note, the lesson step's other keys); refused, the settings go back to what the
    /// models it kept were built from.
    fn take_answer(&mut self) {
        let Some(answer) = self.session.take_answer() else {
            return;
        };
        let Some(Opening {
            settings_before,
            run,
        }) = self.opening.take()
        else {
            return;
        };
        match answer {
            Answer::Taken => {
                match runs::saved_timeline(&run.extra) {
                    Ok(Some(t)) => self.timeline_bar.restore(t),
                    Ok(None) => {}
                    Err(note) => self.session.notice(note),
                }
                self.session.notice(runs::opened_note(&run));
                self.runs.opened = Some(run.dir.clone());
                self.lesson_step_after_open(&run.dir);
            }
            Answer::Refused => {
                self.settings = settings_before;
                self.controls.draft = self.settings.clone();
            }
        }
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
        for action in lesson_run::setup_actions(&setup, &self.settings) {
            self.apply(action);
        }
        self.controls.draft = self.settings.clone();
    }

    /// Starts `lesson` at its first step, or says why it cannot run here.
    fn start_lesson(&mut self, mut lesson: Lesson) {
        if let Err(e) = lesson.check_tabs(&self.tab_titles()) {
            self.session.error(e.to_string());
            return;
        }
        self.lesson = Some(LessonRun { lesson, step: 0 });
        self.presentation.lesson_models = true;
        self.lesson_step(0);
    }

    /// Shows step `i` (clamped) of the running lesson and sets the app up for it.
    fn lesson_step(&mut self, i: usize) {
        let Some(run) = &mut self.lesson else {
            return;
        };
        run.step = i.min(run.lesson.steps.len().saturating_sub(1));
        let setup = run.lesson.setup(run.step);
        for action in lesson_run::setup_actions(&setup, &self.settings) {
            self.apply(action);
        }
        // The side panel shows what the lesson set, and does not send its old values back.
        self.controls.draft = self.settings.clone();
    }

    /// Shows the tab called `title` (any case); says so if there is none.
    fn select_tab(&mut self, title: &str) {
        match self
            .views
            .iter()
            .position(|v| v.title().eq_ignore_ascii_case(title))
        {
            Some(i) => self.tab = i,
            None => self.session.notice(format!("there is no tab '{title}'")),
        }
    }
}
