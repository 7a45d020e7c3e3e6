//! Native file dialogs on their own thread, so the window never waits on one.

use crate::data::sources::{self, Naming, Pick};
use anyhow::Context as _;
use crossbeam_channel::{Receiver, bounded};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a file dialog was opened for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenKind {
    /// The path of a data source read from files, by its prefix in the table
    /// (`data::sources::SOURCES`: "idx", "folder", "csv").
    Data(&'static str),
    /// A folder to save checkpoints into.
    SaveTo,
    /// A lesson file (Markdown) or a class bundle (`.latentlab`).
    Lesson,
    /// A saved run's folder to open.
    Run,
    /// A GIF file to write (the timeline's animation).
    SaveGif,
    /// A PNG file to write (a tab as shown).
    SavePng,
}

/// How an open dialog ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialogAnswer {
    /// The user picked a path.
    Picked(OpenKind, PathBuf),
    /// The user cancelled.
    Cancelled,
    /// It "cancelled" faster than a person could: this desktop has no file dialog.
    Unavailable(OpenKind),
}

/// At most one open dialog.
pub struct FileDialog {
    open: Option<(OpenKind, Receiver<Option<PathBuf>>, Instant)>,
    /// False once a dialog could not open: later requests are answered at once.
    pub(super) native: bool,
    answered: Option<DialogAnswer>,
}

impl Default for FileDialog {
    fn default() -> Self {
        Self {
            open: None,
            native: true,
            answered: None,
        }
    }
}

impl FileDialog {
    /// Opens a native dialog on its own thread; `ctx` is asked to repaint when it closes.
    /// Where none could open before, answers [`DialogAnswer::Unavailable`] at once. If its
    /// thread does not start, the error says so (for the user) and the answer is
    /// `Unavailable` too, so the window offers to type the path instead.
    pub fn open(&mut self, kind: OpenKind, ctx: &egui::Context) -> anyhow::Result<()> {
        self.open_with(kind, ctx, |name, body| {
            std::thread::Builder::new().name(name).spawn(body).map(drop)
        })
    }

    /// [`FileDialog::open`] with the thread started by `spawn` (tests make it fail).
    fn open_with(
        &mut self,
        kind: OpenKind,
        ctx: &egui::Context,
        spawn: impl FnOnce(String, Box<dyn FnOnce() + Send>) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        if !self.native {
            self.answered = Some(DialogAnswer::Unavailable(kind));
            ctx.request_repaint();
            return Ok(());
        }
        let (tx, rx) = bounded(1);
        let repaint = ctx.clone();
        let spawned = spawn(
            "latentlab-dialog".into(),
            Box::new(move || {
                let dialog = rfd::FileDialog::new();
                let picked = match kind {
                    OpenKind::Data(prefix) => {
                        match sources::with_prefix(prefix).map(|s| s.naming) {
                            Some(Naming::Prefix {
                                pick: Pick::File { filter, extensions },
                                ..
                            }) => dialog.add_filter(filter, extensions).pick_file(),
                            _ => dialog.pick_folder(),
                        }
                    }
                    OpenKind::Lesson => dialog
                        .add_filter("Lesson", &["md", "txt", "latentlab"])
                        .pick_file(),
                    OpenKind::SaveGif => dialog.set_file_name("latent.gif").save_file(),
                    OpenKind::SavePng => dialog.set_file_name("panel.png").save_file(),
                    _ => dialog.pick_folder(),
                };
                tx.send(picked).ok();
                repaint.request_repaint();
            }),
        );
        match spawned {
            Ok(()) => {
                self.open = Some((kind, rx, Instant::now()));
                Ok(())
            }
            Err(e) => {
                self.answered = Some(DialogAnswer::Unavailable(kind));
                ctx.request_repaint();
                Err(e).context("the file dialog could not open (its thread did not start)")
            }
        }
    }

    /// The answer of the open dialog, once it has closed.
    pub fn poll(&mut self) -> Option<DialogAnswer> {
        if let Some(answer) = self.answered.take() {
            return Some(answer);
        }
        let (kind, rx, opened) = self.open.as_ref()?;
        let picked = rx.try_recv().ok()?;
        let answer = match picked {
            Some(path) => DialogAnswer::Picked(*kind, path),
            None if opened.elapsed() < Duration::from_millis(300) => {
                self.native = false;
                DialogAnswer::Unavailable(*kind)
            }
            None => DialogAnswer::Cancelled,
        };
        self.open = None;
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dialog_thread_that_does_not_start_is_reported_and_offers_typing() {
        let ctx = egui::Context::default();
        let mut dialog = FileDialog::default();
        let failed = dialog.open_with(OpenKind::Run, &ctx, |_, _| {
            Err(std::io::Error::other("no threads left"))
        });
        let e = failed.unwrap_err();
        assert!(format!("{e:#}").contains("no threads left"), "{e:#}");
        assert!(e.to_string().contains("file dialog could not open"), "{e}");
        assert_eq!(
            dialog.poll(),
            Some(DialogAnswer::Unavailable(OpenKind::Run))
        );
        assert!(dialog.native, "a later request tries a dialog again");
    }
}
