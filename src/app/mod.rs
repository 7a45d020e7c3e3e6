//! The egui window: controls on the left, losses at the bottom, and one tab per view,
//! the latent spaces side by side first. Owns the UI state and the training session;
//! drains worker events in `logic`, draws in `ui`.
//!
//! Every tab is a [`View`]: it draws from a [`ViewCtx`] (snapshot, data, the shared
//! [`Selection`], read-only settings) and returns [`Action`]s, which [`LatentLabApp::apply`]
//! runs after the frame. The side panel returns actions too. A new tab is one file plus
//! one line in `tabs!` below.

mod actions;
mod controls;
mod dialog;
mod download;
mod export;
pub mod fit;
mod history;
mod items;
mod knobs;
pub mod lesson_check;
mod lesson_run;
mod losses;
mod presentation;
pub mod render;
mod runs;
mod scatter;
mod selection;
mod session;
mod settings;
mod startup;
mod theme;
mod ticks;
mod timeline_bar;
mod view;

#[cfg(test)]
mod tests;

pub use actions::Action;
pub use controls::Controls;
pub use dialog::OpenKind;
pub use download::{Download, DownloadEnd, DownloadProgress};
pub use history::{Curve, LossHistory};
pub use lesson_run::{LessonRun, load_lesson, tab_titles};
pub use presentation::Presentation;
pub use runs::{LoadedRun, load_run};
pub use selection::{Plane, Probe, Selection};
pub use session::{Message, Session, Status};
pub use settings::Settings;
pub use startup::repair_saved_zoom;
pub use timeline_bar::TimelineBar;
pub use view::{ScreenRects, View, ViewCtx};

use crate::data::Sizes;
use dialog::{DialogAnswer, FileDialog};
use egui::{RichText, Ui};
use std::time::{Duration, Instant};

/// Declares each tab's module and registers its panel, in tab order. A new tab is one
/// file holding a `Default + View` struct, plus one line in the list below.
macro_rules! tabs {
    ($($module:ident :: $panel:ident),* $(,)?) => {
        $(mod $module;)*

        /// A fresh panel for every tab, in tab order.
        fn tabs() -> Vec<Box<dyn View>> {
            vec![$(Box::new($module::$panel::default())),*]
        }
    };
}

tabs! {
    latent::LatentPanel,
    grid::GridPanel,
    sliders::SlidersPanel,
    recon::ReconPanel,
    samples::SamplesPanel,
    interp::InterpPanel,
    kl_dims::KlDimsPanel,
    draw::DrawPanel,
    lesson_list::LessonListPanel,
}

/// Frame-time statistics, printed to stderr when `LATENTLAB_FRAME_STATS` is set.
#[derive(Default)]
struct FrameStats {
    enabled: bool,
    since: Option<Instant>,
    times: Vec<f64>,
}

impl FrameStats {
    fn record(&mut self, ms: f64) {
        if !self.enabled {
            return;
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        self.times.push(ms);
        if since.elapsed() >= Duration::from_secs(60) {
            self.times.sort_by(f64::total_cmp);
            let at = |q: f64| {
                let i = ((self.times.len() - 1) as f64 * q).round() as usize;
                self.times.get(i).copied().unwrap_or(0.0)
            };
            let (median, p99, worst) = (at(0.5), at(0.99), at(1.0));
            eprintln!(
                "frame stats over 60 s: {} frames, median {median:.2} ms, p99 {p99:.2} ms, worst {worst:.2} ms",
                self.times.len()
            );
            self.times.clear();
            self.since = Some(Instant::now());
        }
    }
}

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
    pub losses: losses::LossesPanel,
    /// Presentation mode, and which models the tabs show.
    pub presentation: Presentation,
    /// The lesson being taught, if any.
    pub lesson: Option<LessonRun>,
    /// A data set being downloaded ("Download MNIST…"), if any.
    pub download: Option<Download>,
    /// Saved runs: one being opened, the last one opened.
    pub runs: runs::Runs,
    /// The snapshots so far and the moment the tabs show.
    pub timeline_bar: TimelineBar,
    /// "Export PNG…" of the current tab.
    pub png_export: export::PngExport,
    dialog: FileDialog,
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
            views: tabs(),
            tab: 0,
            selection: Selection::default(),
            rects: ScreenRects::default(),
            losses: losses::LossesPanel::default(),
            presentation: Presentation::default(),
            lesson: None,
            download: None,
            runs: runs::Runs::default(),
            timeline_bar: TimelineBar::default(),
            png_export: export::PngExport::default(),
            dialog: FileDialog::default(),
            egui_ctx: ctx.clone(),
            last_step_seen: None,
            focus_asked: 0,
            frame_stats: FrameStats {
                enabled: std::env::var_os("LATENTLAB_FRAME_STATS").is_some(),
                ..FrameStats::default()
            },
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
        self.drain_timeline();
        self.poll_png_export();
        self.poll_dialog();
        self.poll_download();
        self.poll_open();
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
    fn poll_dialog(&mut self) {
        match self.dialog.poll() {
            Some(DialogAnswer::Picked(OpenKind::SaveTo, folder)) => {
                self.apply(Action::Save(folder))
            }
            Some(DialogAnswer::Picked(OpenKind::Lesson, file)) => {
                self.apply(Action::OpenLessonFile(file))
            }
            Some(DialogAnswer::Picked(OpenKind::Run, dir)) => self.apply(Action::OpenRun(dir)),
            Some(DialogAnswer::Unavailable(OpenKind::Run)) => self.controls.ask_run_folder(),
            Some(DialogAnswer::Picked(OpenKind::SaveGif, file)) => {
                self.apply(Action::ExportGif(file))
            }
            Some(DialogAnswer::Picked(OpenKind::SavePng, file)) => {
                self.apply(Action::ExportPng(file))
            }
            Some(DialogAnswer::Picked(kind, path)) => self.controls.open_path(kind, &path),
            Some(DialogAnswer::Unavailable(OpenKind::SaveTo)) => self.controls.ask_save_folder(),
            Some(DialogAnswer::Unavailable(k @ (OpenKind::SaveGif | OpenKind::SavePng))) => {
                self.timeline_bar.ask_path(k)
            }
            Some(DialogAnswer::Unavailable(_)) => self.apply(Action::Notice(format!(
                "No file dialog is available here; type the path under \"or type\" instead \
                 ({}).",
                crate::data::sources::path_forms()
            ))),
            Some(DialogAnswer::Cancelled) | None => {}
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
        let (Some(full), Some(ds)) = (self.shown_snapshot(), self.session.data.clone()) else {
            waiting_ui(ui, self.session.is_loading());
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

/// An image file dropped on the window becomes the drawn item.
fn dropped_image(ui: &Ui) -> Option<Action> {
    let path = ui.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()))?;
    Some(Action::DrawFromFile(path))
}

/// The tab's one-line explanation, opening onto the longer one.
fn about_ui(ui: &mut Ui, view: &dyn View) {
    let (line, text) = view.about();
    egui::CollapsingHeader::new(RichText::new(line).strong())
        .id_salt(("about", view.title()))
        .default_open(false)
        .show(ui, |ui| ui.label(text));
}

/// A spinner while there is nothing to show yet.
fn waiting_ui(ui: &mut Ui, loading: bool) {
    ui.vertical_centered(|ui| {
        ui.add_space(80.0);
        ui.spinner();
        ui.label(if loading {
            "Loading the data set…"
        } else {
            "Building the models…"
        });
    });
}

/// The messages (newest first, at most three, a line each); returns a dismissal when one
/// is clicked.
fn messages_ui(ui: &mut Ui, messages: &[Message]) -> Option<Action> {
    let mut dismiss = None;
    for (i, m) in messages.iter().enumerate().rev().take(3) {
        let color = if m.is_error {
            theme::ERROR
        } else {
            theme::WARNING
        };
        // One line each, so three messages never push the tabs down far; a cut text shows
        // whole on hover.
        ui.spacing_mut().item_spacing.y = 2.0;
        ui.horizontal(|ui| {
            let kind = if m.is_error { "Error:" } else { "Note:" };
            ui.label(RichText::new(kind).color(color).strong());
            if ui.small_button("dismiss").clicked() {
                dismiss = Some(Action::DismissMessage(i));
            }
            ui.add(egui::Label::new(RichText::new(&m.text).color(color)).truncate());
        });
    }
    dismiss
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
        actions.extend(self.lesson_keys(ui));
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
        self.lesson_banner(ui, &mut actions);
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

/// How the window starts (`latentlab [--threads N] [--presentation]`).
#[derive(Clone, Debug, Default)]
pub struct Launch {
    /// Training threads (default: cores minus one).
    pub threads: Option<usize>,
    /// Start in presentation mode.
    pub presentation: bool,
    /// Start this lesson (already checked: `latentlab --lesson`).
    pub lesson: Option<crate::lessons::Lesson>,
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
    let repaired = eframe::storage_dir("LatentLab").and_then(|d| startup::repair_saved_zoom(&d));
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
