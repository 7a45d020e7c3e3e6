//! One file: check what is cached, else download it from the mirrors in turn into
//! `NAME.part`, verify, sync, rename.

use super::{Expected, FetchError, FileSource, md5_hex};
use md5::{Digest, Md5};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Bytes read per chunk; the cancel flag and the progress callback are seen once per chunk.
const CHUNK: usize = 64 * 1024;
/// Every download may take this long, plus [`SLOWEST_BYTES_PER_SEC`]'s time for its bytes:
/// a server that trickles never holds a fetch forever.
const DEADLINE_BASE: Duration = Duration::from_secs(120);
/// The slowest transfer waited for to the end (about 40 minutes for MNIST's largest file).
const SLOWEST_BYTES_PER_SEC: u64 = 4096;
/// Most bytes a file without a listed size may have.
const MAX_UNSIZED_BYTES: u64 = 512 << 20;

/// How long a download of `size` bytes may take in all (`LATENTLAB_FETCH_DEADLINE_SECS`
/// sets it, for the tests).
fn deadline_for(size: Option<u64>) -> Duration {
    if let Some(secs) = std::env::var("LATENTLAB_FETCH_DEADLINE_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
    {
        return Duration::from_secs_f64(secs);
    }
    let bytes = size.unwrap_or(MAX_UNSIZED_BYTES);
    DEADLINE_BASE + Duration::from_secs(bytes / SLOWEST_BYTES_PER_SEC)
}

/// A fetch in progress: the HTTP agent, the mirrors and the cancel flag.
pub(super) struct Job<'a> {
    agent: ureq::Agent,
    mirrors: &'a [String],
    cancel: &'a AtomicBool,
}

/// Where a download is going and what it must be.
struct Target<'a> {
    file: &'a str,
    url: String,
    part: PathBuf,
    expected: Expected,
}

impl Target<'_> {
    fn transfer(&self, problem: impl Into<String>) -> FetchError {
        FetchError::Transfer {
            file: self.file.to_string(),
            url: self.url.clone(),
            problem: problem.into(),
        }
    }
}

impl<'a> Job<'a> {
    pub(super) fn new(mirrors: &'a [String], cancel: &'a AtomicBool) -> Self {
        let config = ureq::Agent::config_builder()
            // Statuses are handled here, so that a 404 names the file and the status.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(20)))
            // A stalled server fails after this long; it also bounds how long a cancel waits.
            .timeout_per_read(Some(Duration::from_secs(30)))
            .user_agent(concat!("latentlab/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
            mirrors,
            cancel,
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Makes `dir/file` a verified copy: keeps a good one, else downloads it. Mirrors that
    /// fail before one succeeds are described in `failures`.
    pub(super) fn file(
        &self,
        dir: &Path,
        file: &str,
        expected: Expected,
        progress: &mut dyn FnMut(u64, Option<u64>),
        failures: &mut Vec<String>,
    ) -> Result<FileSource, FetchError> {
        if self.cancelled() {
            return Err(FetchError::Cancelled);
        }
        let dest = dir.join(file);
        if already_good(&dest, expected)? {
            let size = std::fs::metadata(&dest).map_or(0, |m| m.len());
            progress(size, Some(size));
            return Ok(FileSource::AlreadyPresent);
        }
        let part = dir.join(format!("{file}.part"));
        remove_if_present(&part)?;
        let mut errors = Vec::new();
        for mirror in self.mirrors {
            let target = Target {
                file,
                url: join_url(mirror, file),
                part: part.clone(),
                expected,
            };
            let attempt = self
                .download(&target, progress)
                .and_then(|()| commit(&part, &dest));
            match attempt {
                Ok(()) => {
                    failures.extend(errors.iter().map(|e: &FetchError| e.to_string()));
                    return Ok(FileSource::Downloaded { url: target.url });
                }
                Err(e) => {
                    remove_if_present(&part)?;
                    if !e.is_mirror_problem() {
                        return Err(e);
                    }
                    errors.push(e);
                }
            }
        }
        Err(match errors.len() {
            1 => errors.remove(0),
            _ => FetchError::AllMirrors {
                file: file.to_string(),
                failures: errors,
            },
        })
    }

    /// Downloads `target.url` into `target.part`, checking size and MD5; the caller removes
    /// the part file on error.
    fn download(
        &self,
        target: &Target<'_>,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<(), FetchError> {
        let response = self
            .agent
            .get(&target.url)
            .call()
            .map_err(|e| target.transfer(format!("request failed: {e}")))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Http {
                file: target.file.to_string(),
                url: target.url.clone(),
                status: format!(
                    "{} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )
                .trim_end()
                .to_string(),
            });
        }
        let body = response.into_body();
        let announced = body.content_length();
        let size = target.expected.size;
        if let (Some(len), Some(size)) = (announced, size)
            && len != size
        {
            return Err(
                target.transfer(format!("the server announces {len} bytes, expected {size}"))
            );
        }
        let mut out = File::create(&target.part).map_err(|e| FetchError::io(&target.part, e))?;
        let (done, md5) = self.copy(body.into_reader(), &mut out, target, announced, progress)?;
        if let Some(len) = announced.filter(|&len| done < len) {
            return Err(
                target.transfer(format!("the connection closed after {done} of {len} bytes"))
            );
        }
        if let Some(size) = size.filter(|&size| done != size) {
            return Err(target.transfer(format!("the download ended after {done} of {size} bytes")));
        }
        if md5 != target.expected.md5 {
            return Err(FetchError::Checksum {
                file: target.file.to_string(),
                url: target.url.clone(),
                expected: md5_hex(&target.expected.md5),
                actual: md5_hex(&md5),
            });
        }
        out.sync_all().map_err(|e| FetchError::io(&target.part, e))
    }

    /// Copies the body into `out` chunk by chunk, hashing it; returns the byte count and MD5.
    fn copy(
        &self,
        mut body: impl Read,
        out: &mut File,
        target: &Target<'_>,
        announced: Option<u64>,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<(u64, [u8; 16]), FetchError> {
        let total = target.expected.size.or(announced);
        let limit = deadline_for(total);
        let started = std::time::Instant::now();
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; CHUNK];
        let mut done = 0u64;
        progress(0, total);
        loop {
            if self.cancelled() {
                return Err(FetchError::Cancelled);
            }
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    let of = total.map_or(String::new(), |t| format!(" of {t}"));
                    return Err(target
                        .transfer(format!("the connection broke after {done}{of} bytes: {e}")));
                }
            };
            done += n as u64;
            if let Some(size) = target.expected.size.filter(|&size| done > size) {
                return Err(target.transfer(format!(
                    "the server sent more than the expected {size} bytes"
                )));
            }
            if done > MAX_UNSIZED_BYTES {
                return Err(target.transfer(format!(
                    "the server sent more than {MAX_UNSIZED_BYTES} bytes"
                )));
            }
            if started.elapsed() > limit {
                let of = total.map_or(String::new(), |t| format!(" of {t}"));
                return Err(target.transfer(format!(
                    "the download did not finish within {} s ({done}{of} bytes came); the \
                     server is too slow",
                    limit.as_secs_f64()
                )));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| FetchError::io(&target.part, e))?;
            progress(done, total);
        }
        let mut md5 = [0u8; 16];
        md5.copy_from_slice(&hasher.finalize());
        Ok((done, md5))
    }
}

/// `mirror` and `file` joined with exactly one slash.
pub(super) fn join_url(mirror: &str, file: &str) -> String {
    format!("{}/{file}", mirror.trim_end_matches('/'))
}

/// True when `dest` holds the expected bytes. A file with other bytes stays until a
/// verified download replaces it (one rename), so a failed fetch loses nothing.
pub(super) fn already_good(dest: &Path, expected: Expected) -> Result<bool, FetchError> {
    let meta = match std::fs::metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(FetchError::io(dest, e)),
    };
    if !meta.is_file() {
        return Err(FetchError::io(
            dest,
            std::io::Error::other("is in the way of a download (not a file)"),
        ));
    }
    let size_ok = expected.size.is_none_or(|s| s == meta.len());
    Ok(size_ok && file_md5(dest)? == expected.md5)
}

pub(super) fn file_md5(path: &Path) -> Result<[u8; 16], FetchError> {
    let mut file = File::open(path).map_err(|e| FetchError::io(path, e))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(FetchError::io(path, e)),
        }
    }
    let mut md5 = [0u8; 16];
    md5.copy_from_slice(&hasher.finalize());
    Ok(md5)
}

fn remove_if_present(path: &Path) -> Result<(), FetchError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(FetchError::io(path, e)),
        _ => Ok(()),
    }
}

/// Gives the verified, synced part file its real name, then syncs the folder so the
/// rename survives a power cut (best effort: not every platform can sync a folder).
fn commit(part: &Path, dest: &Path) -> Result<(), FetchError> {
    std::fs::rename(part, dest).map_err(|e| FetchError::io(dest, e))?;
    if let Some(dir) = dest.parent()
        && let Ok(d) = File::open(dir)
    {
        d.sync_all().ok();
    }
    Ok(())
}
