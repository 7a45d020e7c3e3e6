//! The two file-system guarantees a save leans on: one writer per run name at a time (a
//! lock file beside the run, `.NAME.lock`, held with `flock` so that a killed writer
//! releases it), and replacing a folder in one step (Linux `renameat2(RENAME_EXCHANGE)`).

use super::{RunError, io_err};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock of one run name, held until dropped (the file is removed then).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    _file: File,
}

impl RunLock {
    /// Takes the lock `.NAME.lock` in `parent`, or says that another save of `target`
    /// holds it. Never waits.
    pub fn take(parent: &Path, name: &str, target: &Path) -> Result<RunLock, RunError> {
        let path = parent.join(format!(".{name}.lock"));
        // A lock file removed by its last holder between our open and our lock is a stale
        // inode: try again on the new file.
        for _ in 0..8 {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            if !try_lock(&file).map_err(io_err(&path))? {
                return Err(RunError::Busy {
                    path: target.display().to_string(),
                    lock: path.display().to_string(),
                });
            }
            if same_file(&file, &path) {
                return Ok(RunLock { path, _file: file });
            }
        }
        Err(RunError::Busy {
            path: target.display().to_string(),
            lock: path.display().to_string(),
        })
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still locked, so a waiting writer sees a new inode (see `take`).
        std::fs::remove_file(&self.path).ok();
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function borrows; no memory is involved.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// True if `path` is still the file `file` has open.
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// Swaps the folders `a` and `b` in one step. `Ok(false)` where the system or the file
/// system cannot (the caller falls back); an error for anything else.
#[cfg(target_os = "linux")]
pub fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: two NUL-terminated paths that live across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(e),
    }
}

/// Swaps the folders `a` and `b` in one step: not available here.
#[cfg(not(target_os = "linux"))]
pub fn exchange(_a: &Path, _b: &Path) -> std::io::Result<bool> {
    Ok(false)
}
