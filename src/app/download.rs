//! "Download MNIST…" in the window: `data::fetch` on its own thread, with a progress bar and
//! a Cancel button in a small window; the UI only reads what the thread last reported.

use super::actions::Action;
use crate::data::fetch::{self, FetchError, FetchOptions, Fetched, RemoteSet};
use crossbeam_channel::{Receiver, bounded};
use egui::RichText;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the download thread last reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DownloadProgress {
    /// The file being fetched.
    pub file: String,
    /// Its position among the files (0-based) and how many there are.
    pub index: usize,
    /// How many files there are.
    pub count: usize,
    /// Bytes of this file so far.
    pub done: u64,
    /// Its size, if the server said.
    pub total: Option<u64>,
}

impl DownloadProgress {
    /// The fraction of the whole download done, counting each file as an equal part.
    pub fn fraction(&self) -> f32 {
        let count = self.count.max(1) as f32;
        let within = match self.total {
            Some(t) if t > 0 => (self.done as f32 / t as f32).min(1.0),
            _ => 0.0,
        };
        ((self.index as f32 + within) / count).clamp(0.0, 1.0)
    }
}

/// A download in progress.
pub struct Download {
    /// The data set being downloaded.
    pub set: RemoteSet,
    progress: Arc<Mutex<DownloadProgress>>,
    cancel: Arc<AtomicBool>,
    done: Receiver<Result<Fetched, FetchError>>,
}

/// How the user's download ended.
#[derive(Debug)]
pub enum DownloadEnd {
    /// All files are in the cache, verified.
    Ready(RemoteSet, Fetched),
    /// It failed or was cancelled; the message says which and why.
    Failed(RemoteSet, FetchError),
}

impl DownloadEnd {
    /// What the window says once a download has ended: the data set offered (the
    /// settings dialog asks before the models are rebuilt), or why there is none.
    pub fn actions(self) -> Vec<Action> {
        match self {
            DownloadEnd::Ready(set, fetched) => vec![
                Action::Notice(format!(
                    "{} downloaded and checked, in {}",
                    set.title(),
                    fetched.dir.display()
                )),
                Action::OfferDataset(set.name().to_string()),
            ],
            DownloadEnd::Failed(set, FetchError::Cancelled) => vec![Action::Notice(format!(
                "download of {} cancelled; nothing partial kept",
                set.title()
            ))],
            DownloadEnd::Failed(set, e) => {
                vec![Action::Error(format!("downloading {}: {e}", set.title()))]
            }
        }
    }
}

impl Download {
    /// Starts fetching `set` with `opts` on a new thread; `ctx` repaints on progress.
    pub fn start(
        set: RemoteSet,
        opts: FetchOptions,
        ctx: Option<egui::Context>,
    ) -> std::io::Result<Self> {
        let progress = Arc::new(Mutex::new(DownloadProgress::default()));
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, done) = bounded(1);
        let (p, c) = (progress.clone(), cancel.clone());
        std::thread::Builder::new()
            .name("latentlab-download".into())
            .spawn(move || {
                let mut report = |f: fetch::FetchProgress<'_>| {
                    if let Ok(mut p) = p.lock() {
                        *p = DownloadProgress {
                            file: f.file.to_string(),
                            index: f.index,
                            count: f.count,
                            done: f.done,
                            total: f.total,
                        };
                    }
                    if let Some(ctx) = &ctx {
                        ctx.request_repaint();
                    }
                };
                let result = fetch::fetch(set, &opts, &mut report, &c);
                tx.send(result).ok();
                if let Some(ctx) = &ctx {
                    ctx.request_repaint();
                }
            })?;
        Ok(Self {
            set,
            progress,
            cancel,
            done,
        })
    }

    /// What the thread last reported.
    pub fn progress(&self) -> DownloadProgress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Asks the thread to stop at its next chunk; nothing partial is kept.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// True once Cancel was pressed.
    pub fn cancelling(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// How it ended, once it has.
    pub fn poll(&self) -> Option<DownloadEnd> {
        let result = self.done.try_recv().ok()?;
        Some(match result {
            Ok(fetched) => DownloadEnd::Ready(self.set, fetched),
            Err(e) => DownloadEnd::Failed(self.set, e),
        })
    }

    /// The progress window; true when the user pressed Cancel.
    pub fn window(&self, ctx: &egui::Context) -> bool {
        let p = self.progress();
        let mut cancel = false;
        egui::Window::new(format!("Downloading {}", self.set.title()))
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(ctx, |ui| {
                let file = if p.file.is_empty() {
                    "connecting…".to_string()
                } else {
                    format!("file {} of {}: {}", p.index + 1, p.count, p.file)
                };
                ui.label(file);
                let bytes = match p.total {
                    Some(t) => format!("{:.1} of {:.1} MB", mb(p.done), mb(t)),
                    None => format!("{:.1} MB", mb(p.done)),
                };
                ui.add(
                    egui::ProgressBar::new(p.fraction())
                        .desired_width(320.0)
                        .show_percentage(),
                );
                ui.label(RichText::new(bytes).small());
                if self.cancelling() {
                    ui.label("cancelling…");
                } else if ui.button("Cancel").clicked() {
                    cancel = true;
                }
            });
        cancel
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The downloadable sets, each with whether it is in the cache already.
pub fn remote_sets() -> Vec<(RemoteSet, bool)> {
    let root = fetch::cache_root(None).ok();
    RemoteSet::ALL
        .into_iter()
        .map(|s| (s, root.as_ref().is_some_and(|r| fetch::is_cached(r, s))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fraction_counts_each_file_as_a_quarter() {
        let mut p = DownloadProgress {
            file: "x".into(),
            index: 0,
            count: 4,
            done: 0,
            total: Some(200),
        };
        assert_eq!(p.fraction(), 0.0);
        p.done = 100;
        assert_eq!(p.fraction(), 0.125);
        p.index = 3;
        p.done = 200;
        assert_eq!(p.fraction(), 1.0);
        p.total = None;
        assert_eq!(p.fraction(), 0.75);
    }

    #[test]
    fn an_unreachable_mirror_ends_in_a_message_and_leaves_nothing() {
        let cache = tempfile::tempdir().unwrap();
        // A port nobody listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut opts = FetchOptions::new(RemoteSet::Mnist, Some(cache.path())).unwrap();
        opts.mirrors = vec![format!("http://127.0.0.1:{port}/")];
        let d = Download::start(RemoteSet::Mnist, opts, None).unwrap();
        let start = std::time::Instant::now();
        let end = loop {
            if let Some(end) = d.poll() {
                break end;
            }
            assert!(start.elapsed().as_secs() < 60, "no answer");
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        match end {
            DownloadEnd::Failed(RemoteSet::Mnist, e) => {
                assert!(e.to_string().contains("127.0.0.1"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!fetch::is_cached(cache.path(), RemoteSet::Mnist));
        let left: Vec<_> = std::fs::read_dir(fetch::set_dir(cache.path(), RemoteSet::Mnist))
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
