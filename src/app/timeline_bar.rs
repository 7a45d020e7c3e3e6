//! The timeline under the tabs: a slider over the snapshots kept so far (the
//! [`Timeline`]), Play/Pause to replay the formation of the latent spaces at 1 to 8
//! frames-per-beat, "Live" to return to the present, and "Export GIF…" for the whole run
//! or a range. While scrubbed back, every tab draws the chosen frame's snapshot (its
//! codes, decoder and encoder) and the loss plots mark its step; training goes on.

use super::actions::Action;
use super::dialog::OpenKind;
use crate::data::Dataset;
use crate::report::{GifStats, latent_gif};
use crate::train::{Snapshot, Timeline};
use crossbeam_channel::{Receiver, bounded};
use egui::{RichText, Ui};
use std::path::PathBuf;
use std::sync::Arc;

/// Frames a replay shows per second at 1×.
const FRAMES_PER_SEC: f64 = 4.0;
/// Replay speeds offered.
const SPEEDS: [u32; 4] = [1, 2, 4, 8];

/// State of the timeline bar.
pub struct TimelineBar {
    /// The snapshots kept so far.
    pub timeline: Timeline,
    /// The step shown while scrubbed back; `None`: live (the newest snapshot).
    pub chosen: Option<u64>,
    /// True while replaying.
    pub playing: bool,
    /// Replay speed, 1 to 8.
    pub speed: u32,
    /// The GIF's range as steps (`None`: the first frame, or the newest).
    pub gif_range: (Option<u64>, Option<u64>),
    /// The file to write, typed by hand where no file dialog opens, and for what.
    typed: Option<(OpenKind, String)>,
    last_live: Option<Arc<Snapshot>>,
    play_clock: Option<f64>,
    export: Option<(PathBuf, Receiver<Result<GifStats, String>>)>,
    /// An opened run's timeline, taken in when that run's first snapshot arrives.
    restored: Option<Timeline>,
}

impl Default for TimelineBar {
    fn default() -> Self {
        Self {
            timeline: Timeline::default(),
            chosen: None,
            playing: false,
            speed: 2,
            gif_range: (None, None),
            typed: None,
            last_live: None,
            play_clock: None,
            export: None,
            restored: None,
        }
    }
}

impl TimelineBar {
    /// Takes the newest snapshot into the timeline (once each); none, or an earlier step,
    /// is a new run: the old frames go and the view returns to live.
    pub fn observe(&mut self, live: Option<&Arc<Snapshot>>) {
        let Some(live) = live else {
            if !self.timeline.is_empty() {
                self.timeline.clear();
                self.go_live();
                self.gif_range = (None, None);
            }
            self.last_live = None;
            return;
        };
        if self
            .last_live
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(l, live))
        {
            return;
        }
        if let Some(saved) = self.restored.take()
            && saved.frames().last().is_none_or(|f| f.step <= live.step)
        {
            // The opened run's first snapshot: its history comes first, and grows under
            // the window's limits (not the thin file's).
            let limits = (self.timeline.budget_bytes(), self.timeline.max_frames());
            self.timeline = saved.with_limits(limits.0, limits.1);
            self.go_live();
            self.gif_range = (None, None);
        }
        let newest = self.timeline.frames().last().map(|f| f.step);
        if newest.is_some_and(|s| live.step < s) {
            self.go_live();
            self.gif_range = (None, None);
        }
        self.timeline.push(live);
        self.last_live = Some(live.clone());
    }

    /// The timeline of a saved run being opened: it replaces this one when the run's
    /// first snapshot arrives (one from an earlier step means another run: it is dropped).
    pub fn restore(&mut self, saved: Timeline) {
        self.restored = Some(saved);
    }

    /// The frame shown while scrubbed back (`None` when live).
    pub fn shown(&self) -> Option<Arc<Snapshot>> {
        let i = self.timeline.nearest(self.chosen?)?;
        self.timeline.snapshot(i)
    }

    /// Back to the newest snapshot; a replay stops.
    pub fn go_live(&mut self) {
        self.chosen = None;
        self.playing = false;
        self.play_clock = None;
    }

    /// Offers a field to type the file to write (where no file dialog opens).
    pub fn ask_path(&mut self, kind: OpenKind) {
        self.typed = Some((kind, String::new()));
    }

    /// The index of the frame shown (the newest when live).
    fn index(&self) -> usize {
        let last = self.timeline.len().saturating_sub(1);
        self.chosen
            .and_then(|s| self.timeline.nearest(s))
            .unwrap_or(last)
    }

    /// Draws the bar; returns what the user asked of the app.
    pub fn ui(&mut self, ui: &mut Ui, steps_per_epoch: usize) -> Vec<Action> {
        let mut actions = Vec::new();
        self.advance_replay(ui);
        let n = self.timeline.len();
        ui.horizontal(|ui| {
            let title = ui.label(RichText::new("Timeline").strong()).on_hover_text(
                "scrub back through training: every tab shows the chosen moment (training \
                 goes on underneath); Live returns to the present",
            );
            if ui.selectable_label(self.chosen.is_none(), "Live").clicked() {
                self.go_live();
            }
            let play = if self.playing { "Pause replay" } else { "Play" };
            if ui.add_enabled(n > 1, egui::Button::new(play)).clicked() {
                self.toggle_play();
            }
            let speed = ui.label("speed");
            egui::ComboBox::from_id_salt("replay-speed")
                .selected_text(format!("{}×", self.speed))
                .width(48.0)
                .show_ui(ui, |ui| {
                    for s in SPEEDS {
                        ui.selectable_value(&mut self.speed, s, format!("{s}×"));
                    }
                })
                .response
                .labelled_by(speed.id);
            // Right to left: "Export GIF…" and the moment's text keep their width (the
            // text grows with a long run's step count) and the slider takes what is left.
            let moment = self.moment_text(steps_per_epoch);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                self.gif_menu_ui(ui, &mut actions);
                ui.label(moment);
                let mut i = self.index();
                let last = n.saturating_sub(1);
                ui.spacing_mut().slider_width =
                    (ui.available_width() - ui.spacing().item_spacing.x).max(60.0);
                let slider = egui::Slider::new(&mut i, 0..=last).show_value(false);
                let moved = ui.add_enabled(n > 1, slider).labelled_by(title.id);
                if moved.changed() {
                    self.playing = false;
                    self.chosen = (i < last).then(|| self.timeline.frames()[i].step);
                }
            });
        });
        self.typed_path_ui(ui, &mut actions);
        actions
    }

    /// Where the shown frame is, e.g. "step 1,200 · epoch 1.28 · frame 12 of 40 · live".
    fn moment_text(&self, steps_per_epoch: usize) -> String {
        let Some(f) = self.timeline.frames().get(self.index()) else {
            return "no snapshots yet".into();
        };
        let epochs = f.step as f64 / steps_per_epoch.max(1) as f64;
        let state = if self.chosen.is_none() {
            "live"
        } else if self.playing {
            "replaying"
        } else {
            "past"
        };
        format!(
            "step {} · {} · frame {} of {} · {state}",
            f.step,
            epoch_text(epochs),
            self.index() + 1,
            self.timeline.len()
        )
    }

    fn toggle_play(&mut self) {
        if self.playing {
            self.playing = false;
            return;
        }
        // From the present, a replay starts at the beginning.
        if self.chosen.is_none() {
            self.chosen = self.timeline.frames().first().map(|f| f.step);
        }
        self.playing = true;
        self.play_clock = None;
    }

    /// Moves a replay on by the frames due since the last move; at the newest frame it
    /// returns to live.
    fn advance_replay(&mut self, ui: &Ui) {
        if !self.playing {
            return;
        }
        let now = ui.input(|i| i.time);
        let rate = FRAMES_PER_SEC * f64::from(self.speed);
        let since = *self.play_clock.get_or_insert(now);
        let due = ((now - since) * rate).floor();
        if due >= 1.0 {
            self.play_clock = Some(since + due / rate);
            let next = self.index() + due as usize;
            match self.timeline.frames().get(next) {
                Some(f) if next + 1 < self.timeline.len() => self.chosen = Some(f.step),
                _ => self.go_live(),
            }
        }
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs_f64(1.0 / rate));
    }

    /// "Export GIF…": the range (whole run by default) and the button that asks for a file.
    fn gif_menu_ui(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let n = self.timeline.len();
        ui.add_enabled_ui(n > 0 && self.export.is_none(), |ui| {
            // The range sliders are clicked inside the menu: only a click outside closes it.
            let button =
                egui::containers::menu::MenuButton::new("Export GIF…").config(keep_open_on_click());
            button.ui(ui, |ui| {
                let steps: Vec<u64> = self.timeline.frames().iter().map(|f| f.step).collect();
                let last = n.saturating_sub(1);
                let at = |s: Option<u64>, default: usize| {
                    s.and_then(|s| self.timeline.nearest(s)).unwrap_or(default)
                };
                let (mut from, mut to) = (at(self.gif_range.0, 0), at(self.gif_range.1, last));
                ui.label("the latent spaces of every model, one frame per snapshot");
                ui.add(egui::Slider::new(&mut from, 0..=last).text("first frame"));
                ui.add(egui::Slider::new(&mut to, 0..=last).text("last frame"));
                to = to.max(from);
                ui.label(format!(
                    "steps {} to {}: {} frames",
                    steps.get(from).copied().unwrap_or(0),
                    steps.get(to).copied().unwrap_or(0),
                    to + 1 - from
                ));
                self.gif_range = (
                    steps.get(from).copied().filter(|_| from > 0),
                    steps.get(to).copied().filter(|_| to < last),
                );
                if ui.button("Whole run").clicked() {
                    self.gif_range = (None, None);
                }
                if ui.button("Write GIF…").clicked() {
                    actions.push(Action::OpenDialog(OpenKind::SaveGif));
                    ui.close();
                }
            });
        });
        if self.export.is_some() {
            ui.spinner();
            ui.label("writing the GIF…");
        }
    }

    /// The file to write, typed by hand, once a file dialog found none.
    fn typed_path_ui(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let Some((kind, path)) = &mut self.typed else {
            return;
        };
        let mut done = false;
        ui.horizontal(|ui| {
            let l = ui.label("no file dialog here: type the file to write");
            let hint = match kind {
                OpenKind::SavePng => "/home/me/slides/latent-space.png",
                _ => "/home/me/slides/latent.gif",
            };
            let edit = egui::TextEdit::singleline(path)
                .hint_text(hint)
                .desired_width(280.0);
            let edit = ui.add(edit).labelled_by(l.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let typed = !path.trim().is_empty();
            if (ui.add_enabled(typed, egui::Button::new("Write")).clicked() || enter) && typed {
                let file = PathBuf::from(path.trim());
                actions.push(match kind {
                    OpenKind::SavePng => Action::ExportPng(file),
                    _ => Action::ExportGif(file),
                });
                done = true;
            }
            done |= ui.small_button("Cancel").clicked();
        });
        if done {
            self.typed = None;
        }
    }

    /// Starts writing the GIF of the chosen range to `path` on its own thread; says why
    /// not where it cannot.
    pub fn export_gif(
        &mut self,
        path: PathBuf,
        ds: Option<Arc<Dataset>>,
        ctx: &egui::Context,
    ) -> Option<Action> {
        let Some(ds) = ds.filter(|_| !self.timeline.is_empty()) else {
            return Some(Action::Notice(
                "nothing to animate yet: no snapshots".into(),
            ));
        };
        let last = self.timeline.frames().last().map_or(0, |f| f.step);
        let (from, to) = (
            self.gif_range.0.unwrap_or(0),
            self.gif_range.1.unwrap_or(last),
        );
        let frames = self.timeline.light_between(from, to);
        let (tx, rx) = bounded(1);
        let (file, ctx) = (path.clone(), ctx.clone());
        let spawned = std::thread::Builder::new()
            .name("latentlab-gif".into())
            .spawn(move || {
                let written = latent_gif(&file, &frames, &ds, None).map_err(|e| e.to_string());
                tx.send(written).ok();
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.export = Some((path, rx));
                None
            }
            Err(e) => Some(Action::Error(format!(
                "could not write the GIF: cannot start writing: {e}"
            ))),
        }
    }

    /// Takes the newest snapshot into the timeline; reports a finished GIF export.
    pub fn drain(&mut self, live: Option<&Arc<Snapshot>>) -> Option<Action> {
        self.observe(live);
        let (path, rx) = self.export.as_ref()?;
        let written = rx.try_recv().ok()?;
        let path = path.display().to_string();
        self.export = None;
        Some(match written {
            Ok(g) => Action::Notice(format!(
                "wrote {path} ({} frames, {:.1} MB)",
                g.frames,
                g.bytes as f64 / 1e6
            )),
            Err(e) => Action::Error(format!("could not write the GIF: {e}")),
        })
    }
}

/// How far training is, in epochs done, e.g. "epoch 2.67": the one form the timeline and
/// the status both show.
pub(super) fn epoch_text(epochs_done: f64) -> String {
    format!("epoch {epochs_done:.2}")
}

/// A menu that stays open while its own widgets are clicked.
pub(super) fn keep_open_on_click() -> egui::containers::menu::MenuConfig {
    egui::containers::menu::MenuConfig::new()
        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside)
}
