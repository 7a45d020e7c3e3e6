//! dSprites end to end through the binary: `fetch dsprites` from a local server serving a
//! small `.npz` written here, `dataset dsprites` on what it fetched, `train --dataset
//! dsprites`, the window's download, bad files in the cache refused by name with a non-zero
//! exit, and mutated files that never panic the loader. No test touches the network beyond
//! 127.0.0.1.

use latentlab::data::dsprites::FILE_NAME;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Output;

mod http;
mod ui;

use egui_kittest::kittest::Queryable;
use http::{Reply, Server, latentlab, md5_hex, text};
use latentlab::data::fetch::{self, Checksums, FetchOptions, RemoteSet};

/// Rows of the small file.
const ROWS: usize = 40;

/// A version-1 `.npy` array: the header NumPy writes for `descr` and `shape` (padded to a
/// multiple of 64 bytes, ending in a newline), then `data`.
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while !(10 + dict.len() + 1).is_multiple_of(64) {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

/// Row `i`: colour 0, shape i % 3, scale i % 6, orientation 7i % 40, x i % 32, y 5i % 32;
/// its image a filled band of rows 0..=i.
fn arrays() -> Vec<(&'static str, Vec<u8>)> {
    let imgs: Vec<u8> = (0..ROWS)
        .flat_map(|i| (0..4096).map(move |p| u8::from(p / 64 <= i)))
        .collect();
    let classes: Vec<u8> = (0..ROWS)
        .flat_map(|i| [0, i % 3, i % 6, i * 7 % 40, i % 32, i * 5 % 32])
        .flat_map(|v| (v as i64).to_le_bytes())
        .collect();
    vec![
        ("imgs.npy", npy("|u1", "(40, 64, 64)", &imgs)),
        ("latents_classes.npy", npy("<i8", "(40, 6)", &classes)),
        ("latents_values.npy", npy("<f8", "(40, 6)", &[0; ROWS * 48])),
    ]
}

/// The arrays as a deflated zip, as `np.savez_compressed` writes them.
fn npz(arrays: &[(&str, Vec<u8>)]) -> Vec<u8> {
    npz_as(arrays, zip::CompressionMethod::Deflated)
}

/// The arrays as a zip stored with `method` (`Stored`, as `np.savez` writes them).
fn npz_as(arrays: &[(&str, Vec<u8>)], method: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in arrays {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// Fetches `served` as dSprites from a local server into `cache`, held to `md5`.
fn fetch(cache: &Path, served: Vec<u8>, md5: &str) -> Output {
    let server = Server::start(HashMap::from([(
        format!("/d/{FILE_NAME}"),
        Reply::Body(served),
    )]));
    let sums = cache.join("sums.txt");
    std::fs::write(&sums, format!("{FILE_NAME} {md5}\n")).unwrap();
    let mirror = server.url("/d/");
    latentlab(
        &[
            "fetch",
            "dsprites",
            "--mirror",
            &mirror,
            "--checksums",
            sums.to_str().unwrap(),
        ],
        cache,
    )
}

#[test]
fn fetch_dsprites_then_dataset_and_train_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path();
    let file = npz(&arrays());
    let o = fetch(cache, file.clone(), &md5_hex(&file));
    assert!(o.status.success(), "fetch failed: {}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains(&format!("{FILE_NAME}  downloaded from http://")),
        "{out}"
    );
    assert!(
        out.contains("train on it: latentlab train --dataset dsprites"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(cache.join("dsprites").join(FILE_NAME)).unwrap(),
        file
    );

    let o = latentlab(&["dataset", "dsprites"], cache);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains(
            "dsprites: 34 train, 6 test, 64x64 gray images, 3 classes: square, ellipse, heart"
        ),
        "{out}"
    );
    assert!(
        out.contains("factors: shape (3 values), scale (6 values), orientation ("),
        "{out}"
    );
    let o = latentlab(&["dataset", "dsprites#train=30,test=10"], cache);
    assert!(
        text(&o.stdout).contains("30 train, 10 test"),
        "{}",
        text(&o.stderr)
    );
    let o = latentlab(&["dataset", "dsprites#train=41"], cache);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("the file holds 40"),
        "{}",
        text(&o.stderr)
    );

    let run = tmp.path().join("run");
    let o = latentlab(
        &[
            "train",
            "--dataset",
            "dsprites",
            "--models",
            "vae",
            "--hidden",
            "32",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--out",
            run.to_str().unwrap(),
        ],
        cache,
    );
    assert!(o.status.success(), "train failed: {}", text(&o.stderr));
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert!(metrics.lines().count() >= 2, "{metrics}");
    let manifest = std::fs::read_to_string(run.join("run.json")).unwrap();
    assert!(manifest.contains("\"dsprites\""), "{manifest}");
}

#[test]
fn wrong_bytes_from_the_server_are_not_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let file = npz(&arrays());
    let o = fetch(tmp.path(), b"not the npz".to_vec(), &md5_hex(&file));
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains(FILE_NAME) && err.contains("MD5"), "{err}");
    let dir = tmp.path().join("dsprites");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing kept in {dir:?}"
    );
}

/// `dataset dsprites` on `bytes` placed in the cache as the fetched file: its stderr.
fn refused(bytes: &[u8]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dsprites");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(FILE_NAME), bytes).unwrap();
    let o = latentlab(&["dataset", "dsprites"], tmp.path());
    assert!(
        !o.status.success(),
        "a bad file loaded: {}",
        text(&o.stdout)
    );
    let err = text(&o.stderr);
    assert!(err.contains(FILE_NAME), "the message names the file: {err}");
    err
}

/// The good arrays with `name` replaced (or dropped when `None`).
fn with(name: &str, bytes: Option<Vec<u8>>) -> Vec<(&'static str, Vec<u8>)> {
    arrays()
        .into_iter()
        .filter_map(|(n, b)| {
            if n == name {
                bytes.clone().map(|b| (n, b))
            } else {
                Some((n, b))
            }
        })
        .collect()
}

#[test]
fn bad_files_in_the_cache_are_refused_by_name() {
    let good = npz(&arrays());
    let err = refused(&good[..good.len() * 2 / 3]);
    assert!(
        err.contains("not a readable .npz (zip) archive"),
        "truncated: {err}"
    );

    let floats = npy("<f4", "(40, 64, 64)", &[0; ROWS * 4096]);
    let err = refused(&npz(&with("imgs.npy", Some(floats))));
    assert!(
        err.contains("imgs.npy: element type '<f4', expected '|u1'"),
        "dtype: {err}"
    );

    let err = refused(&npz(&with("imgs.npy", None)));
    assert!(err.contains("holds no 'imgs.npy'"), "missing: {err}");

    let small = npy("|u1", "(40, 28, 28)", &[0; ROWS * 784]);
    let err = refused(&npz(&with("imgs.npy", Some(small))));
    assert!(
        err.contains("imgs.npy: shape [40, 28, 28], expected"),
        "shape: {err}"
    );

    let short = npy("|u1", "(40, 64, 64)", &[0; 20 * 4096]);
    let err = refused(&npz(&with("imgs.npy", Some(short))));
    assert!(
        err.contains("imgs.npy: the data ends inside row 20 of 40"),
        "short: {err}"
    );
}

/// The window's "Download dSprites…": the file arrives off the UI thread and the set is
/// offered, as MNIST is.
#[test]
fn the_window_downloads_dsprites_and_offers_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = npz(&arrays());
    let server = Server::start(HashMap::from([(
        format!("/d/{FILE_NAME}"),
        Reply::Body(file.clone()),
    )]));
    let sums = tmp.path().join("sums.txt");
    std::fs::write(&sums, format!("{FILE_NAME} {}\n", md5_hex(&file))).unwrap();
    let opts = FetchOptions {
        mirrors: vec![server.url("/d/")],
        cache_root: tmp.path().join("cache"),
        checksums: Checksums::load(RemoteSet::Dsprites, &sums).unwrap(),
    };
    let mut h = ui::harness(ui::small_settings(), false);
    h.state_mut().start_download(RemoteSet::Dsprites, opts);
    ui::wait_for(&mut h, "the download", |app| app.download.is_none());
    h.run_steps(2);
    let app = h.state();
    let shown: Vec<&str> = app
        .session
        .messages
        .iter()
        .map(|m| m.text.as_str())
        .collect();
    assert!(
        shown
            .iter()
            .any(|m| m.contains("dSprites downloaded and checked")),
        "{shown:?}"
    );
    assert_eq!(app.controls.draft.run.dataset, "dsprites");
    assert!(fetch::is_cached(
        &tmp.path().join("cache"),
        RemoteSet::Dsprites
    ));
    h.get_by_label("Reset now");
}

/// Mutations of a good file, stored (so they reach the `.npy` headers and data) and
/// deflated: the loader never panics, and what it accepts is dSprites-shaped (pixels 0 or
/// 1, labels and factors in range); what it refuses is named by the file.
#[test]
fn mutated_files_load_as_dsprites_or_fail_by_name() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for method in [
        zip::CompressionMethod::Stored,
        zip::CompressionMethod::Deflated,
    ] {
        let good = npz_as(&arrays(), method);
        let len = good.len();
        let edits = prop::collection::vec((0..len, any::<u8>()), 1..8);
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        TestRunner::new(config)
            .run(&(edits, any::<bool>(), 0..len), |(edits, cut, at)| {
                let mut bytes = good.clone();
                for (at, value) in edits {
                    bytes[at] = value;
                }
                // Half the cases are also cut short (which loses the zip's directory).
                if cut {
                    bytes.truncate(at);
                }
                std::fs::write(&path, &bytes).unwrap();
                match latentlab::data::dsprites::load_npz(&path, None) {
                    Ok(ds) => {
                        for split in [&ds.train, &ds.test] {
                            prop_assert!(split.x.iter().all(|&v| v == 0.0 || v == 1.0));
                            prop_assert!(split.labels.iter().all(|&l| l < 3));
                            for i in 0..split.len() {
                                let f = split.factors_of(i, 5);
                                prop_assert_eq!(f[0], split.labels[i]);
                                let sizes = [3, 6, 40, 32, 32];
                                prop_assert!(f.iter().zip(sizes).all(|(&v, n)| v < n));
                            }
                        }
                    }
                    Err(e) => prop_assert!(e.to_string().contains(FILE_NAME), "{}", e),
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{method:?}: {e}"));
    }
}
