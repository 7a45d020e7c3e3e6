//! Writing a class bundle: the lesson (its `open:` lines pointing at `runs/NAME`) and every
//! file of each run its steps open, then bundle.json; into a hidden file beside the output,
//! renamed into place once whole.

use super::{
    BUNDLE_FORMAT, BUNDLE_MANIFEST, BUNDLE_VERSION, BundleError, BundleManifest, MAX_FILE_BYTES,
    hash, io_err,
};
use crate::lessons::Lesson;
use crate::train::run::{self, FileEntry};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The lesson's name inside a bundle.
const LESSON_FILE: &str = "lesson.md";
/// The folder of the runs inside a bundle.
const RUNS_FOLDER: &str = "runs";

/// What went into a bundle.
#[derive(Clone, Debug, PartialEq)]
pub struct Packed {
    /// The lesson's short name.
    pub lesson: String,
    /// The runs, by their name inside the bundle (`runs/NAME`).
    pub runs: Vec<String>,
    /// Files, bundle.json included.
    pub files: usize,
    /// The bundle's length.
    pub bytes: u64,
}

/// One saved run the lesson opens, and the name it gets inside the bundle.
struct PackedRun {
    dir: PathBuf,
    name: String,
    files: Vec<String>,
}

/// Packs the lesson file at `lesson_path` and the runs its steps open into `out`. Refuses a
/// run that does not open (saying which step), and an existing `out` unless `overwrite`.
pub fn pack(lesson_path: &Path, out: &Path, overwrite: bool) -> Result<Packed, BundleError> {
    if out.exists() && !overwrite {
        return Err(BundleError::Exists(out.display().to_string()));
    }
    let text = std::fs::read_to_string(lesson_path).map_err(io_err(lesson_path))?;
    let lesson = Lesson::from_file(lesson_path)?;
    let runs = runs_of(&lesson)?;
    let text = rewrite_opens(&text, &lesson, &runs);

    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = out
        .file_name()
        .map_or_else(|| "bundle".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{file_name}.partial-{}", std::process::id()));
    let result = write_zip(&tmp, &text, &runs);
    let files = match result {
        Ok(files) => files,
        Err(e) => {
            std::fs::remove_file(&tmp).ok();
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).map_err(|e| {
        std::fs::remove_file(&tmp).ok();
        io_err(out)(e)
    })?;
    let bytes = std::fs::metadata(out).map_err(io_err(out))?.len();
    Ok(Packed {
        lesson: lesson.name,
        runs: runs.into_iter().map(|r| r.name).collect(),
        files,
        bytes,
    })
}

/// The runs the steps open, each once, each checked with `open_run`, named after its folder.
fn runs_of(lesson: &Lesson) -> Result<Vec<PackedRun>, BundleError> {
    let mut runs: Vec<PackedRun> = Vec::new();
    for step in &lesson.steps {
        let Some(o) = &step.changes.open else {
            continue;
        };
        let opened = run::open_run(&o.value).map_err(|source| BundleError::PackRun {
            lesson: lesson.file.clone(),
            line: o.line,
            step: step.title.clone(),
            run: o.value.display().to_string(),
            source: Box::new(source),
        })?;
        let dir = std::fs::canonicalize(&o.value).map_err(io_err(&o.value))?;
        if runs.iter().any(|r| r.dir == dir) {
            continue;
        }
        let stem: String = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
                _ => '_',
            })
            .collect();
        let stem = if stem.trim_matches('.').is_empty() {
            "run".to_string()
        } else {
            stem
        };
        let mut name = stem.clone();
        let mut n = 2;
        while runs.iter().any(|r| r.name == name) {
            name = format!("{stem}-{n}");
            n += 1;
        }
        let mut files: Vec<String> = opened
            .manifest
            .files
            .iter()
            .map(|f| f.name.clone())
            .collect();
        files.push(run::MANIFEST.to_string());
        runs.push(PackedRun { dir, name, files });
    }
    Ok(runs)
}

/// The lesson text with each `open:` line pointing at the run's folder inside the bundle.
fn rewrite_opens(text: &str, lesson: &Lesson, runs: &[PackedRun]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for step in &lesson.steps {
        let Some(o) = &step.changes.open else {
            continue;
        };
        let dir = std::fs::canonicalize(&o.value).ok();
        let Some(r) = runs.iter().find(|r| Some(&r.dir) == dir.as_ref()) else {
            continue;
        };
        if let Some(line) = lines.get_mut(o.line - 1) {
            *line = format!("open: {RUNS_FOLDER}/{}", r.name);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Writes the zip: the lesson, each run's files, bundle.json last. Returns the file count.
fn write_zip(tmp: &Path, text: &str, runs: &[PackedRun]) -> Result<usize, BundleError> {
    let file = File::create_new(tmp).map_err(io_err(tmp))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(file));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o644);
    let zip_err = |e: zip::result::ZipError| BundleError::Io {
        path: tmp.display().to_string(),
        source: std::io::Error::other(e),
    };
    let mut entries = Vec::new();
    zip.start_file(LESSON_FILE, options).map_err(zip_err)?;
    let (bytes, sha256) = hash(&mut text.as_bytes(), &mut zip).map_err(io_err(tmp))?;
    entries.push(FileEntry {
        name: LESSON_FILE.into(),
        bytes,
        sha256,
    });
    for r in runs {
        for f in &r.files {
            let path = r.dir.join(f);
            let len = std::fs::metadata(&path).map_err(io_err(&path))?.len();
            if len > MAX_FILE_BYTES {
                return Err(BundleError::TooLarge {
                    path: path.display().to_string(),
                    why: format!(
                        "it is {len} bytes, more than a bundle may hold ({MAX_FILE_BYTES})"
                    ),
                });
            }
            let name = format!("{RUNS_FOLDER}/{}/{f}", r.name);
            zip.start_file(&name, options).map_err(zip_err)?;
            let mut from = File::open(&path).map_err(io_err(&path))?;
            let (bytes, sha256) = hash(&mut from, &mut zip).map_err(io_err(&path))?;
            entries.push(FileEntry {
                name,
                bytes,
                sha256,
            });
        }
    }
    let manifest = BundleManifest {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        written_by: format!("latentlab {}", env!("CARGO_PKG_VERSION")),
        lesson: LESSON_FILE.into(),
        files: entries,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| BundleError::Io {
        path: tmp.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    zip.start_file(BUNDLE_MANIFEST, options).map_err(zip_err)?;
    zip.write_all(&json).map_err(io_err(tmp))?;
    let count = manifest.files.len() + 1;
    let file = zip
        .finish()
        .map_err(zip_err)?
        .into_inner()
        .map_err(|e| io_err(tmp)(e.into_error()))?;
    file.sync_all().map_err(io_err(tmp))?;
    Ok(count)
}
