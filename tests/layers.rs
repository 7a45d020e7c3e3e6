//! The layers of ARCHITECTURE.md hold: no module uses a module to its right.
//! rng → data → model → train → explore → report → lessons → app, cli.

use std::path::{Path, PathBuf};

const LAYERS: [&str; 9] = [
    "rng", "data", "model", "train", "explore", "report", "lessons", "app", "cli",
];

/// The layer of a top-level module; app and cli share the last one.
fn rank(module: &str) -> Option<usize> {
    let r = LAYERS.iter().position(|m| *m == module)?;
    Some(r.min(7))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<module>` a source text names (in `use` lines and in paths).
fn crate_modules(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

#[test]
fn no_module_uses_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let mut violations = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(own) = rank(&top) else {
            continue; // lib.rs and main.rs sit above everything
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in crate_modules(&text) {
            let Some(theirs) = rank(&used) else { continue };
            let sideways = own == 7 && theirs == 7 && used != top;
            if theirs > own || sideways {
                violations.push(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_checker_sees_a_violation() {
    // The scanner itself: a train file naming crate::app is caught.
    let found = crate_modules("use crate::app::Settings;\nlet x = crate::report::f();");
    assert_eq!(found, vec!["app".to_string(), "report".to_string()]);
    assert!(rank("app") > rank("train"));
}

/// Files of `src/app` that may use the window itself: the face (`mod.rs`), what drives the
/// whole app (the fit check, `lessons --render` and its command), and the app's tests.
const ABOVE_THE_WINDOW: [&str; 6] = [
    "mod.rs",
    "window.rs",
    "fit.rs",
    "render.rs",
    "lesson_check.rs",
    "tests.rs",
];

/// Does this source text use the window (`LatentLabApp`, or the `window` module)?
fn uses_the_window(text: &str) -> bool {
    text.contains("LatentLabApp") || text.contains("window::")
}

#[test]
fn panels_and_features_never_see_the_window() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app");
    let mut files = Vec::new();
    rust_files(&app, &mut files);
    assert!(files.len() > 30, "found only {} files", files.len());
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            !ABOVE_THE_WINDOW.contains(&name.as_ref())
        })
        .filter(|f| uses_the_window(&std::fs::read_to_string(f).unwrap()))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these panels or features use the window; return Actions instead: {offenders:?}"
    );
}

#[test]
fn the_window_checker_sees_a_use() {
    assert!(uses_the_window("use super::window::LatentLabApp;"));
    assert!(uses_the_window("impl LatentLabApp {"));
    assert!(!uses_the_window("use super::actions::Action;"));
}
