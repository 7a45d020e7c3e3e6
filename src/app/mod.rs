//! The egui window: controls on the left, losses at the bottom, and one tab per view,
//! the latent spaces side by side first. Owns the UI state and the training session;
//! drains worker events in `logic`, draws in `ui`.

mod controls;
mod grid;
mod history;
mod interp;
mod items;
mod knobs;
mod latent;
mod losses;
mod recon;
mod samples;
mod scatter;
mod session;
mod settings;
mod sliders;
mod theme;

pub use controls::{Controls, OpenKind};
pub use history::{Curve, LossHistory};
pub use latent::{LatentPanel, View};
pub use session::{Message, Session, Status};
pub use settings::Settings;

use crate::data::Sizes;
use egui::{RichText, Ui};
use std::time::{Duration, Instant};

/// The views, one tab each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    /// Latent space per model, side by side.
    Latent,
    /// The decoded latent grid.
    Grid,
    /// One slider per z dimension.
    Sliders,
    /// Reconstructions of the same inputs.
    Recon,
    /// Samples from the prior.
    Samples,
    /// Interpolation between two codes.
    Interpolation,
}

impl Tab {
    /// Every tab in order.
    pub const ALL: [Tab; 6] = [
        Tab::Latent,
        Tab::Grid,
        Tab::Sliders,
        Tab::Recon,
        Tab::Samples,
        Tab::Interpolation,
    ];

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            Tab::Latent => "Latent space",
            Tab::Grid => "Latent grid",
            Tab::Sliders => "Sliders",
            Tab::Recon => "Reconstructions",
            Tab::Samples => "Samples",
            Tab::Interpolation => "Interpolation",
        }
    }
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
            let median = self.times[self.times.len() / 2];
            let worst = self.times.last().copied().unwrap_or(0.0);
            eprintln!(
                "frame stats over 60 s: {} frames, median {median:.2} ms, worst {worst:.2} ms",
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
    /// The selected tab.
    pub tab: Tab,
    /// Latent-space tab (also owns the probes the sliders move).
    pub latent: LatentPanel,
    grid: grid::GridPanel,
    sliders: sliders::SlidersPanel,
    recon: recon::ReconPanel,
    samples: samples::SamplesPanel,
    interp: interp::InterpPanel,
    /// The loss plot.
    pub losses: losses::LossesPanel,
    last_step_seen: Option<u64>,
    frame_stats: FrameStats,
}

impl LatentLabApp {
    /// The app as eframe starts it: settings from storage, training at once.
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        let settings = cc
            .storage
            .and_then(|s| eframe::get_value::<Settings>(s, settings::STORAGE_KEY))
            .unwrap_or_default();
        Self::with_settings(&cc.egui_ctx, settings, None)
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
            tab: Tab::Latent,
            latent: LatentPanel::default(),
            grid: grid::GridPanel::default(),
            sliders: sliders::SlidersPanel::default(),
            recon: recon::ReconPanel::default(),
            samples: samples::SamplesPanel::default(),
            interp: interp::InterpPanel::default(),
            losses: losses::LossesPanel::default(),
            last_step_seen: None,
            frame_stats: FrameStats {
                enabled: std::env::var_os("LATENTLAB_FRAME_STATS").is_some(),
                ..FrameStats::default()
            },
        }
    }

    /// Drains the worker without drawing: called before every frame.
    pub fn drain(&mut self) {
        let had_data = self.session.data.is_some();
        self.session.poll(&self.settings);
        if !had_data
            && self.session.data.is_none()
            && !self.session.is_loading()
            && self.settings.run.dataset != "digits"
        {
            // The remembered data set is gone: fall back to the built-in one.
            self.session.notice(format!(
                "falling back to the built-in digits (could not load {})",
                self.settings.run.dataset
            ));
            self.settings.run.dataset = "digits".into();
            self.controls.draft.run.dataset = "digits".into();
            self.session.load("digits", self.settings.run.seed);
        }
        // A load that failed leaves the models on the old data: show (and remember) that.
        if !self.session.is_loading()
            && let Some(d) = &self.session.data
            && d.name != self.settings.run.dataset
        {
            self.settings.run.dataset = d.name.clone();
            self.controls.draft.run.dataset = d.name.clone();
        }
        // A new run (step went backwards or snapshot cleared): forget per-model views.
        let step = self.session.snapshot.as_ref().map(|s| s.step);
        if step.is_some_and(|s| self.last_step_seen.is_some_and(|l| s < l))
            || (step.is_none() && self.last_step_seen.is_some())
        {
            self.latent.clear();
            self.grid.clear();
        }
        self.last_step_seen = step;
    }

    fn messages_ui(&mut self, ui: &mut Ui) {
        let mut dismiss = None;
        for (i, m) in self.session.messages.iter().enumerate().rev().take(3) {
            let color = if m.is_error {
                theme::ERROR
            } else {
                theme::WARNING
            };
            egui::Frame::new()
                .stroke(egui::Stroke::new(1.5, color))
                .inner_margin(6.0)
                .corner_radius(4.0)
                .show(ui, |ui| {
                    ui.horizontal(|ui| {
                        ui.label(
                            RichText::new(if m.is_error { "Error:" } else { "Note:" })
                                .color(color)
                                .strong(),
                        );
                        ui.label(RichText::new(&m.text).color(color));
                        if ui.small_button("dismiss").clicked() {
                            dismiss = Some(i);
                        }
                    });
                });
        }
        if let Some(i) = dismiss {
            self.session.messages.remove(i);
        }
    }

    /// Space starts and pauses training, unless a text field has the keyboard.
    fn shortcuts(&mut self, ui: &Ui) {
        let typing = ui.ctx().memory(|m| m.focused().is_some());
        if typing || !ui.input(|i| i.key_pressed(egui::Key::Space)) {
            return;
        }
        match self.session.status {
            Status::Running => {
                self.session.start_when_ready = false;
                self.session.send(crate::train::TrainCommand::Pause);
            }
            Status::Paused => {
                self.session.start_when_ready = true;
                self.session.send(crate::train::TrainCommand::Start);
            }
            _ => {}
        }
    }

    fn central_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            for tab in Tab::ALL {
                ui.selectable_value(&mut self.tab, tab, RichText::new(tab.title()).size(18.0));
            }
        });
        ui.separator();
        let (Some(snap), Some(ds)) = (self.session.snapshot.clone(), self.session.data.clone())
        else {
            ui.vertical_centered(|ui| {
                ui.add_space(80.0);
                ui.spinner();
                ui.label(if self.session.is_loading() {
                    "Loading the data set…"
                } else {
                    "Building the models…"
                });
            });
            return;
        };
        self.latent.prepare(&snap);
        match self.tab {
            Tab::Latent => self.latent.ui(ui, &snap, &ds),
            Tab::Grid => self
                .grid
                .ui(ui, &mut self.settings.grid_k, &snap, &ds, &self.latent),
            Tab::Sliders => self.sliders.ui(ui, &snap, &ds, &mut self.latent),
            Tab::Recon => {
                if let Some(cmd) = self.recon.ui(ui, &snap, &ds) {
                    self.session.send(cmd);
                }
            }
            Tab::Samples => self.samples.ui(ui, &snap, &ds),
            Tab::Interpolation => self.interp.ui(ui, &snap, &ds, self.latent.pinned),
        }
    }
}

impl eframe::App for LatentLabApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain();
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        self.shortcuts(ui);
        egui::Panel::left("controls")
            .resizable(true)
            .default_size(300.0)
            .min_size(260.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.controls.ui(ui, &mut self.settings, &mut self.session);
                });
            });
        if !self.session.messages.is_empty() {
            egui::Panel::top("messages").show(ui, |ui| self.messages_ui(ui));
        }
        egui::Panel::bottom("losses")
            .resizable(false)
            .show(ui, |ui| {
                self.losses
                    .ui(ui, &self.session.history, theme::LOSS_PLOT_HEIGHT);
            });
        egui::CentralPanel::default_margins().show(ui, |ui| self.central_ui(ui));
        self.frame_stats
            .record(started.elapsed().as_secs_f64() * 1000.0);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, settings::STORAGE_KEY, &self.settings);
    }
}

/// Opens the window on the remembered (or built-in) data set.
pub fn run() -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("LatentLab")
            .with_inner_size([1600.0, 1000.0])
            .with_min_inner_size([900.0, 600.0]),
        ..Default::default()
    };
    eframe::run_native(
        "LatentLab",
        options,
        Box::new(|cc| Ok(Box::new(LatentLabApp::new(cc)))),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}
