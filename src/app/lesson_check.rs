//! `latentlab lessons --check` and `--render`, carried out: the command line parses the
//! arguments into a [`FitRequest`], `main` hands it here (both need the window's code).

use super::fit::{FitOptions, StepFit, check_lesson};
use super::render::{RenderOptions, render_lesson};
use crate::lessons::Lesson;
use crate::lessons::subject::FitRequest;
use anyhow::{Result, anyhow, bail};
use std::io::Write;

/// Carries out `--check` (both modes at the size) or `--render` (one PNG per step).
pub fn run_request(r: FitRequest) -> Result<()> {
    match r.render_to.clone() {
        Some(out_dir) => render(&r, out_dir),
        None => check(&r),
    }
}

/// One line on standard output; a reader that went away ends the output quietly.
fn say(line: &str) -> Result<()> {
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// The lesson, checked against the window's tabs; steps without a subject are said.
fn load(name: &str) -> Result<Lesson> {
    let lesson = super::load_lesson(name)?;
    for (i, step) in lesson.steps.iter().enumerate() {
        if step.changes.subjects.is_none() {
            eprintln!(
                "warning: step {} '{}' declares no subject (add a 'subject:' line; see \
                 assets/lessons/README.md): nothing of it is checked",
                i + 1,
                step.title
            );
        }
    }
    Ok(lesson)
}

fn mode(presentation: bool) -> &'static str {
    if presentation {
        "presentation"
    } else {
        "normal"
    }
}

/// `--check`: both modes at the size; one line per step.
fn check(r: &FitRequest) -> Result<()> {
    let lesson = load(&r.lesson)?;
    let (w, h) = r.size;
    let mut bad = 0;
    for presentation in [false, true] {
        let opts = FitOptions {
            size_px: egui::vec2(w as f32, h as f32),
            presentation,
            ..FitOptions::default()
        };
        let fits = check_lesson(&lesson, &opts, |_, _| {});
        bad += report(&fits, &format!("{w}x{h} {}", mode(presentation)))?;
    }
    if bad > 0 {
        bail!(
            "{bad} step(s) of '{}' do not show their subject at {w}x{h}",
            lesson.name
        );
    }
    Ok(())
}

/// Prints one line per step; returns how many do not fit.
fn report(fits: &[StepFit], what: &str) -> Result<usize> {
    let mut bad = 0;
    for f in fits {
        let verdict = if f.problems.is_empty() {
            "fits".to_string()
        } else {
            bad += 1;
            f.problems.join("; ")
        };
        say(&format!(
            "{what}: step {} '{}': {verdict}",
            f.step + 1,
            f.title
        ))?;
    }
    Ok(bad)
}

/// `--render`: a real window, one PNG per step.
fn render(r: &FitRequest, out_dir: std::path::PathBuf) -> Result<()> {
    // One window pixel per screen pixel, whatever the display's DPI says: the PNGs are
    // exactly the projector's size. (Read by winit when the window opens.)
    if std::env::var_os("WINIT_X11_SCALE_FACTOR").is_none() {
        // SAFETY: `main` calls this before any other thread exists.
        unsafe { std::env::set_var("WINIT_X11_SCALE_FACTOR", "1") };
    }
    let lesson = load(&r.lesson)?;
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| anyhow!("cannot make {}: {e}", out_dir.display()))?;
    let opts = RenderOptions {
        size_px: r.size,
        presentation: r.presentation,
        out_dir: out_dir.clone(),
        ..RenderOptions::default()
    };
    let fits = render_lesson(&lesson, opts)?;
    let (w, h) = r.size;
    let bad = report(&fits, &format!("{w}x{h} {}", mode(r.presentation)))?;
    say(&format!(
        "wrote {} PNGs into {}",
        fits.len(),
        out_dir.display()
    ))?;
    if bad > 0 {
        bail!(
            "{bad} step(s) of '{}' do not show their subject at {w}x{h}",
            lesson.name
        );
    }
    Ok(())
}
