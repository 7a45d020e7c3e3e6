//! Everything a panel or a feature can ask of the app: they return [`Action`]s while
//! drawing or polling, and the app's `apply` (in `window.rs`) runs them after the frame,
//! in one place.

use super::dialog::OpenKind;
use super::settings::Settings;
use crate::data::fetch::RemoteSet;
use crate::lessons::{Highlight, Lesson};
use crate::model::KnobValue;
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
    /// Show a notice (it goes after a while).
    Notice(String),
    /// Show an error (it stays until dismissed).
    Error(String),
    /// Offer this data set in the side panel (the settings dialog asks before the models
    /// are rebuilt).
    OfferDataset(String),
    /// Turn presentation mode on or off.
    Present(bool),
    /// Set the zoom of presentation mode.
    SetPresentationScale(f32),
    /// Load an image file as the drawn item (any size or colour, resized to the data set's items).
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
