//! The class bundle: one `.latentlab` file holding a lesson and the saved runs its steps
//! open, so students open exactly what is on the projector. It is a zip archive (files
//! stored as they are) with `bundle.json`: the format, version, the lesson's file name and
//! every other file with its length and SHA-256.
//!
//! Nothing in a bundle is trusted before it is checked: the manifest and every entry's
//! name, type and size are checked before a byte is unpacked; each file is hashed as it is
//! written; each run must then open like any saved run. A bundle unpacks into the cache
//! folder (`<cache>/lessons/<SHA-256 of the bundle>/`, through a hidden folder renamed into
//! place), never beside the bundle, and a second open of the same bundle re-checks and
//! reuses that folder. `pack.rs` writes bundles.

mod check;
mod pack;

pub use check::name_problem;
pub use pack::{Packed, pack};

use check::{FileMismatch, check_entries, check_entry_count, check_file, read_manifest};

use super::{Lesson, LessonError};
use crate::train::run::{self, FileEntry, RunError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The file extension of a class bundle.
pub const BUNDLE_EXTENSION: &str = "latentlab";
/// The `format` field of every bundle.json.
pub const BUNDLE_FORMAT: &str = "latentlab-bundle";
/// The layout version this build writes and reads.
pub const BUNDLE_VERSION: u32 = 1;
/// The manifest's name inside the bundle.
pub const BUNDLE_MANIFEST: &str = "bundle.json";
/// The folder of the cache that bundles unpack into.
pub const CACHE_FOLDER: &str = "lessons";
/// Largest bundle.json read: a real one takes a few kB.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Most entries a bundle may hold.
pub const MAX_ENTRIES: usize = 10_000;
/// Largest file a bundle may hold (a run's timeline is the big one, tens of MB).
pub const MAX_FILE_BYTES: u64 = 2 << 30;
/// Largest total of a bundle's files, and largest bundle.
pub const MAX_TOTAL_BYTES: u64 = 4 << 30;

/// `bundle.json`: what the bundle holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// Layout version ([`BUNDLE_VERSION`]).
    pub version: u32,
    /// The program that wrote it.
    pub written_by: String,
    /// The lesson's file name (one of `files`).
    pub lesson: String,
    /// Every file of the bundle but bundle.json, with its length and hash.
    pub files: Vec<FileEntry>,
}

/// Why a bundle could not be made or opened. Every message names the bundle (or lesson).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Not a zip archive at all, or not a whole one, or without a bundle.json of ours.
    #[error("{path}: not a class bundle ({why})")]
    NotABundle {
        /// The bundle.
        path: String,
        /// What is missing or wrong.
        why: String,
    },
    /// Written by a later (or unknown) version of LatentLab.
    #[error("{path}: bundle format version {found}; this build reads version {BUNDLE_VERSION}")]
    Version {
        /// The bundle.
        path: String,
        /// The version its bundle.json says.
        found: u32,
    },
    /// More entries or bytes than a bundle may hold (said before anything is read).
    #[error("{path}: {why}; the bundle is refused")]
    TooLarge {
        /// The bundle.
        path: String,
        /// What is too large, and the limit.
        why: String,
    },
    /// An entry that could write outside the folder, or is not a plain file.
    #[error("{path}: entry '{entry}' {why}; the bundle is refused")]
    Unsafe {
        /// The bundle.
        path: String,
        /// The entry's name as stored.
        entry: String,
        /// `..`, an absolute path, a link, ...
        why: String,
    },
    /// An entry bundle.json does not list.
    #[error("{path}: entry '{entry}' is not listed in {BUNDLE_MANIFEST}; the bundle is refused")]
    Unlisted {
        /// The bundle.
        path: String,
        /// The entry.
        entry: String,
    },
    /// A file bundle.json lists is not in the archive.
    #[error("{path}: '{entry}' is missing ({BUNDLE_MANIFEST} lists it); the bundle is incomplete")]
    Missing {
        /// The bundle.
        path: String,
        /// The file.
        entry: String,
    },
    /// A file's length or hash differs from what bundle.json says.
    #[error("{path}: '{entry}' {why}; the bundle was changed or damaged after it was packed")]
    Corrupt {
        /// The bundle.
        path: String,
        /// The file.
        entry: String,
        /// Length or hash, and the numbers.
        why: String,
    },
    /// The lesson inside (or the one to pack) is malformed.
    #[error("{0}")]
    Lesson(#[from] LessonError),
    /// A saved run inside the bundle does not open.
    #[error("{path}: the saved run '{run}' in it does not open: {source}")]
    Run {
        /// The bundle.
        path: String,
        /// The run's folder inside the bundle.
        run: String,
        /// Why.
        #[source]
        source: Box<RunError>,
    },
    /// A step of the bundled lesson opens a run the bundle does not carry.
    #[error(
        "{path}: its lesson opens '{run}' at line {line}, which is not a run inside the bundle"
    )]
    OutsideRun {
        /// The bundle.
        path: String,
        /// The path the step names.
        run: String,
        /// The line of `open:`.
        line: usize,
    },
    /// A run a step of the lesson to pack opens does not open.
    #[error("{lesson}:{line}: step '{step}' opens {run}, which does not open: {source}")]
    PackRun {
        /// The lesson file.
        lesson: String,
        /// The line of `open:`.
        line: usize,
        /// The step's title.
        step: String,
        /// The run folder.
        run: String,
        /// Why.
        #[source]
        source: Box<RunError>,
    },
    /// The output file is there and overwriting was not asked for.
    #[error("{0}: a file is already there; choose another name or replace it with --overwrite")]
    Exists(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// True if `path` names a class bundle (by its extension).
pub fn is_bundle(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(BUNDLE_EXTENSION))
}

/// A bundle unpacked (or found unpacked) in the cache and checked.
#[derive(Clone, Debug)]
pub struct Unpacked {
    /// Its folder: `<cache>/lessons/<SHA-256 of the bundle>`.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: BundleManifest,
}

impl Unpacked {
    /// The unpacked lesson file.
    pub fn lesson_file(&self) -> PathBuf {
        self.dir.join(&self.manifest.lesson)
    }
}

/// Opens the bundle at `bundle`: unpacks it into `cache_root` (or re-checks an earlier
/// unpacking), reads its lesson and checks that every run the lesson opens is one of the
/// bundle's and opens.
pub fn open(bundle: &Path, cache_root: &Path) -> Result<Lesson, BundleError> {
    let unpacked = unpack(bundle, cache_root)?;
    let result = lesson_of(bundle, &unpacked);
    if result.is_err() {
        // What a bad bundle holds does not stay in the cache.
        std::fs::remove_dir_all(&unpacked.dir).ok();
    }
    result
}

/// The unpacked lesson, every run it opens one of the bundle's and opening.
fn lesson_of(bundle: &Path, unpacked: &Unpacked) -> Result<Lesson, BundleError> {
    let lesson = Lesson::from_file(&unpacked.lesson_file())?;
    let shown = bundle.display().to_string();
    for step in &lesson.steps {
        let Some(o) = &step.changes.open else {
            continue;
        };
        let inside = o.value.strip_prefix(&unpacked.dir).ok().filter(|rest| {
            rest.components().count() > 0
                && rest.components().all(|c| matches!(c, Component::Normal(_)))
        });
        let Some(inside) = inside else {
            return Err(BundleError::OutsideRun {
                path: shown,
                run: o.value.display().to_string(),
                line: o.line,
            });
        };
        run::open_run(&o.value).map_err(|source| BundleError::Run {
            path: shown.clone(),
            run: inside.display().to_string(),
            source: Box::new(source),
        })?;
    }
    Ok(lesson)
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Checks the bundle and unpacks it into `<cache_root>/lessons/<its SHA-256>/`, or
/// re-checks the folder an earlier open left there and reuses it.
pub fn unpack(bundle: &Path, cache_root: &Path) -> Result<Unpacked, BundleError> {
    let shown = bundle.display().to_string();
    let len = std::fs::metadata(bundle).map_err(io_err(bundle))?.len();
    if len > MAX_TOTAL_BYTES {
        return Err(BundleError::TooLarge {
            path: shown,
            why: format!("it is {len} bytes, more than a bundle may be ({MAX_TOTAL_BYTES})"),
        });
    }
    let mut file = File::open(bundle).map_err(io_err(bundle))?;
    let (_, sha) = hash(&mut file, &mut std::io::sink()).map_err(io_err(bundle))?;
    check_entry_count(&mut file, len, &shown)?;
    let mut archive =
        zip::ZipArchive::new(File::open(bundle).map_err(io_err(bundle))?).map_err(|e| {
            BundleError::NotABundle {
                path: shown.clone(),
                why: format!("not a whole zip archive, it may be cut short: {e}"),
            }
        })?;
    let manifest = read_manifest(&mut archive, &shown)?;
    check_entries(&mut archive, &manifest, &shown)?;

    let root = cache_root.join(CACHE_FOLDER);
    let dir = root.join(&sha);
    let unpacked = Unpacked {
        dir: dir.clone(),
        manifest,
    };
    if dir.is_dir() {
        if verify_dir(&unpacked).is_ok() {
            return Ok(unpacked);
        }
        // Damaged since: unpack again.
        std::fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
    }
    std::fs::create_dir_all(&root).map_err(io_err(&root))?;
    remove_leftovers(&root, &sha);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = root.join(format!(".{sha}.partial-{}-{n}", std::process::id()));
    std::fs::create_dir(&tmp).map_err(io_err(&tmp))?;
    let result = extract(&mut archive, &unpacked.manifest, &tmp, &shown)
        .and_then(|()| std::fs::rename(&tmp, &dir).map_err(io_err(&dir)));
    if let Err(e) = result {
        std::fs::remove_dir_all(&tmp).ok();
        // Another open of the same bundle may have put it in place first.
        if dir.is_dir() && verify_dir(&unpacked).is_ok() {
            return Ok(unpacked);
        }
        return Err(e);
    }
    Ok(unpacked)
}

/// Removes the half-unpacked folders of `sha` that a process no longer running left behind
/// (where that can be seen: Linux's /proc).
fn remove_leftovers(root: &Path, sha: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let prefix = format!(".{sha}.partial-");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(&prefix)
            .and_then(|tail| tail.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        let gone = pid.is_some_and(|pid| {
            pid != std::process::id()
                && cfg!(target_os = "linux")
                && !Path::new(&format!("/proc/{pid}")).exists()
        });
        if gone {
            std::fs::remove_dir_all(entry.path()).ok();
        }
    }
}

/// Writes every listed file into `dir`, hashing as it goes; stops at the first that differs.
fn extract<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    m: &BundleManifest,
    dir: &Path,
    shown: &str,
) -> Result<(), BundleError> {
    for f in &m.files {
        // Names were checked: relative, '/'-separated, no '..', so this stays in `dir`.
        let path = f.name.split('/').fold(dir.to_path_buf(), |p, c| p.join(c));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut out = File::create_new(&path).map_err(io_err(&path))?;
        let corrupt = |why: String| BundleError::Corrupt {
            path: shown.to_string(),
            entry: f.name.clone(),
            why,
        };
        let entry = archive
            .by_name(&f.name)
            .map_err(|e| corrupt(format!("does not read: {e}")))?;
        let (bytes, sha) = hash(&mut entry.take(f.bytes + 1), &mut out)
            .map_err(|e| corrupt(format!("does not read: {e}")))?;
        check_file(f, bytes, &sha).map_err(|e| corrupt(e.to_string()))?;
        out.sync_all().map_err(io_err(&path))?;
    }
    Ok(())
}

/// Re-checks an unpacked folder: every listed file there with its length and hash.
fn verify_dir(u: &Unpacked) -> Result<(), FileMismatch> {
    for f in &u.manifest.files {
        let path = f.name.split('/').fold(u.dir.clone(), |p, c| p.join(c));
        if !std::fs::symlink_metadata(&path)?.is_file() {
            return Err(FileMismatch::NotAFile);
        }
        let mut file = File::open(&path)?;
        let (bytes, sha) = hash(&mut (&mut file).take(f.bytes + 1), &mut std::io::sink())?;
        check_file(f, bytes, &sha)?;
    }
    Ok(())
}

/// Copies `from` into `to`, returning the length and SHA-256 (hex) of what passed.
pub(crate) fn hash(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        len += n as u64;
    }
    let hex = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((len, hex))
}

#[cfg(test)]
mod tests;
