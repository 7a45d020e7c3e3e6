//! Writing a run so that a folder under its name is always complete: every file goes into
//! a fresh hidden sibling (`.NAME.partial-PID-N`) and is synced, run.json goes last, then
//! the folder is renamed into place and its parent synced. Overwriting swaps the new folder
//! with the old run in one step (Linux `renameat2(RENAME_EXCHANGE)`) and removes the old
//! one last, so the name always holds a complete run; where the swap is not available the
//! old run is moved aside (`.NAME.old-PID-N`) for the instant between two renames, and put
//! back by the next save if a crash falls there. Only a LatentLab run is ever replaced: a
//! folder holding anything its run.json does not list is refused. One save of a name at a
//! time: `.NAME.lock` beside it is held (flock) from `begin` until the run is in place or
//! abandoned.
//! Leftovers of a crashed save are cleaned up by the next save beside them.
//!
//! `LATENTLAB_CRASH_AT_SAVE_STEP=N` aborts the process at the Nth file-system step of a
//! save, and `LATENTLAB_SLOW_SAVE_MS=M` sleeps M ms before each: the crash tests use them.

use super::lock::{RunLock, exchange};
use super::{
    FileEntry, MANIFEST, Manifest, RUN_FORMAT, RUN_VERSION, RunError, hash_file, io_err, plain_name,
};
use crate::train::spec::RunSpec;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A run being written: the hidden folder its files go into and where it will be renamed.
#[derive(Clone, Debug)]
pub struct Staging {
    target: PathBuf,
    dir: PathBuf,
    overwrite: bool,
    replaces: bool,
    /// Held until the run is in place or abandoned (then taken and dropped).
    lock: Arc<Mutex<Option<RunLock>>>,
}

/// What the worker needs to finish a save: the staging folder (which already holds the
/// caller's files) and the settings to write into run.json.
#[derive(Clone, Debug)]
pub struct RunSave {
    /// The folder being written.
    pub staging: Staging,
    /// The run's settings.
    pub spec: RunSpec,
    /// The window's grid side, if the window saves.
    pub grid_k: Option<usize>,
}

/// Counts the file-system steps of saves in this process (for the crash hook).
static STEPS: AtomicUsize = AtomicUsize::new(0);

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Before each file-system step of a save: the crash and slow-down hooks of the tests.
fn fs_step(what: &str, path: &Path) {
    static CRASH_AT: OnceLock<Option<u64>> = OnceLock::new();
    static SLOW_MS: OnceLock<Option<u64>> = OnceLock::new();
    let n = STEPS.fetch_add(1, Ordering::SeqCst) as u64 + 1;
    if let Some(ms) = *SLOW_MS.get_or_init(|| env_number("LATENTLAB_SLOW_SAVE_MS")) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    if *CRASH_AT.get_or_init(|| env_number("LATENTLAB_CRASH_AT_SAVE_STEP")) == Some(n) {
        eprintln!(
            "crash hook: abort at save step {n}, before {what} {}",
            path.display()
        );
        std::process::abort();
    }
}

/// Syncs a folder's entries (renames, new files) to disk.
fn sync_dir(dir: &Path) -> Result<(), RunError> {
    fs_step("syncing folder", dir);
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))?;
    Ok(())
}

/// The process that wrote a leftover, from its name's `PID-N` tail.
fn leftover_pid(tail: &str) -> Option<u32> {
    tail.split('-').next()?.parse().ok()
}

/// True if process `pid` may still be writing (ours, or alive where that can be seen).
fn may_be_running(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        false
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A sibling name for `target`: `.NAME.<what>-PID-N`.
fn sibling(parent: &Path, name: &str, what: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    parent.join(format!(".{name}.{what}-{}-{n}", std::process::id()))
}

/// Removes what crashed saves of `name` left in `parent`: half-written folders go; an old
/// run moved aside goes back in place if nothing took its place, else it goes too. (Not
/// steps of the crash hook: a crash here leaves the same leftovers for the next save.)
fn clean_leftovers(parent: &Path, name: &str, target: &Path) -> Result<(), RunError> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    let partial = format!(".{name}.partial-");
    let old = format!(".{name}.old-");
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if let Some(tail) = file_name.strip_prefix(&partial) {
            if leftover_pid(tail).is_some_and(|p| !may_be_running(p)) {
                std::fs::remove_dir_all(&path).map_err(io_err(&path))?;
            }
        } else if let Some(tail) = file_name.strip_prefix(&old)
            && leftover_pid(tail).is_some_and(|p| !may_be_running(p))
        {
            if target.exists() {
                std::fs::remove_dir_all(&path).map_err(io_err(&path))?;
            } else {
                std::fs::rename(&path, target).map_err(io_err(&path))?;
            }
        }
    }
    Ok(())
}

impl Staging {
    /// Whether a run may be saved as `target`, before anything is written: a saved run is
    /// replaced only with `overwrite`; anything else that is not an empty folder (a file, a
    /// link, a folder holding files its run.json does not list) is refused however it is
    /// asked. Returns true if saving would replace what is there.
    pub fn check(target: &Path, overwrite: bool) -> Result<bool, RunError> {
        let shown = target.display().to_string();
        let refuse = |what: String| RunError::NotReplaceable {
            path: shown.clone(),
            what,
        };
        let meta = match std::fs::symlink_metadata(target) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err(target)(e)),
        };
        if meta.file_type().is_symlink() {
            let to = std::fs::read_link(target)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "?".into());
            return Err(refuse(format!(
                "it is a symbolic link (to {to}); a run is saved as a folder of its own, so \
                 give a real folder's path"
            )));
        }
        if !meta.is_dir() {
            return Err(refuse("it is a file, not a folder".into()));
        }
        let mut entries = std::fs::read_dir(target).map_err(io_err(target))?;
        if entries.next().is_none() {
            return Ok(false);
        }
        match is_run(target) {
            Ok(()) if overwrite => Ok(true),
            Ok(()) => Err(RunError::Exists {
                path: shown,
                what: "a saved run is already there".into(),
            }),
            Err(why) => Err(refuse(format!("the folder is not empty and {why}"))),
        }
    }

    /// Starts writing a run to be called `target` (refused as [`Staging::check`] says),
    /// first cleaning up what crashed saves of the same name left beside it.
    pub fn begin(target: &Path, overwrite: bool) -> Result<Staging, RunError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| plain_name(n))
            .ok_or_else(|| RunError::Invalid {
                path: target.display().to_string(),
                why: "a run needs a folder name to be saved as".into(),
            })?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            fs_step("creating folder", &parent);
            std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        }
        let lock = RunLock::take(&parent, &name, target)?;
        clean_leftovers(&parent, &name, target)?;
        let replaces = Self::check(target, overwrite)?;
        let dir = sibling(&parent, &name, "partial");
        fs_step("creating the staging folder", &dir);
        std::fs::create_dir(&dir).map_err(io_err(&dir))?;
        Ok(Staging {
            target: target.to_path_buf(),
            dir,
            overwrite,
            replaces,
            lock: Arc::new(Mutex::new(Some(lock))),
        })
    }

    /// The hidden folder the files go into.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Where the run will be.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// True if saving replaces a run (or files) already at the target.
    pub fn replaces(&self) -> bool {
        self.replaces
    }

    /// Writes one file of the run.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        let path = self.dir.join(name);
        if !plain_name(name) || name == MANIFEST {
            return Err(RunError::Invalid {
                path: path.display().to_string(),
                why: "not a name a run's file can have".into(),
            });
        }
        fs_step("writing", &path);
        std::fs::write(&path, bytes).map_err(io_err(&path))
    }

    /// Removes the staging folder (after an error).
    pub fn abandon(&self) {
        std::fs::remove_dir_all(&self.dir).ok();
        self.release();
    }

    /// Lets another save of the name begin.
    fn release(&self) {
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }
}

/// Finishes a run: syncs and hashes every file in the staging folder, writes `manifest`
/// (its `files` filled in here) as run.json, syncs it, and renames the folder into place.
/// On an error the staging folder is removed and the target is as it was.
pub fn commit(staging: &Staging, mut manifest: Manifest) -> Result<PathBuf, RunError> {
    let result = (|| {
        manifest.format = RUN_FORMAT.into();
        manifest.version = RUN_VERSION;
        manifest.files = sync_and_hash(&staging.dir)?;
        let json = serde_json::to_string_pretty(&manifest).map_err(|e| RunError::Invalid {
            path: staging.dir.join(MANIFEST).display().to_string(),
            why: e.to_string(),
        })?;
        let path = staging.dir.join(MANIFEST);
        fs_step("writing", &path);
        let mut f = std::fs::File::create(&path).map_err(io_err(&path))?;
        f.write_all(json.as_bytes()).map_err(io_err(&path))?;
        fs_step("syncing", &path);
        f.sync_all().map_err(io_err(&path))?;
        drop(f);
        sync_dir(&staging.dir)?;
        move_into_place(staging)
    })();
    if result.is_err() {
        staging.abandon();
    }
    staging.release();
    result
}

/// Syncs every file of the folder and lists it with its length and hash, by name.
fn sync_and_hash(dir: &Path) -> Result<Vec<FileEntry>, RunError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != MANIFEST)
        .collect();
    names.sort();
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(&name);
        fs_step("syncing", &path);
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&path))?;
        let (bytes, sha256) = hash_file(&path)?;
        files.push(FileEntry {
            name,
            bytes,
            sha256,
        });
    }
    Ok(files)
}

/// Why a folder is not a LatentLab run that a save may replace; the messages follow
/// "the folder ".
#[derive(Debug, thiserror::Error)]
enum NotARunFolder {
    #[error("holds no {MANIFEST} (it is not a saved run)")]
    NoManifest,
    #[error("its {MANIFEST} does not read (it is not a saved run)")]
    Unreadable,
    #[error("its {MANIFEST} is not a LatentLab run's (no format \"{RUN_FORMAT}\")")]
    OtherFormat,
    #[error("cannot be read ({0})")]
    Io(std::io::Error),
    #[error("holds '{0}', which its run.json does not list (not part of a run)")]
    Unlisted(String),
}

/// True if `dir` holds a LatentLab run and nothing else: its run.json says the run format
/// (its other fields may be damaged: it is still ours to replace), and every entry of the
/// folder is run.json or a file it lists. Else what the folder is.
fn is_run(dir: &Path) -> Result<(), NotARunFolder> {
    let path = dir.join(MANIFEST);
    let len = std::fs::symlink_metadata(&path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .ok_or(NotARunFolder::NoManifest)?;
    let value: serde_json::Value = (len <= super::MAX_MANIFEST_BYTES)
        .then(|| std::fs::read_to_string(&path).ok())
        .flatten()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or(NotARunFolder::Unreadable)?;
    if value.get("format").and_then(|f| f.as_str()) != Some(RUN_FORMAT) {
        return Err(NotARunFolder::OtherFormat);
    }
    let listed: Vec<&str> = value
        .get("files")
        .and_then(|f| f.as_array())
        .map(|files| {
            files
                .iter()
                .filter_map(|f| f.get("name").and_then(|n| n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let entries = std::fs::read_dir(dir).map_err(NotARunFolder::Io)?;
    for entry in entries {
        let entry = entry.map_err(NotARunFolder::Io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !(is_file && (name == MANIFEST || listed.contains(&name.as_str()))) {
            return Err(NotARunFolder::Unlisted(name));
        }
    }
    Ok(())
}

/// Renames the finished folder to the target. A run there is swapped with the new one in
/// one step and removed once the new one is in place; where swapping is not available, it
/// is moved aside for the instant between two renames.
fn move_into_place(s: &Staging) -> Result<PathBuf, RunError> {
    let parent = s.dir.parent().unwrap_or(Path::new(".")).to_path_buf();
    if let Ok(mut entries) = std::fs::read_dir(&s.target) {
        if entries.next().is_none() {
            fs_step("removing the empty folder", &s.target);
            std::fs::remove_dir(&s.target).map_err(io_err(&s.target))?;
        } else if s.overwrite {
            // Checked again under the lock: what is there now is what gets replaced.
            is_run(&s.target).map_err(|why| RunError::NotReplaceable {
                path: s.target.display().to_string(),
                what: format!("the folder {why}"),
            })?;
            fs_step("swapping the new run with the old", &s.target);
            if exchange(&s.dir, &s.target).map_err(io_err(&s.target))? {
                sync_dir(&parent)?;
                // The staging name now holds the old run.
                fs_step("removing the old run", &s.dir);
                std::fs::remove_dir_all(&s.dir).map_err(io_err(&s.dir))?;
                return Ok(s.target.clone());
            }
            return move_aside_then_in(s, &parent);
        } else {
            return Err(RunError::Exists {
                path: s.target.display().to_string(),
                what: "something was saved there while this run was being written".into(),
            });
        }
    }
    fs_step("renaming into place", &s.target);
    std::fs::rename(&s.dir, &s.target).map_err(io_err(&s.target))?;
    sync_dir(&parent)?;
    Ok(s.target.clone())
}

/// The fallback where folders cannot be swapped: the old run goes aside, the new one in,
/// then the old one is removed (a crash between the renames leaves the old run aside, and
/// the next save puts it back).
fn move_aside_then_in(s: &Staging, parent: &Path) -> Result<PathBuf, RunError> {
    let name = s
        .target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let old = sibling(parent, &name, "old");
    fs_step("moving the old run aside", &s.target);
    std::fs::rename(&s.target, &old).map_err(io_err(&s.target))?;
    fs_step("renaming into place", &s.target);
    if let Err(e) = std::fs::rename(&s.dir, &s.target) {
        std::fs::rename(&old, &s.target).ok();
        return Err(io_err(&s.target)(e));
    }
    sync_dir(parent)?;
    fs_step("removing the old run", &old);
    std::fs::remove_dir_all(&old).map_err(io_err(&old))?;
    Ok(s.target.clone())
}
