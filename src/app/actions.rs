//! Everything a panel can ask of the app, and the one place where it happens: panels
//! return [`Action`]s while drawing, and [`LatentLabApp::apply`] runs them after the frame.

use super::LatentLabApp;
use super::dialog::OpenKind;
use super::settings::Settings;
use crate::data::fetch::{FetchOptions, RemoteSet};
use crate::lessons::{Highlight, Lesson};
use crate::model::KnobValue;
use crate::train::TrainCommand;
use std::path::PathBuf;

/// A request from a panel to the app.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start (or resume) training, now and whenever new models are ready.
    Train,
    /// Pause training.
    Pause,
    /// One training step.
    Step,
    /// New models with the current settings; they train if the user's last choice was
    /// Train, and wait if it was Pause.
    Reset,
    /// Take these settings and start again: reload the data if it changed, else reset.
    ApplySettings(Box<Settings>),
    /// Set the learning rate of every model now.
    SetLr(f64),
    /// Set a live knob of every model whose kind has it, now.
    SetKnob {
        /// The knob's key in the kind table.
        key: String,
        /// Its new value.
        value: KnobValue,
    },
    /// Pick new test items to reconstruct.
    ShuffleRecon,
    /// Set the side of the latent grid.
    SetGridK(usize),
    /// Open a file dialog on its own thread; its answer arrives in a later frame.
    OpenDialog(OpenKind),
    /// Save the run into a folder (new or empty).
    Save(PathBuf),
    /// Open the saved run in this folder.
    OpenRun(PathBuf),
    /// Remove message `i` (an index into the session's messages).
    DismissMessage(usize),
    /// Show a notice.
    Notice(String),
    /// Turn presentation mode on or off.
    Present(bool),
    /// Set the zoom of presentation mode.
    SetPresentationScale(f32),
    /// Load an image file as the drawn item (any size or colour, made 28×28 gray).
    DrawFromFile(PathBuf),
    /// Show the tab with this title (any case).
    SelectTab(String),
    /// What the latent scatters highlight (a lesson step sets it).
    Highlight(Box<Highlight>),
    /// Start a lesson at its first step.
    StartLesson(Box<Lesson>),
    /// Go to step `i` of the running lesson and set the app up for it.
    LessonStep(usize),
    /// End the running lesson (the app stays as it is).
    EndLesson,
    /// Read, check and start a lesson file.
    OpenLessonFile(PathBuf),
    /// Write the latent GIF of the timeline's chosen range to this file.
    ExportGif(PathBuf),
    /// Write the current tab as shown to this PNG file.
    ExportPng(PathBuf),
    /// Open the saved run a lesson step names (relative paths were resolved against the
    /// lesson file's folder when it was read).
    LessonOpenRun(PathBuf),
    /// Download MNIST, Fashion-MNIST or KMNIST into the cache, with a progress window.
    Download(RemoteSet),
    /// Stop the download in progress; nothing partial is kept.
    CancelDownload,
}

impl LatentLabApp {
    /// Applies one action: the only place where panels' requests reach the session,
    /// the settings and the dialogs.
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
            Action::OpenDialog(kind) => self
                .dialog
                .open(kind, &self.egui_ctx)
                .unwrap_or_else(|e| self.session.error(format!("{e:#}"))),
            Action::Save(folder) => self.save_run(folder),
            Action::OpenRun(dir) => self.open_run(&dir),
            Action::DismissMessage(i) => {
                if i < self.session.messages.len() {
                    self.session.messages.remove(i);
                }
            }
            Action::Notice(text) => self.session.notice(text),
            Action::Present(on) => self.presentation.set(&self.egui_ctx, on),
            Action::SetPresentationScale(scale) => {
                self.presentation.set_scale(&self.egui_ctx, scale)
            }
            Action::DrawFromFile(path) => self.draw_from_file(&path),
            Action::SelectTab(title) => self.select_tab(&title),
            Action::Highlight(h) => self.views.iter_mut().for_each(|v| v.highlight(&h)),
            Action::StartLesson(lesson) => self.start_lesson(*lesson),
            Action::LessonStep(i) => self.lesson_step(i),
            Action::EndLesson => {
                self.lesson = None;
                self.presentation.lesson_models = false;
            }
            Action::OpenLessonFile(path) => self.open_lesson_file(&path),
            Action::ExportGif(path) => self.export_gif(path),
            Action::ExportPng(path) => self.png_export.start(path, &self.egui_ctx),
            Action::LessonOpenRun(path) => self.open_run(&path),
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
        match super::Download::start(set, opts, Some(self.egui_ctx.clone())) {
            Ok(d) => self.download = Some(d),
            Err(e) => self
                .session
                .error(format!("cannot start downloading {}: {e}", set.title())),
        }
    }

    /// A finished download: offer the data set (the settings dialog asks before the
    /// models are rebuilt), or say why there is none.
    pub(super) fn poll_download(&mut self) {
        let Some(end) = self.download.as_ref().and_then(|d| d.poll()) else {
            return;
        };
        self.download = None;
        match end {
            super::DownloadEnd::Ready(set, fetched) => {
                self.session.notice(format!(
                    "{} downloaded and checked, in {}",
                    set.title(),
                    fetched.dir.display()
                ));
                self.controls.offer_dataset(set.name());
            }
            super::DownloadEnd::Failed(set, crate::data::fetch::FetchError::Cancelled) => {
                self.session.notice(format!(
                    "download of {} cancelled; nothing partial kept",
                    set.title()
                ))
            }
            super::DownloadEnd::Failed(set, e) => self
                .session
                .error(format!("downloading {}: {e}", set.title())),
        }
    }

    /// An image file as the drawn item, and the "Draw & inspect" tab to see it.
    fn draw_from_file(&mut self, path: &std::path::Path) {
        let is_image = self.session.data.as_ref().is_some_and(|d| {
            d.shape
                == crate::data::ItemShape::Image {
                    width: crate::data::IMAGE_SIDE,
                    height: crate::data::IMAGE_SIDE,
                }
        });
        if !is_image {
            self.session.error(format!(
                "{}: only 28×28 image data sets take a drawn image",
                path.display()
            ));
            return;
        }
        match crate::data::load_image_item(path) {
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
}
