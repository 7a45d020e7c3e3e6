//! `latentlab fetch` against a local HTTP server: good files, wrong bytes, a 404, a
//! connection cut mid-file, mirrors in order, a second fetch that downloads nothing, and a
//! cancel. No test touches the network beyond 127.0.0.1.

use latentlab::data::fetch::{self, Checksums, FILE_NAMES, FetchError, FetchOptions, RemoteSet};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod http;
mod ui;

use http::{Reply, Server, latentlab, md5_hex, text};

use egui_kittest::kittest::Queryable;

/// Four small valid gzipped IDX files: 12 training and 5 test images of 28x28, labels i % 10.
fn idx_files() -> Vec<(&'static str, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let image_bytes = |n: u32| {
        (0..n * 784)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>()
    };
    let labels = |n: u32| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    let parts: [(&str, Vec<u32>, Vec<u8>); 4] = [
        (FILE_NAMES[0], vec![12, 28, 28], image_bytes(12)),
        (FILE_NAMES[1], vec![12], labels(12)),
        (FILE_NAMES[2], vec![5, 28, 28], image_bytes(5)),
        (FILE_NAMES[3], vec![5], labels(5)),
    ];
    parts
        .into_iter()
        .map(|(name, dims, data)| {
            let path = dir.path().join(name);
            latentlab::data::write_idx(&path, &dims, &data, true).unwrap();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// A checksum file for `files`, written into `dir`.
fn checksum_file(dir: &Path, files: &[(&str, Vec<u8>)]) -> String {
    let text: String = files
        .iter()
        .map(|(name, bytes)| format!("{name} {}\n", md5_hex(bytes)))
        .collect();
    let path = dir.join("sums.txt");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Routes serving `files` under `prefix`.
fn routes(prefix: &str, files: &[(&str, Vec<u8>)]) -> HashMap<String, Reply> {
    files
        .iter()
        .map(|(name, bytes)| (format!("{prefix}{name}"), Reply::Body(bytes.clone())))
        .collect()
}

/// The file names in a folder, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs a fetch that must fail; returns its stderr and the files left in the cache.
fn failing_fetch(
    routes: HashMap<String, Reply>,
    files: &[(&str, Vec<u8>)],
) -> (String, Vec<String>, tempfile::TempDir) {
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let sums = checksum_file(tmp.path(), files);
    let cache = tmp.path().join("cache");
    let mirror = server.url("/m/");
    let out = latentlab(
        &["fetch", "mnist", "--mirror", &mirror, "--checksums", &sums],
        &cache,
    );
    assert!(!out.status.success(), "the fetch must fail");
    (text(&out.stderr), listing(&cache.join("mnist")), tmp)
}

#[test]
fn a_good_fetch_loads_and_a_second_fetch_downloads_nothing() {
    let files = idx_files();
    let server = Server::start(routes("/m/", &files));
    let tmp = tempfile::tempdir().unwrap();
    let sums = checksum_file(tmp.path(), &files);
    let cache = tmp.path().join("cache");
    // A leftover from a killed run is not trusted: it is deleted and the file fetched anew.
    std::fs::create_dir_all(cache.join("mnist")).unwrap();
    std::fs::write(
        cache.join("mnist").join("train-images-idx3-ubyte.gz.part"),
        b"junk",
    )
    .unwrap();
    let mirror = server.url("/m/");
    let args = [
        "fetch",
        "mnist",
        "--cache",
        cache.to_str().unwrap(),
        "--mirror",
        &mirror,
        "--checksums",
        &sums,
    ];
    let out = latentlab(&args, Path::new("/nonexistent-cache"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("downloaded from http://127.0.0.1").count(),
        4,
        "{stdout}"
    );
    assert!(
        stdout.contains("latentlab train --dataset mnist"),
        "{stdout}"
    );
    let mut want: Vec<String> = FILE_NAMES.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(
        listing(&cache.join("mnist")),
        want,
        "the four files and nothing else"
    );
    for (name, bytes) in &files {
        assert_eq!(
            &std::fs::read(cache.join("mnist").join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    assert_eq!(server.requests().len(), 4);

    let shown = latentlab(&["dataset", "mnist"], &cache);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    assert_eq!(
        text(&shown.stdout).lines().next().unwrap_or(""),
        "mnist: 12 train, 5 test, 28x28 gray images, 10 classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"
    );

    let again = latentlab(&args, Path::new("/nonexistent-cache"));
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(
        text(&again.stdout)
            .matches("already present, checksum ok")
            .count(),
        4
    );
    assert_eq!(server.requests().len(), 4, "nothing downloaded again");
}

#[test]
fn wrong_bytes_name_the_file_and_leave_nothing() {
    let files = idx_files();
    let mut served = routes("/m/", &files);
    let mut wrong = files[1].1.clone();
    let mid = wrong.len() / 2;
    wrong[mid] ^= 0x55;
    served.insert(format!("/m/{}", FILE_NAMES[1]), Reply::Body(wrong));
    let (stderr, left, tmp) = failing_fetch(served, &files);
    assert!(
        stderr.contains("train-labels-idx1-ubyte.gz: wrong bytes from http://")
            && stderr.contains(&format!("expected {}", md5_hex(&files[1].1))),
        "{stderr}"
    );
    assert_eq!(
        left,
        vec![FILE_NAMES[0].to_string()],
        "only the good file before it"
    );
    // What is left is not mistaken for a data set.
    let shown = latentlab(&["dataset", "mnist"], &tmp.path().join("cache"));
    let err = text(&shown.stderr);
    assert!(!shown.status.success());
    assert!(
        err.contains("no train-labels-idx1-ubyte.gz in")
            && err.contains("run `latentlab fetch mnist`"),
        "{err}"
    );
}

#[test]
fn a_404_names_the_file_and_the_status() {
    let files = idx_files();
    let mut served = routes("/m/", &files);
    served.remove(&format!("/m/{}", FILE_NAMES[2]));
    let (stderr, left, _tmp) = failing_fetch(served, &files);
    assert!(
        stderr.contains("t10k-images-idx3-ubyte.gz: HTTP 404 Not Found from http://"),
        "{stderr}"
    );
    assert!(
        !left.iter().any(|f| f.starts_with("t10k-images")),
        "{left:?}"
    );
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn a_connection_cut_mid_file_names_the_file_and_leaves_nothing() {
    let files = idx_files();
    let mut served = routes("/m/", &files);
    let full = files[0].1.clone();
    served.insert(
        format!("/m/{}", FILE_NAMES[0]),
        Reply::Cut {
            bytes: full[..full.len() / 2].to_vec(),
            claimed: full.len(),
        },
    );
    let (stderr, left, _tmp) = failing_fetch(served, &files);
    let half = full.len() / 2;
    assert!(
        stderr.contains("train-images-idx3-ubyte.gz: the connection")
            && stderr.contains(&format!("after {half} of {} bytes", full.len())),
        "{stderr}"
    );
    assert!(left.is_empty(), "nothing may be left: {left:?}");
}

#[test]
fn mirrors_are_tried_in_order() {
    let files = idx_files();
    let server = Server::start(routes("/second/", &files));
    let tmp = tempfile::tempdir().unwrap();
    let sums = checksum_file(tmp.path(), &files);
    let cache = tmp.path().join("cache");
    let (first, second) = (server.url("/first"), server.url("/second/"));
    let out = latentlab(
        &[
            "fetch",
            "mnist",
            "--mirror",
            &first,
            "--mirror",
            &second,
            "--checksums",
            &sums,
        ],
        &cache,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want: Vec<String> = FILE_NAMES
        .iter()
        .flat_map(|f| [format!("/first/{f}"), format!("/second/{f}")])
        .collect();
    assert_eq!(server.requests(), want);
    let stderr = text(&out.stderr);
    assert_eq!(stderr.matches("HTTP 404 Not Found").count(), 4, "{stderr}");
    assert_eq!(listing(&cache.join("mnist")).len(), 4);
}

#[test]
fn the_checksums_option_is_hidden_from_help() {
    let out = latentlab(&["fetch", "--help"], Path::new("/nonexistent-cache"));
    let help = text(&out.stdout);
    assert!(
        help.contains("--mirror") && help.contains("--cache"),
        "{help}"
    );
    assert!(!help.contains("checksums"), "{help}");
}

#[test]
fn cancel_stops_the_download_and_leaves_nothing() {
    let mut files = idx_files();
    // Large enough for many chunks, so the cancel lands mid-file.
    files[0].1 = (0..1_000_000u32).map(|i| (i * 31 % 253) as u8).collect();
    let server = Server::start(routes("/m/", &files));
    let tmp = tempfile::tempdir().unwrap();
    let opts = FetchOptions {
        mirrors: vec![server.url("/m/")],
        cache_root: tmp.path().to_path_buf(),
        checksums: Checksums::load(
            RemoteSet::Mnist,
            Path::new(&checksum_file(tmp.path(), &files)),
        )
        .unwrap(),
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let mut seen = Vec::new();
    let result = fetch::fetch(
        RemoteSet::Mnist,
        &opts,
        &mut |p| {
            seen.push((p.file.to_string(), p.done, p.total));
            if p.done > 0 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(FetchError::Cancelled)), "{result:?}");
    let (file, done, total) = seen.last().unwrap().clone();
    assert_eq!(file, FILE_NAMES[0]);
    assert_eq!(total, Some(1_000_000));
    assert!(done > 0 && done < 1_000_000, "cancelled mid-file: {done}");
    assert!(
        listing(&tmp.path().join("mnist")).is_empty(),
        "nothing may be left"
    );
    assert!(!fetch::is_cached(tmp.path(), RemoteSet::Mnist));
}

/// The window shows a message containing `text`.
fn assert_message(app: &latentlab::app::LatentLabApp, text: &str) {
    let shown: Vec<&str> = app
        .session
        .messages
        .iter()
        .map(|m| m.text.as_str())
        .collect();
    assert!(shown.iter().any(|m| m.contains(text)), "{shown:?}");
}

/// Fetch options for the window tests: `server` under /m/, a fresh cache in `tmp`.
fn window_options(server: &Server, tmp: &Path, files: &[(&str, Vec<u8>)]) -> FetchOptions {
    FetchOptions {
        mirrors: vec![server.url("/m/")],
        cache_root: tmp.join("cache"),
        checksums: Checksums::load(RemoteSet::Mnist, Path::new(&checksum_file(tmp, files)))
            .unwrap(),
    }
}

/// The window's "Download MNIST…": the files arrive off the UI thread, a note says where,
/// and the data set is offered (the settings dialog asks before new models are built).
#[test]
fn the_window_downloads_and_offers_the_data_set() {
    let files = idx_files();
    let server = Server::start(routes("/m/", &files));
    let tmp = tempfile::tempdir().unwrap();
    let mut h = ui::harness(ui::small_settings(), false);
    let opts = window_options(&server, tmp.path(), &files);
    h.state_mut().start_download(RemoteSet::Mnist, opts);
    ui::wait_for(&mut h, "the download", |app| app.download.is_none());
    h.run_steps(2);
    let app = h.state();
    assert_message(app, "MNIST downloaded and checked");
    assert_eq!(app.controls.draft.run.dataset, "mnist");
    assert!(fetch::is_cached(
        &tmp.path().join("cache"),
        RemoteSet::Mnist
    ));
    // The change waits for the user's yes, as for any other data set.
    assert_eq!(app.settings.run.dataset, "digits");
    h.get_by_label("Reset now");
}

/// Cancel in the progress window stops the download mid-file and keeps nothing.
#[test]
fn the_window_cancels_a_download_and_keeps_nothing() {
    let files = idx_files();
    let mut routes = routes("/m/", &files);
    let first = format!("/m/{}", FILE_NAMES[0]);
    routes.insert(first, Reply::Trickle(files[0].1.clone()));
    let server = Server::start(routes);
    let tmp = tempfile::tempdir().unwrap();
    let mut h = ui::harness(ui::small_settings(), false);
    let opts = window_options(&server, tmp.path(), &files);
    h.state_mut().start_download(RemoteSet::Mnist, opts);
    ui::wait_for(&mut h, "bytes to arrive", |app| {
        app.download.as_ref().is_some_and(|d| d.progress().done > 0)
    });
    h.run_steps(1);
    h.get_by_label_contains("Downloading MNIST");
    h.get_by_label("Cancel").click();
    ui::wait_for(&mut h, "the cancel", |app| app.download.is_none());
    let app = h.state();
    assert_message(app, "cancelled; nothing partial kept");
    assert!(listing(&tmp.path().join("cache").join("mnist")).is_empty());
    assert_eq!(app.controls.draft.run.dataset, "digits");
}

#[test]
fn a_trickling_download_ends_at_its_deadline_and_leaves_nothing() {
    let files = idx_files();
    let mut served = routes("/m/", &files);
    served.insert(
        format!("/m/{}", FILE_NAMES[0]),
        Reply::Trickle(files[0].1.clone()),
    );
    let server = Server::start(served);
    let tmp = tempfile::tempdir().unwrap();
    let sums = checksum_file(tmp.path(), &files);
    let cache = tmp.path().join("cache");
    let mirror = server.url("/m/");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latentlab"));
    cmd.env("LATENTLAB_CACHE", &cache)
        .env("LATENTLAB_FETCH_DEADLINE_SECS", "0.3")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy");
    let out = cmd
        .args(["fetch", "mnist", "--mirror", &mirror, "--checksums", &sums])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "a trickle never ends: {stderr}");
    assert!(
        stderr.contains("train-images-idx3-ubyte.gz")
            && stderr.contains("did not finish within 0.3 s"),
        "{stderr}"
    );
    assert!(listing(&cache.join("mnist")).is_empty());
}

#[test]
fn a_cached_file_stays_until_its_replacement_is_in() {
    let files = idx_files();
    let tmp = tempfile::tempdir().unwrap();
    let sums = checksum_file(tmp.path(), &files);
    let cache = tmp.path().join("cache");
    let dir = cache.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(FILE_NAMES[0]), b"the user's older copy").unwrap();
    // Every mirror fails: the cached file is as it was.
    let server = Server::start(HashMap::new());
    let mirror = server.url("/m/");
    let out = latentlab(
        &["fetch", "mnist", "--mirror", &mirror, "--checksums", &sums],
        &cache,
    );
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read(dir.join(FILE_NAMES[0])).unwrap(),
        b"the user's older copy"
    );
    // A good mirror replaces it with the verified file.
    let server = Server::start(routes("/m/", &files));
    let mirror = server.url("/m/");
    let out = latentlab(
        &["fetch", "mnist", "--mirror", &mirror, "--checksums", &sums],
        &cache,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(dir.join(FILE_NAMES[0])).unwrap(), files[0].1);
}
