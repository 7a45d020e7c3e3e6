//! `latentlab lessons`: the built-in lessons listed; `--check` tells whether every step of a
//! lesson shows its subjects at a screen size; `--render` writes one PNG per step, from a
//! real window, as the class will see it.

use super::output::out;
use crate::app::fit::{FitOptions, StepFit, check_lesson};
use crate::app::render::{RenderOptions, render_lesson};
use anyhow::{Result, anyhow, bail};
use clap::Args;
use std::path::PathBuf;

/// `latentlab lessons`.
#[derive(Args, Debug)]
pub struct LessonsArgs {
    /// Check a lesson (a built-in name or a file): report each step whose subject would not
    /// be wholly on screen at --size, in normal and in presentation mode. Exits 1 if one
    /// does not fit.
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "render")]
    pub check: Option<String>,
    /// Write one PNG per step of a lesson (a built-in name or a file) into --out, exactly
    /// --size, as the class will see it. Opens a window (under Xvfb where there is no
    /// display). Exits 1 if a subject does not fit.
    #[arg(long, value_name = "NAME|FILE", requires = "out")]
    pub render: Option<String>,
    /// The screen: WIDTHxHEIGHT in pixels (a projector is often 1280x720).
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Render in presentation mode (with --render).
    #[arg(long, requires = "render")]
    pub presentation: bool,
    /// The folder for --render's PNGs (01.png, 02.png, …).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Parses "1280x720".
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}' is not WIDTHxHEIGHT (for example 1280x720)"))?;
    let side = |v: &str, what: &str| -> Result<u32, String> {
        let n: u32 = v
            .trim()
            .parse()
            .map_err(|_| format!("{what} '{v}' is not a whole number"))?;
        if !(320..=7680).contains(&n) {
            return Err(format!("{what} {n} is outside 320 to 7680 pixels"));
        }
        Ok(n)
    };
    Ok((side(w, "width")?, side(h, "height")?))
}

/// Runs `latentlab lessons [--check X | --render X]`.
pub fn run(a: LessonsArgs) -> Result<()> {
    if let Some(name) = &a.check {
        return check(name, a.size);
    }
    if let Some(name) = &a.render {
        let out_dir = a
            .out
            .clone()
            .ok_or_else(|| anyhow!("--render needs --out DIR"))?;
        return render(name, a.size, a.presentation, out_dir);
    }
    let list = crate::lessons::builtin().map_err(|e| anyhow!("{e}"))?;
    for lesson in list {
        out!("{}\t{}", lesson.name, lesson.title);
    }
    Ok(())
}

/// The lesson, checked against the window's tabs; steps without a subject are said.
fn load(name: &str) -> Result<crate::lessons::Lesson> {
    let lesson = crate::app::load_lesson(name)?;
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

/// `--check`: both modes at the size; one line per step.
fn check(name: &str, (w, h): (u32, u32)) -> Result<()> {
    let lesson = load(name)?;
    let mut bad = 0;
    for presentation in [false, true] {
        let mode = if presentation {
            "presentation"
        } else {
            "normal"
        };
        let opts = FitOptions {
            size_px: egui::vec2(w as f32, h as f32),
            presentation,
            ..FitOptions::default()
        };
        let fits = check_lesson(&lesson, &opts, |_, _| {});
        bad += report(&fits, &format!("{w}x{h} {mode}"));
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
fn report(fits: &[StepFit], what: &str) -> usize {
    let mut bad = 0;
    for f in fits {
        if f.problems.is_empty() {
            out!("{what}: step {} '{}': fits", f.step + 1, f.title);
        } else {
            bad += 1;
            out!(
                "{what}: step {} '{}': {}",
                f.step + 1,
                f.title,
                f.problems.join("; ")
            );
        }
    }
    bad
}

/// `--render`: a real window, one PNG per step.
fn render(name: &str, (w, h): (u32, u32), presentation: bool, out_dir: PathBuf) -> Result<()> {
    // One window pixel per screen pixel, whatever the display's DPI says: the PNGs are
    // exactly the projector's size. (Read by winit when the window opens.)
    if std::env::var_os("WINIT_X11_SCALE_FACTOR").is_none() {
        // SAFETY: the command line has started no other thread yet.
        unsafe { std::env::set_var("WINIT_X11_SCALE_FACTOR", "1") };
    }
    let lesson = load(name)?;
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| anyhow!("cannot make {}: {e}", out_dir.display()))?;
    let opts = RenderOptions {
        size_px: (w, h),
        presentation,
        out_dir: out_dir.clone(),
        ..RenderOptions::default()
    };
    let fits = render_lesson(&lesson, opts)?;
    let mode = if presentation {
        "presentation"
    } else {
        "normal"
    };
    let bad = report(&fits, &format!("{w}x{h} {mode}"));
    out!("wrote {} PNGs into {}", fits.len(), out_dir.display());
    if bad > 0 {
        bail!(
            "{bad} step(s) of '{}' do not show their subject at {w}x{h}",
            lesson.name
        );
    }
    Ok(())
}
