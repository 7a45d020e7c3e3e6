//! `latentlab lessons`: the built-in lessons listed; `--check` and `--render` are parsed
//! here into a [`FitRequest`] that the window's module carries out (`app::fit::run_request`,
//! called from `main`: the command line sits beside the window, not above it).

use super::output::out;
use crate::lessons::subject::FitRequest;
use anyhow::{Result, anyhow};
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

impl LessonsArgs {
    /// `--check` or `--render` as a request for the window's module (it needs the window,
    /// so `main` hands it there); `None`: list the lessons.
    pub fn fit_request(&self) -> Option<FitRequest> {
        let (lesson, render_to) = match (&self.check, &self.render) {
            (Some(name), _) => (name.clone(), None),
            (None, Some(name)) => (name.clone(), self.out.clone()),
            (None, None) => return None,
        };
        Some(FitRequest {
            lesson,
            size: self.size,
            presentation: self.presentation,
            render_to,
        })
    }
}

/// `latentlab lessons`: NAME<TAB>TITLE per built-in lesson.
pub fn run(_a: LessonsArgs) -> Result<()> {
    let list = crate::lessons::builtin().map_err(|e| anyhow!("{e}"))?;
    for lesson in list {
        out!("{}\t{}", lesson.name, lesson.title);
    }
    Ok(())
}
