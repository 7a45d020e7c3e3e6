//! Damaged copies of a saved run, shared by the tests that open them (the binary's
//! `--open` in bad_inputs.rs, the window's Open run… in window_bad_runs.rs).
#![allow(dead_code)] // each test file uses some of them

use std::path::{Path, PathBuf};

/// The SHA-256 of `bytes` in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A copy of the run `good` as `root/name`: `files` changes its files (the copy's folder),
/// then the listed lengths and hashes are made true again (so only the checks past the
/// hashes can refuse it), then `edit` changes run.json. Returns the copy's folder.
pub fn run_copy(
    root: &Path,
    good: &Path,
    name: &str,
    files: impl FnOnce(&Path),
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(good).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    files(&dir);
    let path = dir.join("run.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for f in v["files"].as_array_mut().unwrap() {
        let file = dir.join(f["name"].as_str().unwrap());
        if file.is_file() && std::fs::metadata(&file).unwrap().len() < (1 << 20) {
            let bytes = std::fs::read(&file).unwrap();
            f["bytes"] = bytes.len().into();
            f["sha256"] = sha256_hex(&bytes).into();
        }
    }
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    dir
}

/// An edit of run.json that sets the field at `pointer` (a JSON pointer) to `value`.
pub fn set(
    pointer: &'static str,
    value: serde_json::Value,
) -> impl Fn(&mut serde_json::Value) + Clone {
    move |v: &mut serde_json::Value| *v.pointer_mut(pointer).unwrap() = value.clone()
}
