//! t-SNE and UMAP pictures of each model's codes for the latent scatter: one
//! [`ProjectionJob`] per model on its own thread, polled once a frame (never waited for),
//! the last finished picture kept while the next one computes, and the rule for when the
//! codes have moved enough to compute again.

use super::theme;
use crate::explore::projection::{Projection, ProjectionJob, align_to, relative_change};
use crate::train::ModelSnapshot;
use egui::{Align, Label, Layout, ProgressBar, Rect, RichText, Ui, UiBuilder};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A new picture is computed when the codes have moved by more than this share of their
/// spread since the codes of the picture shown (RMS move over RMS distance from the mean,
/// [`relative_change`]). Measured on digits (20,000 training items, 2,000 display codes,
/// AE and VAE at latent dim 16, one training thread, a snapshot every 0.4 s): in the first
/// two seconds the codes move 0.6–1.4 of their spread between snapshots, in epochs 1–3
/// 0.15–0.35, and from epoch 4 on 0.07–0.09 (AE) and 0.12–0.17 (VAE) — as much over 3 s as
/// over 0.4 s, so that is the jitter of each step, not a drift. 0.25 redraws while the
/// picture changes and rests once only the jitter is left (slow drift adds up against the
/// codes of the picture shown, and redraws it now and then).
pub const MOVED_SHARE: f64 = 0.25;

/// The least time between the end of one job and the start of the next for the same plot,
/// so a training run keeps most of the machine and the picture does not flicker.
pub const MIN_GAP: Duration = Duration::from_secs(3);

/// What one plot shows of its projection, for drawing.
pub struct ProjectedView<'a> {
    /// The method.
    pub method: Projection,
    /// The last finished picture (one point per display item, in order), if any.
    pub points: Option<&'a [[f32; 2]]>,
    /// Progress of the job computing the next picture, per mille, while one runs.
    pub progress: Option<u32>,
    /// Why the last job gave no picture, if it failed.
    pub error: Option<&'a str>,
}

/// Every projected plot's job and picture, by model name.
#[derive(Default)]
pub struct Projections {
    by_model: HashMap<String, ModelProjection>,
}

/// One model's projection.
struct ModelProjection {
    method: Projection,
    running: Option<Running>,
    /// The last finished picture: one point per code of `ended_on`.
    shown: Option<Vec<[f32; 2]>>,
    error: Option<String>,
    /// When the last job ended (with a picture or an error), and the codes it was given.
    ended: Option<(Instant, Codes)>,
    /// The codes of the last update have moved enough from those of the picture shown to
    /// call for a new one (gap or not).
    behind: bool,
}

/// Codes as a job gets them: rows of `dim` values.
struct Codes {
    values: Vec<f32>,
    dim: usize,
}

/// A job and the codes it was started on.
struct Running {
    job: ProjectionJob,
    codes: Codes,
}

impl Projections {
    /// Polls `m`'s job, keeps a finished picture (turned to match the last one), and starts
    /// a new job when none runs and the codes have moved enough (see [`MOVED_SHARE`],
    /// [`MIN_GAP`]). Another `method` than before drops the old job and picture.
    pub fn update(&mut self, m: &ModelSnapshot, method: Projection, seed: u64, now: Instant) {
        self.update_codes(&m.name, &m.codes, m.latent_dim, method, seed, now);
    }

    /// [`Projections::update`] for the codes (rows of `dim`) of the model `name`.
    fn update_codes(
        &mut self,
        name: &str,
        codes: &[f32],
        dim: usize,
        method: Projection,
        seed: u64,
        now: Instant,
    ) {
        let entry = self
            .by_model
            .entry(name.to_string())
            .or_insert_with(|| ModelProjection::new(method));
        if entry.method != method {
            *entry = ModelProjection::new(method);
        }
        entry.poll(now);
        if entry.running.is_none() && entry.wants_new(codes, dim, now) {
            entry.start(codes, dim, seed, now);
        }
        entry.behind = entry.running.is_some() || entry.wants_new(codes, dim, now + MIN_GAP);
    }

    /// Forgets the models not in `keep` (their jobs are cancelled).
    pub fn retain(&mut self, keep: &[&str]) {
        self.by_model
            .retain(|name, _| keep.contains(&name.as_str()));
    }

    /// Forgets every job and picture (after a reset).
    pub fn clear(&mut self) {
        self.by_model.clear();
    }

    /// Whether any job is computing (the window then repaints to show its progress).
    pub fn any_running(&self) -> bool {
        self.by_model.values().any(|p| p.running.is_some())
    }

    /// Whether a picture is computing or due (its codes moved, the gap not yet over): a
    /// screenshot now would show an older picture than the codes call for.
    pub fn any_behind(&self) -> bool {
        self.by_model.values().any(|p| p.behind)
    }

    /// What `name`'s plot shows, if it is projected.
    pub fn view(&self, name: &str) -> Option<ProjectedView<'_>> {
        let p = self.by_model.get(name)?;
        Some(ProjectedView {
            method: p.method,
            points: p.shown.as_deref(),
            progress: p.running.as_ref().map(|r| r.job.progress_per_mille()),
            error: p.error.as_deref(),
        })
    }
}

impl ModelProjection {
    fn new(method: Projection) -> Self {
        Self {
            method,
            running: None,
            shown: None,
            error: None,
            ended: None,
            behind: true,
        }
    }

    /// Takes a finished job's result.
    fn poll(&mut self, now: Instant) {
        let Some(outcome) = self.running.as_mut().and_then(|r| r.job.try_result()) else {
            return;
        };
        let Some(Running { codes, .. }) = self.running.take() else {
            return;
        };
        match outcome {
            Ok(mut points) => {
                if let Some(last) = &self.shown {
                    align_to(&mut points, last);
                }
                self.shown = Some(points);
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
        self.ended = Some((now, codes));
    }

    /// Whether `m`'s codes call for a new picture: at once for the first, or for codes of
    /// other items (the old points would belong to others); otherwise once [`MIN_GAP`] has
    /// passed and the codes moved by more than [`MOVED_SHARE`] of their spread.
    fn wants_new(&self, values: &[f32], dim: usize, now: Instant) -> bool {
        let Some((at, codes)) = &self.ended else {
            return true;
        };
        let rested = now.saturating_duration_since(*at) >= MIN_GAP;
        let same_items = codes.dim == dim && codes.values.len() == values.len();
        if !same_items {
            // A failure is not retried in a loop: it waits its gap like any other.
            return self.error.is_none() || rested;
        }
        rested && relative_change(&codes.values, values, dim).is_none_or(|c| c > MOVED_SHARE)
    }

    fn start(&mut self, values: &[f32], dim: usize, seed: u64, now: Instant) {
        let codes = Codes {
            values: values.to_vec(),
            dim,
        };
        match ProjectionJob::start(codes.values.clone(), codes.dim, self.method, seed) {
            Ok(job) => self.running = Some(Running { job, codes }),
            Err(e) => {
                // No thread: say so, and wait the gap before trying again.
                self.error = Some(e.to_string());
                self.ended = Some((now, codes));
            }
        }
    }
}

/// What a t-SNE or UMAP plot writes over its points: that the probe cannot be dragged
/// there, how far the next picture is, and why there is none if it failed.
pub struct Overlay {
    method: Projection,
    progress: Option<u32>,
    error: Option<String>,
    has_points: bool,
}

impl Overlay {
    /// The overlay of a projected plot as it is now.
    pub fn of(view: &ProjectedView<'_>) -> Self {
        Self {
            method: view.method,
            progress: view.progress,
            error: view.error.map(str::to_string),
            has_points: view.points.is_some(),
        }
    }

    /// Draws it over the plot at `plot` (in a child of `ui` that takes no room in it).
    pub fn ui(&self, ui: &mut Ui, plot: Rect) {
        let title = self.method.title();
        let inner = plot.shrink(8.0);
        let mut top = ui.new_child(
            UiBuilder::new()
                .max_rect(inner)
                .layout(Layout::top_down(Align::Min)),
        );
        note_ui(&mut top, |ui| {
            ui.add(
                Label::new(
                    RichText::new(format!(
                        "{title} has no inverse: the probe cannot be dragged here. \
                         Click a dot to pin it."
                    ))
                    .size(14.0)
                    .color(ui.visuals().strong_text_color()),
                )
                .wrap(),
            );
        });
        if let Some(error) = &self.error {
            note_ui(&mut top, |ui| {
                ui.add(Label::new(RichText::new(error).color(theme::ERROR)).wrap());
            });
        }
        let Some(per_mille) = self.progress else {
            return;
        };
        // The first picture: a bar in the middle of the empty plot; later ones: a small
        // bar in a corner, over the picture being replaced.
        let (width, at) = if self.has_points {
            let w = (inner.width() * 0.45).clamp(60.0, 160.0);
            (w, inner.right_bottom() - egui::vec2(w, 22.0))
        } else {
            let w = (inner.width() * 0.7).clamp(60.0, 260.0);
            (w, inner.center() - egui::vec2(w / 2.0, 11.0))
        };
        let mut corner = ui.new_child(
            UiBuilder::new()
                .max_rect(Rect::from_min_size(at, egui::vec2(width, 22.0)))
                .layout(Layout::top_down(Align::Min)),
        );
        let percent = per_mille / 10;
        let text = format!("{title} {percent} %");
        corner.add(
            ProgressBar::new(per_mille as f32 / 1000.0)
                .desired_width(width)
                .text(text),
        );
    }
}

/// A few words on a dark backdrop, so they read over the points.
fn note_ui(ui: &mut Ui, add: impl FnOnce(&mut Ui)) {
    egui::Frame::new()
        .fill(theme::PLOT_NOTE_BACKDROP)
        .corner_radius(3.0)
        .inner_margin(egui::Margin::symmetric(5, 3))
        .show(ui, add);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 40 codes of 3 dimensions in two groups, shifted by `shift`.
    fn codes(shift: f32) -> Vec<f32> {
        (0..40)
            .flat_map(|i| {
                let group = if i < 20 { 0.0 } else { 5.0 };
                [
                    group + (i % 7) as f32 * 0.1 + shift,
                    (i % 5) as f32 * 0.2,
                    shift,
                ]
            })
            .collect()
    }

    /// Updates until the job of "m" has finished (real threads; time passes as `now`).
    fn finish(p: &mut Projections, codes: &[f32], now: Instant) {
        let started = Instant::now();
        while p.by_model["m"].running.is_some() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the job never ended"
            );
            std::thread::sleep(Duration::from_millis(5));
            p.update_codes("m", codes, 3, Projection::Umap, 1, now);
        }
    }

    #[test]
    fn a_new_picture_waits_for_the_gap_and_for_codes_that_moved() {
        let mut p = Projections::default();
        let t0 = Instant::now();
        let first = codes(0.0);
        p.update_codes("m", &first, 3, Projection::Umap, 1, t0);
        assert!(p.any_running(), "the first picture starts at once");
        let view = p.view("m").unwrap();
        assert!(view.points.is_none() && view.progress.is_some());
        finish(&mut p, &first, t0);
        assert_eq!(p.view("m").unwrap().points.map(<[_]>::len), Some(40));

        // The same codes, long after: nothing to do.
        p.update_codes("m", &first, 3, Projection::Umap, 1, t0 + 10 * MIN_GAP);
        assert!(
            !p.any_running(),
            "codes that did not move are not projected again"
        );
        // Codes that moved a little (about 1% of their spread): still nothing.
        let nudged: Vec<f32> = first.iter().map(|v| v * 1.01).collect();
        p.update_codes("m", &nudged, 3, Projection::Umap, 1, t0 + 10 * MIN_GAP);
        assert!(!p.any_running(), "a 1% move is not worth a picture");
        assert!(!p.any_behind(), "the picture shown is up to date");
        // Codes that moved far, but before the gap has passed: wait.
        let moved = codes(3.0);
        p.update_codes("m", &moved, 3, Projection::Umap, 1, t0 + MIN_GAP / 2);
        assert!(!p.any_running(), "within the gap after the last picture");
        assert!(
            p.any_behind(),
            "a picture is due: a screenshot must wait for it"
        );
        // After the gap: a new job, the old picture shown meanwhile.
        p.update_codes("m", &moved, 3, Projection::Umap, 1, t0 + MIN_GAP);
        assert!(p.any_running());
        assert!(
            p.view("m").unwrap().points.is_some(),
            "the last picture stays"
        );
        // Frames go on while it runs: never a second job.
        p.update_codes("m", &codes(9.0), 3, Projection::Umap, 1, t0 + 2 * MIN_GAP);
        assert!(p.any_running());

        // Another method drops the picture; other codes (count) start at once.
        p.update_codes("m", &moved, 3, Projection::Tsne, 1, t0 + 3 * MIN_GAP);
        let view = p.view("m").unwrap();
        assert_eq!(view.method, Projection::Tsne);
        assert!(view.points.is_none());
        p.retain(&[]);
        assert!(p.view("m").is_none() && !p.any_running());
    }
}
