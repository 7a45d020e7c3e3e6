//! "Export PNG…" for every tab: the tab as shown, from a screenshot of the window cropped
//! to the tab's area, at 1×, 2× or 3× (enlarged smoothly from the screen's pixels, so
//! text stays round on a slide). Where no screenshot arrives (a test harness, a display
//! that cannot read back its pixels) a message says so after a few seconds.

use super::actions::Action;
use super::dialog::OpenKind;
use crossbeam_channel::{Receiver, bounded};
use egui::Ui;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long to wait for a screenshot before saying none came.
const SCREENSHOT_WAIT: Duration = Duration::from_secs(3);

/// The size of the PNG written, or why not.
type Written = Result<(u32, u32), String>;

/// State of the PNG export.
pub struct PngExport {
    /// Enlargement of the exported image: 1, 2 or 3.
    pub scale: u32,
    /// The tab's area in the latest frame, in points (read when the screenshot arrives, so
    /// the crop matches the frame it shows).
    pub tab_rect: Arc<Mutex<egui::Rect>>,
    waiting: Option<(PathBuf, Instant, Receiver<Written>)>,
}

impl Default for PngExport {
    fn default() -> Self {
        Self {
            scale: 2,
            tab_rect: Arc::new(Mutex::new(egui::Rect::NOTHING)),
            waiting: None,
        }
    }
}

impl PngExport {
    /// The button and scale picker, beside the tabs.
    pub fn button_ui(&mut self, ui: &mut Ui) -> Option<Action> {
        let mut action = None;
        let button = egui::containers::menu::MenuButton::new("Export PNG…")
            .config(super::timeline_bar::keep_open_on_click());
        button.ui(ui, |ui| {
            ui.label("this tab as shown, for slides");
            ui.horizontal(|ui| {
                ui.label("scale");
                for s in [1, 2, 3] {
                    ui.selectable_value(&mut self.scale, s, format!("{s}×"));
                }
            });
            if ui.button("Write PNG…").clicked() {
                action = Some(Action::OpenDialog(OpenKind::SavePng));
                ui.close();
            }
        });
        action
    }

    /// Where the tab draws in this frame.
    pub fn set_tab_rect(&self, rect: egui::Rect) {
        if let Ok(mut r) = self.tab_rect.lock() {
            *r = rect;
        }
    }

    /// Asks for a screenshot of the next frame; the tab's area goes to `path`.
    pub fn start(&mut self, path: PathBuf, ctx: &egui::Context) {
        let (tx, rx) = bounded(1);
        let (rect, scale, file) = (self.tab_rect.clone(), self.scale, path.clone());
        let (repaint, ppp) = (ctx.clone(), ctx.pixels_per_point());
        ctx.request_screenshot(move |shot| {
            let rect = rect.lock().map_or(egui::Rect::NOTHING, |r| *r);
            // Cropping, enlarging and encoding take a while at 3×: off the UI thread.
            let failed = tx.clone();
            let spawned = std::thread::Builder::new()
                .name("latentlab-png".into())
                .spawn(move || {
                    tx.send(write_png(&shot, rect, ppp, scale, &file)).ok();
                    repaint.request_repaint();
                });
            if let Err(e) = spawned {
                failed.send(Err(format!("cannot start writing: {e}"))).ok();
            }
        });
        ctx.request_repaint();
        self.waiting = Some((path, Instant::now(), rx));
    }

    /// The note or error once the PNG is written, or once no screenshot came in time.
    pub fn poll(&mut self, ctx: &egui::Context) -> Option<Action> {
        let (path, asked, rx) = self.waiting.as_ref()?;
        let answer = match rx.try_recv() {
            Ok(Ok((w, h))) => Ok(format!("wrote {} ({w}x{h} pixels)", path.display())),
            Ok(Err(e)) => Err(format!("could not write {}: {e}", path.display())),
            Err(_) if asked.elapsed() > SCREENSHOT_WAIT => Err(format!(
                "no screenshot came from this display, so {} was not written (a test \
                 harness or a renderer that cannot read back its pixels); the command \
                 line's figures (latentlab train) are the other way to get them",
                path.display()
            )),
            Err(_) => {
                ctx.request_repaint_after(Duration::from_millis(200));
                return None;
            }
        };
        self.waiting = None;
        Some(match answer {
            Ok(note) => Action::Notice(note),
            Err(e) => Action::Error(e),
        })
    }
}

/// Crops `shot` to `rect` (points), enlarges it `scale` times and writes it as PNG.
fn write_png(
    shot: &egui::ColorImage,
    rect: egui::Rect,
    pixels_per_point: f32,
    scale: u32,
    path: &Path,
) -> Result<(u32, u32), String> {
    if !rect.is_positive() {
        return Err("the tab has not been drawn yet".into());
    }
    // The tab's pixels, kept inside the image (region_by_pixels panics outside it).
    let [iw, ih] = shot.size;
    let px = |v: f32, max: usize| ((v * pixels_per_point).round().max(0.0) as usize).min(max);
    let (x0, y0) = (px(rect.min.x, iw), px(rect.min.y, ih));
    let (x1, y1) = (px(rect.max.x, iw), px(rect.max.y, ih));
    if x1 <= x0 || y1 <= y0 {
        return Err("the tab lies outside the screenshot".into());
    }
    let part = shot.region_by_pixels([x0, y0], [x1 - x0, y1 - y0]);
    let [w, h] = part.size;
    let bytes: Vec<u8> = part.pixels.iter().flat_map(|c| c.to_array()).collect();
    let rgba = image::RgbaImage::from_raw(w as u32, h as u32, bytes)
        .ok_or("the screenshot has the wrong size")?;
    let out = if scale > 1 {
        let filter = image::imageops::FilterType::CatmullRom;
        image::imageops::resize(&rgba, w as u32 * scale, h as u32 * scale, filter)
    } else {
        rgba
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    out.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.dimensions())
}
