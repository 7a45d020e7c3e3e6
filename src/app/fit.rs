//! Does a lesson step show what it points at? The app runs headless (a plain
//! `egui::Context`, no window, no renderer) at a given size in pixels, in normal or
//! presentation mode, step by step; after each step the subjects the step declares must
//! lie wholly inside what the screen shows, and nothing may be drawn past the window's right
//! or bottom edge. `latentlab lessons --check` and the lessons' window test both use it.

use super::actions::Action;
use super::settings::Settings;
use super::window::LatentLabApp;
use crate::data::Sizes;
use crate::lessons::Lesson;
use crate::lessons::subject::{Needs, subject};
use egui::{FullOutput, Pos2, Rect, Vec2};
use std::time::{Duration, Instant};

/// How far (points) a rectangle may poke out before it counts: anti-aliasing feathers and
/// frame strokes draw half a point outside their rectangles.
const SLACK: f32 = 1.5;

/// The app, run frame by frame without a window, as a screen of `size_px` pixels shows it.
pub struct Stage {
    /// The egui context the app draws into.
    pub ctx: egui::Context,
    /// The app.
    pub app: LatentLabApp,
    /// The window's inner size in pixels.
    pub size_px: Vec2,
    started: Instant,
}

impl Stage {
    /// The app with `settings` in a headless window of `size_px` pixels (at one pixel per
    /// point before any zoom, as a projector shows it); `sizes` caps built-in data sets.
    pub fn new(size_px: Vec2, settings: Settings, sizes: Option<Sizes>) -> Self {
        let ctx = egui::Context::default();
        let app = LatentLabApp::with_settings(&ctx, settings, sizes);
        Self {
            ctx,
            app,
            size_px,
            started: Instant::now(),
        }
    }

    /// The screen in points now (the zoom divides the pixels, as in a real window).
    pub fn screen(&self) -> Rect {
        Rect::from_min_size(Pos2::ZERO, self.size_px / self.ctx.zoom_factor())
    }

    /// Runs one frame (drain the worker, draw) and returns what egui made of it.
    pub fn frame(&mut self) -> FullOutput {
        let mut input = egui::RawInput {
            screen_rect: Some(self.screen()),
            time: Some(self.started.elapsed().as_secs_f64()),
            ..Default::default()
        };
        if let Some(v) = input.viewports.get_mut(&egui::ViewportId::ROOT) {
            v.native_pixels_per_point = Some(1.0);
        }
        let app = &mut self.app;
        self.ctx.run_ui(input, |ui| {
            app.drain();
            app.frame_ui(ui);
        })
    }

    /// Runs frames (with real time passing for the worker) until `done` holds; false if
    /// `timeout` passed first.
    pub fn wait(&mut self, timeout: Duration, done: impl Fn(&LatentLabApp) -> bool) -> bool {
        let start = Instant::now();
        while !done(&self.app) {
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(15));
            self.frame();
        }
        true
    }

    /// Runs a few frames so that sizes measured in one frame are used in the next.
    pub fn settle(&mut self) -> FullOutput {
        for _ in 0..3 {
            self.frame();
        }
        self.frame()
    }
}

/// The app has its data, its models and any run a step opened: the tabs draw.
pub fn ready(app: &LatentLabApp) -> bool {
    !app.session.is_loading()
        && !app.session.is_building()
        && app.session.snapshot.is_some()
        && !app.runs.is_opening()
}

/// What is wrong with the frame just drawn: each declared subject of the lesson step shown
/// must be drawn and wholly visible, and nothing may run past the right or bottom edge.
pub fn misfits(app: &LatentLabApp, output: &FullOutput, screen: Rect) -> Vec<String> {
    let mut out = Vec::new();
    let subjects = app.lesson.as_ref().map_or(&[][..], |run| run.subjects());
    for &name in subjects {
        let drawn: Vec<_> = app
            .rects
            .subjects
            .iter()
            .filter(|s| s.name == name)
            .collect();
        if drawn.is_empty() {
            out.push(format!("'{name}' is not drawn"));
        }
        // The least sizes are for a projected class (presentation mode); at the desk, with
        // the side panel open, 70% of them.
        let scale = if app.presentation.on { 1.0 } else { 0.7 };
        let least = subject(name).map_or(0.0, |spec| spec.min_side) * scale;
        for s in &drawn {
            if s.rect.width() + SLACK < least || s.rect.height() + SLACK < least {
                out.push(format!(
                    "'{name}' is too small to read: {:.0}×{:.0} points, at least {least:.0} wanted",
                    s.rect.width(),
                    s.rect.height()
                ));
            }
        }
        for s in drawn {
            let visible = s.clip.intersect(screen).expand(SLACK);
            if !visible.contains_rect(s.rect) {
                out.push(format!(
                    "'{name}' is cut off: it takes {} but only {} shows",
                    show_rect(s.rect),
                    show_rect(s.clip.intersect(screen))
                ));
            }
        }
    }
    out.extend(overflow(output, screen));
    out
}

/// Shapes drawn past the right or bottom edge where only the window clips them (what a
/// panel or scroll area clips can still be scrolled to; this cannot).
fn overflow(output: &FullOutput, screen: Rect) -> Option<String> {
    let mut worst: Option<Rect> = None;
    for clipped in &output.shapes {
        let b = clipped.transform_after_tessellation * clipped.shape.visual_bounding_rect();
        if !b.is_finite() || !b.is_positive() {
            continue;
        }
        let clip = clipped.clip_rect;
        let past_right = b.max.x > screen.max.x + SLACK && clip.max.x >= screen.max.x - SLACK;
        let past_bottom = b.max.y > screen.max.y + SLACK && clip.max.y >= screen.max.y - SLACK;
        if past_right || past_bottom {
            worst = Some(worst.map_or(b, |w| w.union(b)));
        }
    }
    worst.map(|w| {
        format!(
            "drawn past the window's edge: {} on a screen of {}",
            show_rect(w),
            show_rect(screen)
        )
    })
}

fn show_rect(r: Rect) -> String {
    format!(
        "x {:.0}–{:.0}, y {:.0}–{:.0}",
        r.min.x, r.max.x, r.min.y, r.max.y
    )
}

/// How to check a lesson.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// The window's inner size in pixels.
    pub size_px: Vec2,
    /// Check in presentation mode.
    pub presentation: bool,
    /// Caps on built-in data sets (smaller sets build faster; the layout is the same).
    pub sizes: Option<Sizes>,
    /// Training steps to wait for in a step that trains, before looking.
    pub min_steps: u64,
    /// The longest wait for data, models, an opened run or training, per step.
    pub timeout: Duration,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            size_px: egui::vec2(1280.0, 720.0),
            presentation: false,
            sizes: Some(Sizes {
                train: 2000,
                test: 500,
            }),
            min_steps: 20,
            timeout: Duration::from_secs(120),
        }
    }
}

/// The fit of one lesson step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepFit {
    /// 0-based index of the step.
    pub step: usize,
    /// Its title.
    pub title: String,
    /// What does not fit (empty: the step shows what it points at).
    pub problems: Vec<String>,
}

/// Drives every step of `lesson` as a teacher would (Next after Next) and checks each.
/// `each` sees the stage after each step is checked (for screenshots and tests).
pub fn check_lesson(
    lesson: &Lesson,
    opts: &FitOptions,
    mut each: impl FnMut(&mut Stage, &StepFit),
) -> Vec<StepFit> {
    let mut stage = Stage::new(opts.size_px, Settings::default(), opts.sizes);
    stage.app.session.start_when_ready = false;
    stage
        .app
        .apply(Action::StartLesson(Box::new(lesson.clone())));
    let mut fits = Vec::new();
    for (i, step) in lesson.steps.iter().enumerate() {
        if i > 0 {
            stage.app.apply(Action::LessonStep(i));
        }
        if opts.presentation != stage.app.presentation.on {
            stage.app.apply(Action::Present(opts.presentation));
        }
        stage.frame();
        let mut problems = Vec::new();
        if !stage.wait(opts.timeout, ready) {
            problems.push("the data, models or run were not ready in time".to_string());
        }
        let target = stage.app.session.progress.as_ref().map_or(0, |p| p.step) + opts.min_steps;
        if stage.app.session.start_when_ready {
            let trained = stage.wait(opts.timeout, |a| {
                a.session
                    .progress
                    .as_ref()
                    .is_some_and(|p| p.step >= target)
            });
            if !trained {
                problems.push(format!("training did not reach step {target} in time"));
            }
        }
        prepare(&mut stage.app);
        stage.settle();
        let output = stage.frame();
        problems.extend(misfits(&stage.app, &output, stage.screen()));
        let fit = StepFit {
            step: i,
            title: step.title.clone(),
            problems,
        };
        each(&mut stage, &fit);
        fits.push(fit);
    }
    fits
}

/// Does what the step's subjects need, as a student would: pin a dot, start a drawing.
pub(super) fn prepare(app: &mut LatentLabApp) {
    let Some(run) = &app.lesson else {
        return;
    };
    let run = run.clone();
    let needs: Vec<Needs> = run
        .subjects()
        .iter()
        .filter_map(|n| subject(n))
        .map(|s| s.needs)
        .collect();
    for need in needs {
        match need {
            Needs::Nothing => {}
            Needs::PinnedItem => {
                // The first item of a class the step shows, as a student would click.
                let hidden = run.lesson.setup(run.step).highlight.hidden_classes;
                let first = app
                    .session
                    .snapshot
                    .as_ref()
                    .and_then(|s| s.display_labels.iter().position(|c| !hidden.contains(c)));
                if app.selection.pinned.is_none() {
                    app.selection.pinned = first;
                }
            }
            Needs::DrawnItem => {
                if let Some(ds) = &app.session.data {
                    app.selection.draw_test_item(ds, 0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::lesson_run::LessonRun;
    use egui::epaint::{ClippedShape, Shape};
    use egui::{Color32, pos2, vec2};

    fn app_on_a_sliders_step() -> LatentLabApp {
        let ctx = egui::Context::default();
        let sizes = Sizes {
            train: 64,
            test: 32,
        };
        let mut app = LatentLabApp::with_settings(&ctx, Settings::default(), Some(sizes));
        let text = "---\nname: t\ntitle: T\n---\n## A\ntab: Sliders\n\
                    subject: sliders, slider images\n\nLook.\n";
        let lesson = Lesson::parse("t.md", text).expect("parses");
        app.lesson = Some(LessonRun { lesson, step: 0 });
        app
    }

    fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Rect {
        Rect::from_min_max(pos2(x0, y0), pos2(x1, y1))
    }

    #[test]
    fn a_missing_or_cut_off_subject_is_reported_and_a_whole_one_is_not() {
        let screen = Rect::from_min_size(Pos2::ZERO, vec2(1280.0, 720.0));
        let mut app = app_on_a_sliders_step();
        let none = FullOutput::default();
        app.rects
            .subject_in("sliders", rect(10.0, 600.0, 300.0, 700.0), screen);
        assert_eq!(
            misfits(&app, &none, screen),
            ["'slider images' is not drawn"]
        );
        // Below the bottom edge.
        app.rects
            .subject_in("slider images", rect(10.0, 650.0, 300.0, 800.0), screen);
        let p = misfits(&app, &none, screen);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("'slider images' is cut off"), "{p:?}");
        // Inside the screen but clipped by its scroll area: cut off as well.
        app.rects.subjects.pop();
        let viewport = rect(0.0, 100.0, 1280.0, 400.0);
        app.rects
            .subject_in("slider images", rect(10.0, 300.0, 300.0, 500.0), viewport);
        assert_eq!(misfits(&app, &none, screen).len(), 1);
        // Wholly shown.
        app.rects.subjects.pop();
        app.rects
            .subject_in("slider images", rect(10.0, 200.0, 300.0, 390.0), viewport);
        assert!(misfits(&app, &none, screen).is_empty());
    }

    #[test]
    fn a_shape_past_the_right_edge_counts_unless_a_panel_clips_it() {
        let screen = Rect::from_min_size(Pos2::ZERO, vec2(1280.0, 720.0));
        let mut app = app_on_a_sliders_step();
        app.lesson = None;
        let shape = Shape::rect_filled(rect(1200.0, 10.0, 1400.0, 50.0), 0.0, Color32::RED);
        let mut out = FullOutput::default();
        out.shapes.push(ClippedShape {
            clip_rect: rect(300.0, 0.0, 1000.0, 720.0),
            shape: shape.clone(),
            transform_after_tessellation: egui::emath::TSTransform::IDENTITY,
        });
        assert!(misfits(&app, &out, screen).is_empty(), "a panel clips it");
        out.shapes.push(ClippedShape {
            clip_rect: screen,
            shape,
            transform_after_tessellation: egui::emath::TSTransform::IDENTITY,
        });
        let p = misfits(&app, &out, screen);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("past the window's edge"), "{p:?}");
    }
}
