//! What is checked before a byte of a bundle is unpacked: bundle.json (size, format,
//! version, names, sizes), and every entry of the archive against it (a safe name, a plain
//! stored file, listed, with the listed length); and each file's length and hash.

use super::{BUNDLE_FORMAT, BUNDLE_MANIFEST, BUNDLE_VERSION, BundleError, BundleManifest};
use super::{MAX_ENTRIES, MAX_FILE_BYTES, MAX_MANIFEST_BYTES, MAX_TOTAL_BYTES};
use crate::train::run::FileEntry;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// The end-of-archive record's signature, and the longest tail it can sit in (its 22
/// bytes and a comment of at most 65 535).
const END_SIGNATURE: &[u8; 4] = b"PK\x05\x06";
const END_TAIL_BYTES: u64 = 22 + 65_535;

/// Reads the entry count from the end of the archive before the zip reader sees it (which
/// would hold every entry the archive claims in memory): at most [`MAX_ENTRIES`] and
/// bundle.json, and no zip64 record (bundles never need one).
pub(super) fn check_entry_count(file: &mut File, len: u64, shown: &str) -> Result<(), BundleError> {
    let cut_short = |why: &str| BundleError::NotABundle {
        path: shown.to_string(),
        why: format!("not a whole zip archive, it may be cut short: {why}"),
    };
    let tail_len = len.min(END_TAIL_BYTES);
    let mut tail = vec![0u8; tail_len as usize];
    file.seek(SeekFrom::Start(len - tail_len))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(|e| cut_short(&e.to_string()))?;
    let Some(end) = tail
        .windows(4)
        .rposition(|w| w == END_SIGNATURE)
        .filter(|&i| i + 22 <= tail.len())
    else {
        return Err(cut_short("it has no end-of-archive record"));
    };
    let entries = u16::from_le_bytes([tail[end + 10], tail[end + 11]]);
    if usize::from(entries) > MAX_ENTRIES + 1 {
        return Err(BundleError::TooLarge {
            path: shown.to_string(),
            why: format!("it holds {entries} entries, more than a bundle may ({MAX_ENTRIES})"),
        });
    }
    if end >= 20 && &tail[end - 20..end - 16] == b"PK\x06\x07" {
        return Err(BundleError::NotABundle {
            path: shown.to_string(),
            why: "it is a zip64 archive, which a bundle never needs to be".into(),
        });
    }
    Ok(())
}

/// What is wrong with `name` as the name of a file inside a bundle, if anything: it must
/// be relative, `/`-separated, and stay inside the folder it unpacks into.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("has an empty name");
    }
    if name.starts_with(['/', '\\']) || name.get(1..2) == Some(":") {
        return Some("is an absolute path");
    }
    if name.contains('\\') || name.contains(':') {
        return Some("holds '\\' or ':' (names inside a bundle use '/' only)");
    }
    if name.chars().any(char::is_control) {
        return Some("holds a control character");
    }
    let parts: Vec<&str> = name.split('/').collect();
    if parts.contains(&"..") {
        return Some("holds '..', which would leave the folder it unpacks into");
    }
    if parts.iter().any(|p| p.is_empty() || *p == ".") {
        return Some("has an empty or '.' part");
    }
    None
}

/// Reads and checks bundle.json: format, version, names, sizes (before any file is read).
pub(super) fn read_manifest<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    shown: &str,
) -> Result<BundleManifest, BundleError> {
    let not = |why: String| BundleError::NotABundle {
        path: shown.to_string(),
        why,
    };
    let mut entry = archive
        .by_name(BUNDLE_MANIFEST)
        .map_err(|_| not(format!("it has no {BUNDLE_MANIFEST}")))?;
    if entry.size() > MAX_MANIFEST_BYTES {
        return Err(not(format!(
            "its {BUNDLE_MANIFEST} is {} bytes, more than a bundle's manifest can be",
            entry.size()
        )));
    }
    let mut text = String::new();
    entry
        .by_ref()
        .take(MAX_MANIFEST_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| not(format!("its {BUNDLE_MANIFEST} does not read: {e}")))?;
    drop(entry);
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| not(format!("its {BUNDLE_MANIFEST} is not valid JSON: {e}")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(BUNDLE_FORMAT) {
        return Err(not(format!(
            "its {BUNDLE_MANIFEST} does not say format \"{BUNDLE_FORMAT}\""
        )));
    }
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version != u64::from(BUNDLE_VERSION) {
        return Err(BundleError::Version {
            path: shown.to_string(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
        });
    }
    let m: BundleManifest = serde_json::from_value(value)
        .map_err(|e| not(format!("its {BUNDLE_MANIFEST} does not read: {e}")))?;
    check_manifest(&m, shown)?;
    Ok(m)
}

/// The manifest's own promises: few enough files, each small enough, safe names, no name
/// twice, the lesson among them.
fn check_manifest(m: &BundleManifest, shown: &str) -> Result<(), BundleError> {
    let too_large = |why: String| BundleError::TooLarge {
        path: shown.to_string(),
        why,
    };
    if m.files.len() > MAX_ENTRIES {
        return Err(too_large(format!(
            "{BUNDLE_MANIFEST} lists {} files, more than a bundle may hold ({MAX_ENTRIES})",
            m.files.len()
        )));
    }
    let mut total = 0u64;
    let mut seen = BTreeSet::new();
    for f in &m.files {
        if let Some(why) = name_problem(&f.name) {
            return Err(BundleError::Unsafe {
                path: shown.to_string(),
                entry: f.name.clone(),
                why: format!("(listed in {BUNDLE_MANIFEST}) {why}"),
            });
        }
        if f.bytes > MAX_FILE_BYTES {
            return Err(too_large(format!(
                "{BUNDLE_MANIFEST} says '{}' is {} bytes, more than a file in a bundle may be \
                 ({MAX_FILE_BYTES})",
                f.name, f.bytes
            )));
        }
        total = total.saturating_add(f.bytes);
        if total > MAX_TOTAL_BYTES {
            return Err(too_large(format!(
                "{BUNDLE_MANIFEST} lists more than {MAX_TOTAL_BYTES} bytes of files"
            )));
        }
        if f.name == BUNDLE_MANIFEST || !seen.insert(f.name.as_str()) {
            return Err(BundleError::NotABundle {
                path: shown.to_string(),
                why: format!("its {BUNDLE_MANIFEST} lists '{}' twice", f.name),
            });
        }
    }
    if !seen.contains(m.lesson.as_str()) || m.lesson.contains('/') {
        return Err(BundleError::NotABundle {
            path: shown.to_string(),
            why: format!(
                "its {BUNDLE_MANIFEST} names the lesson '{}', which is not one of its files",
                m.lesson
            ),
        });
    }
    Ok(())
}

/// Every entry of the archive: a safe name, a plain stored file, listed with the same
/// length; every listed file present. Reads no file's contents.
pub(super) fn check_entries<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    m: &BundleManifest,
    shown: &str,
) -> Result<(), BundleError> {
    // The entry count was checked before the reader opened ([`check_entry_count`]).
    let mut present = BTreeSet::new();
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| BundleError::NotABundle {
                path: shown.to_string(),
                why: format!("entry {i} does not read: {e}"),
            })?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let unsafe_entry = |why: &str| BundleError::Unsafe {
            path: shown.to_string(),
            entry: name.clone(),
            why: why.to_string(),
        };
        if let Some(why) = name_problem(&name) {
            return Err(unsafe_entry(why));
        }
        if entry.is_symlink() {
            return Err(unsafe_entry("is a symbolic link"));
        }
        let kind = entry.unix_mode().map_or(0, |m| m & 0o170000);
        if kind != 0 && kind != 0o100000 && !entry.is_dir() {
            return Err(unsafe_entry("is a device, pipe or other special file"));
        }
        if entry.is_dir() {
            return Err(unsafe_entry(
                "is a folder entry (a bundle lists only files)",
            ));
        }
        if entry.encrypted() || entry.compression() != zip::CompressionMethod::Stored {
            return Err(unsafe_entry(
                "is compressed or encrypted (a bundle stores its files as they are)",
            ));
        }
        if !present.insert(name.clone()) {
            return Err(unsafe_entry("is in the archive twice"));
        }
        if name == BUNDLE_MANIFEST {
            continue;
        }
        let Some(listed) = m.files.iter().find(|f| f.name == name) else {
            return Err(BundleError::Unlisted {
                path: shown.to_string(),
                entry: name,
            });
        };
        if entry.size() != listed.bytes {
            return Err(BundleError::Corrupt {
                path: shown.to_string(),
                entry: name,
                why: format!(
                    "is {} bytes in the archive, {BUNDLE_MANIFEST} says {}",
                    entry.size(),
                    listed.bytes
                ),
            });
        }
    }
    if let Some(f) = m.files.iter().find(|f| !present.contains(&f.name)) {
        return Err(BundleError::Missing {
            path: shown.to_string(),
            entry: f.name.clone(),
        });
    }
    Ok(())
}

/// How a file of a bundle differs from its entry in bundle.json (or why it cannot be read
/// to tell); the messages follow the file's name.
#[derive(Debug, thiserror::Error)]
pub(super) enum FileMismatch {
    #[error("is {found} bytes, {BUNDLE_MANIFEST} says {listed}")]
    Length { found: u64, listed: u64 },
    #[error("has another SHA-256 than the one in {BUNDLE_MANIFEST}")]
    Sha,
    #[error("is not a file")]
    NotAFile,
    #[error("does not read: {0}")]
    Io(#[from] std::io::Error),
}

pub(super) fn check_file(f: &FileEntry, bytes: u64, sha: &str) -> Result<(), FileMismatch> {
    if bytes != f.bytes {
        return Err(FileMismatch::Length {
            found: bytes,
            listed: f.bytes,
        });
    }
    if sha != f.sha256 {
        return Err(FileMismatch::Sha);
    }
    Ok(())
}
