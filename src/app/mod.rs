//! The egui window: controls on the left, losses at the bottom, and one tab per view,
//! the latent spaces side by side first.
//!
//! The window is one object, [`LatentLabApp`] (`window.rs`): the shared state and
//! `apply`, the one place where [`Action`]s change it. Everything else is a panel (a tab,
//! `tabs.rs` lists them) or a feature (`controls`, `runs`, `timeline_bar`, `lesson_run`,
//! `download`, `export`, `presentation`) that owns its state and returns actions; none of
//! them sees the app. This file only declares the modules and names what the rest of the
//! crate uses.

mod actions;
mod bound;
mod chrome;
mod class_rows;
mod codebook;
mod controls;
mod decodes;
mod dialog;
mod download;
mod export;
pub mod fit;
mod frame_stats;
mod history;
mod items;
mod job_slot;
mod knobs;
pub mod lesson_check;
mod lesson_run;
mod losses;
mod presentation;
mod projections;
pub mod render;
mod runs;
mod selection;
mod session;
mod settings;
mod startup;
mod tabs;
mod theme;
mod ticks;
mod timeline_bar;
mod view;
mod window;

// The tabs, in the order `tabs::all` shows them.
mod draw;
mod grid;
mod interp;
mod kl_dims;
mod latent;
mod latent_layout;
mod lesson_list;
mod recon;
mod samples;
mod scatter;
mod sliders;
mod traversals;
mod unit_scores;

#[cfg(test)]
mod tests;

pub use actions::Action;
pub use controls::Controls;
pub use dialog::OpenKind;
pub use download::{Download, DownloadEnd, DownloadProgress};
pub use history::{Curve, LossHistory};
pub use lesson_run::{LessonRun, load_lesson};
pub use presentation::Presentation;
pub use runs::{LoadedRun, load_run};
pub use selection::{Plane, Probe, Selection};
pub use session::{Message, Session, Status};
pub use settings::Settings;
pub use startup::repair_saved_zoom;
pub use tabs::titles as tab_titles;
pub use timeline_bar::TimelineBar;
pub use view::{ScreenRects, View, ViewCtx};
pub use window::{LatentLabApp, Launch, run};
