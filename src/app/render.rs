//! `latentlab lessons --render`: a real window of exactly the asked size goes through every
//! step of a lesson, trains a fixed number of steps where the step trains (paused and
//! stepped, so a seed gives the same pictures), and writes a screenshot per step
//! (`01.png`, `02.png`, …). Each step's subjects are checked on the frame shot.

use super::actions::Action;
use super::fit::{StepFit, misfits, ready};
use super::settings::Settings;
use super::window::LatentLabApp;
use crate::lessons::Lesson;
use crate::train::TrainCommand;
use crossbeam_channel::{Receiver, bounded};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to render a lesson.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// The window's inner size in pixels.
    pub size_px: (u32, u32),
    /// Presentation mode.
    pub presentation: bool,
    /// Where the PNGs go.
    pub out_dir: PathBuf,
    /// Training steps taken before the picture of a step that trains.
    pub steps_per_step: u64,
    /// The longest wait for data, models, a run or training, per step.
    pub timeout: Duration,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            size_px: (1280, 720),
            presentation: false,
            out_dir: PathBuf::from("."),
            steps_per_step: STEPS_PER_STEP,
            timeout: Duration::from_secs(300),
        }
    }
}

/// Training steps before each picture of a step that trains (documented in the README).
pub const STEPS_PER_STEP: u64 = 600;

/// Where the renderer is in a step.
enum Phase {
    /// Set the step up.
    Begin,
    /// Wait for data, models or an opened run.
    Ready,
    /// Stepping the models until `target`; the steps asked for so far reach `asked`.
    Train { target: u64, asked: u64 },
    /// Waiting for the snapshot of the last step taken.
    Snapshot { step: u64 },
    /// Letting the layout settle for a few frames.
    Settle(u32),
    /// A screenshot was asked for.
    Shoot(Receiver<egui::ColorImage>),
    /// Every step is written.
    Done,
}

/// The window app that drives the lesson.
struct Renderer {
    app: LatentLabApp,
    lesson_len: usize,
    opts: RenderOptions,
    step: usize,
    trains: bool,
    phase: Phase,
    since: Instant,
    problems: Vec<String>,
    fits: Vec<StepFit>,
    result: Arc<Mutex<Result<Vec<StepFit>, String>>>,
}

/// Renders every step of `lesson`; returns each step's fit, or why no picture was made.
pub fn render_lesson(lesson: &Lesson, opts: RenderOptions) -> anyhow::Result<Vec<StepFit>> {
    let (w, h) = opts.size_px;
    let result = Arc::new(Mutex::new(Err(
        "the window closed before the last step".into()
    )));
    let shared = result.clone();
    let lesson = lesson.clone();
    // A fresh state folder: nothing a window stored before (its size, a zoom) may change
    // the pictures.
    let state = std::env::temp_dir().join(format!("latentlab-render-{}", std::process::id()));
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("LatentLab lesson render")
            .with_inner_size([w as f32, h as f32])
            .with_resizable(false),
        persist_window: false,
        persistence_path: Some(state.clone()),
        ..Default::default()
    };
    let opened = eframe::run_native(
        "LatentLab render",
        options,
        Box::new(move |cc| {
            // The default settings and zoom, whatever the user's window keeps.
            cc.egui_ctx.set_zoom_factor(1.0);
            let mut app = LatentLabApp::with_settings(&cc.egui_ctx, Settings::default(), None);
            app.session.start_when_ready = false;
            let steps = lesson.steps.len();
            app.apply(Action::StartLesson(Box::new(lesson)));
            Ok(Box::new(Renderer {
                app,
                lesson_len: steps,
                opts,
                step: 0,
                trains: false,
                phase: Phase::Begin,
                since: Instant::now(),
                problems: Vec::new(),
                fits: Vec::new(),
                result: shared,
            }))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window to render in: {e}"));
    std::fs::remove_dir_all(&state).ok();
    opened?;
    let out = result
        .lock()
        .map_err(|_| anyhow::anyhow!("the renderer stopped"))?
        .clone();
    out.map_err(anyhow::Error::msg)
}

impl eframe::App for Renderer {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.app.drain();
    }

    /// No pointer: wherever the display's pointer rests, no tooltip or hover shows in the
    /// pictures.
    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        raw_input.events.retain(|e| {
            !matches!(
                e,
                egui::Event::PointerMoved(_) | egui::Event::PointerButton { .. }
            )
        });
        raw_input.events.push(egui::Event::PointerGone);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.app.frame_ui(ui);
        let ctx = ui.ctx().clone();
        if let Err(e) = self.advance(&ctx) {
            self.finish(&ctx, Err(e));
        }
        ctx.request_repaint_after(Duration::from_millis(20));
    }
}

impl Renderer {
    /// One move of the state machine per frame.
    fn advance(&mut self, ctx: &egui::Context) -> Result<(), String> {
        let timed_out = self.since.elapsed() > self.opts.timeout;
        match &self.phase {
            Phase::Begin => {
                if self.step > 0 {
                    self.app.apply(Action::LessonStep(self.step));
                }
                if self.app.presentation.on != self.opts.presentation {
                    self.app.apply(Action::Present(self.opts.presentation));
                }
                // The step's "training: run" is kept as the wish to train; the renderer
                // steps the models itself so the pictures repeat.
                self.trains = self.app.session.start_when_ready;
                self.app.apply(Action::Pause);
                self.problems.clear();
                self.go(Phase::Ready);
            }
            Phase::Ready if ready(&self.app) => {
                let now = self.app.session.progress.as_ref().map_or(0, |p| p.step);
                let start = self.app.session.snapshot.as_ref().map_or(now, |s| s.step);
                if self.trains {
                    let from = start.max(now);
                    let target = from + self.opts.steps_per_step;
                    self.go(Phase::Train {
                        target,
                        asked: from,
                    });
                } else {
                    self.app.session.send(TrainCommand::RequestSnapshot);
                    self.go(Phase::Snapshot { step: start });
                }
            }
            Phase::Ready if timed_out => {
                return Err(format!(
                    "step {}: the data, models or run were not ready in time",
                    self.step + 1
                ));
            }
            Phase::Train { target, asked } => {
                let (target, asked) = (*target, *asked);
                let now = self.app.session.progress.as_ref().map_or(0, |p| p.step);
                if now >= target {
                    self.app.session.send(TrainCommand::RequestSnapshot);
                    self.go(Phase::Snapshot { step: target });
                } else if timed_out {
                    return Err(format!(
                        "step {}: training reached only step {now} of {target} in time",
                        self.step + 1
                    ));
                } else if asked < target {
                    // The worker pauses at exactly `target`: the picture repeats.
                    self.app.session.send(TrainCommand::TrainUntil(target));
                    self.phase = Phase::Train {
                        target,
                        asked: target,
                    };
                }
            }
            Phase::Snapshot { step } => {
                let have = self.app.session.snapshot.as_ref().map_or(0, |s| s.step);
                if have >= *step {
                    self.prepare();
                    self.go(Phase::Settle(8));
                } else if timed_out {
                    return Err(format!("step {}: no snapshot came in time", self.step + 1));
                } else if self.since.elapsed() > Duration::from_secs(2) {
                    self.app.session.send(TrainCommand::RequestSnapshot);
                    self.since = Instant::now();
                }
            }
            // A t-SNE, UMAP or convolutional decoding still computing: the picture waits
            // for it (within the timeout), then for a few frames that show it.
            Phase::Settle(0) if !timed_out && self.app.views.iter().any(|v| v.busy()) => {
                self.phase = Phase::Settle(3);
            }
            Phase::Settle(0) => {
                let screen = ctx.content_rect();
                self.problems = misfits(&self.app, &egui::FullOutput::default(), screen);
                let (tx, rx) = bounded(1);
                ctx.request_screenshot(move |shot| {
                    tx.send(shot.as_ref().clone()).ok();
                });
                self.go(Phase::Shoot(rx));
            }
            Phase::Settle(n) => {
                let n = *n - 1;
                self.phase = Phase::Settle(n);
            }
            Phase::Shoot(rx) => match rx.try_recv() {
                Ok(shot) => {
                    self.write(&shot)?;
                    self.step += 1;
                    if self.step >= self.lesson_len {
                        self.go(Phase::Done);
                        let fits = self.fits.clone();
                        self.finish(ctx, Ok(fits));
                    } else {
                        self.go(Phase::Begin);
                    }
                }
                Err(_) if self.since.elapsed() > Duration::from_secs(10) => {
                    return Err("no screenshot came from this display".into());
                }
                Err(_) => {}
            },
            Phase::Ready | Phase::Done => {}
        }
        Ok(())
    }

    fn go(&mut self, phase: Phase) {
        self.phase = phase;
        self.since = Instant::now();
    }

    /// Pins a dot or starts a drawing where the step's subjects need one.
    fn prepare(&mut self) {
        super::fit::prepare(&mut self.app);
    }

    /// Writes the screenshot of this step and records its fit.
    fn write(&mut self, shot: &egui::ColorImage) -> Result<(), String> {
        let [w, h] = shot.size;
        let bytes: Vec<u8> = shot.pixels.iter().flat_map(|c| c.to_array()).collect();
        let image = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
            .ok_or("the screenshot has the wrong size")?;
        let (want_w, want_h) = self.opts.size_px;
        if (w as u32, h as u32) != (want_w, want_h) {
            self.problems.push(format!(
                "the window is {w}x{h} pixels, not {want_w}x{want_h} (a window manager may \
                 have resized it)"
            ));
        }
        let path = self.opts.out_dir.join(format!("{:02}.png", self.step + 1));
        image
            .save(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let title = self
            .app
            .lesson
            .as_ref()
            .and_then(|r| r.lesson.steps.get(self.step))
            .map_or_else(String::new, |s| s.title.clone());
        self.fits.push(StepFit {
            step: self.step,
            title,
            problems: std::mem::take(&mut self.problems),
        });
        Ok(())
    }

    /// Hands the result over and closes the window.
    fn finish(&mut self, ctx: &egui::Context, result: Result<Vec<StepFit>, String>) {
        if let Ok(mut r) = self.result.lock() {
            *r = result;
        }
        self.phase = Phase::Done;
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
    }
}
