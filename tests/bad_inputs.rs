//! The bad-input matrix: every row runs the `latentlab` binary on one bad file or one
//! out-of-range option and expects a non-zero exit and one error line that names the file
//! or the option and the problem. Files are tiny (or sparse) and written here; no row trains.

mod bad_run;
mod common;

use latentlab::data::write_idx;
use latentlab::model::checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One bad input: the arguments and a piece of the expected message.
struct Row {
    args: Vec<String>,
    expected: String,
}

fn row(args: &[&str], expected: &str) -> Row {
    Row {
        args: args.iter().map(|s| s.to_string()).collect(),
        expected: expected.to_string(),
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// `label,784 pixels` rows as text.
fn csv_row(label: &str, value: &str) -> String {
    let mut s = label.to_string();
    for _ in 0..784 {
        s.push(',');
        s.push_str(value);
    }
    s.push('\n');
    s
}

/// A folder with the four MNIST files of a few 28x28 images; `edit` may replace one.
fn idx_dir(root: &Path, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let img = |n: u32| vec![7u8; (n * 784) as usize];
    write_idx(
        &d.join("train-images-idx3-ubyte"),
        &[5, 28, 28],
        &img(5),
        false,
    )
    .unwrap();
    write_idx(
        &d.join("train-labels-idx1-ubyte"),
        &[5],
        &[0, 1, 2, 3, 4],
        false,
    )
    .unwrap();
    write_idx(
        &d.join("t10k-images-idx3-ubyte"),
        &[2, 28, 28],
        &img(2),
        false,
    )
    .unwrap();
    write_idx(&d.join("t10k-labels-idx1-ubyte"), &[2], &[0, 1], false).unwrap();
    edit(&d);
    d
}

fn file(root: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A sparse file of `len` bytes: as large as claimed, yet it takes no disk space.
fn sparse(root: &Path, name: &str, len: u64) -> PathBuf {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(&path).unwrap().set_len(len).unwrap();
    path
}

/// A valid checkpoint of a small AE on 6-value items, written by the library.
fn checkpoint_stem(root: &Path) -> PathBuf {
    use latentlab::model::{Autoencoder, Likelihood, ModelConfig, ModelKind};
    use rand::SeedableRng;
    let mut cfg = ModelConfig::new(ModelKind::Ae, 6, Likelihood::Gaussian);
    cfg.hidden = vec![5];
    let model = Autoencoder::new(
        cfg.clone(),
        &mut latentlab::rng::PortableRng::seed_from_u64(1),
    )
    .unwrap();
    let meta = checkpoint::CheckpointMeta {
        format_version: checkpoint::FORMAT_VERSION,
        name: "ae".into(),
        config: cfg,
        dataset: "moons".into(),
        item_shape: latentlab::data::ItemShape::Points { dim: 6 },
        class_names: vec!["a".into()],
        epoch: 1,
        step: 1,
        lr: 1e-3,
        seed: 1,
        test_metrics: None,
    };
    let stem = root.join("ckpt").join("ae");
    checkpoint::save(&model, &meta, &stem).unwrap();
    stem
}

/// A copy of the valid checkpoint whose JSON went through `edit`.
fn edited_checkpoint(root: &Path, name: &str, edit: impl FnOnce(String) -> String) -> PathBuf {
    let stem = checkpoint_stem(root);
    let (json, weights) = checkpoint::paths(&stem);
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let text = edit(std::fs::read_to_string(json).unwrap());
    std::fs::write(dir.join("m.json"), text).unwrap();
    std::fs::copy(weights, dir.join("m.safetensors")).unwrap();
    dir.join("m.json")
}

fn option_rows() -> Vec<Row> {
    let t = |flag: &str, value: &str, expected: &str| {
        let arg = format!("--{flag}={value}");
        row(&["train", &arg, "--out", "/nonexistent/never"], expected)
    };
    vec![
        t(
            "latent-dim",
            "0",
            "--latent-dim: latent dimension 0 is out of range (1 to 64)",
        ),
        t(
            "latent-dim",
            "65",
            "--latent-dim: latent dimension 65 is out of range",
        ),
        t(
            "epochs",
            "0",
            "--epochs: epochs 0 is out of range (1 to 100000)",
        ),
        t(
            "epochs",
            "100001",
            "--epochs: epochs 100001 is out of range",
        ),
        t(
            "batch-size",
            "0",
            "--batch-size: batch size 0 is out of range (1 to 65536)",
        ),
        t(
            "batch-size",
            "65537",
            "--batch-size: batch size 65537 is out of range",
        ),
        t(
            "lr",
            "0",
            "--lr: learning rate 0 is out of range (above 0, at most 10)",
        ),
        t("lr", "NaN", "--lr: learning rate NaN is out of range"),
        t("lr", "-1", "--lr: learning rate -1 is out of range"),
        t("lr", "11", "--lr: learning rate 11 is out of range"),
        t(
            "kl-warmup",
            "-1",
            "--kl-warmup: KL warm-up epochs -1 is out of range (0 to 1000)",
        ),
        t(
            "kl-warmup",
            "inf",
            "--kl-warmup: KL warm-up epochs inf is out of range",
        ),
        t(
            "iw-samples",
            "10001",
            "--iw-samples: importance samples 10001 is out of range (0 to 10000)",
        ),
        t(
            "eval-every-secs",
            "0.01",
            "--eval-every-secs: seconds between evaluations 0.01 is out of range (0.1 to 86400)",
        ),
        t(
            "eval-every-secs",
            "1e9",
            "--eval-every-secs: seconds between evaluations 1000000000",
        ),
        t(
            "grid",
            "0",
            "--grid: grid side 0 is out of range (1 to 100)",
        ),
        t("grid", "101", "--grid: grid side 101 is out of range"),
        t(
            "hidden",
            "0",
            "--hidden: hidden size 0 is out of range (1 to 8192)",
        ),
        t(
            "hidden",
            "8193",
            "--hidden: hidden size 8193 is out of range",
        ),
        t(
            "hidden",
            &["8"; 17].join(","),
            "--hidden: more than 16 hidden layers",
        ),
        t(
            "hidden",
            "8192,8192",
            "ae: 147,129,106 parameters is more than the 25,000,000 allowed",
        ),
        t(
            "threads",
            "0",
            "--threads: threads 0 is out of range (1 to 256)",
        ),
        t("threads", "257", "--threads: threads 257 is out of range"),
        t(
            "beta",
            "1e9",
            "--beta: β 1000000000 is out of range (0 to 1000)",
        ),
        t(
            "noise",
            "NaN",
            "--noise: noise NaN is out of range (0 to 10)",
        ),
        t(
            "sparsity",
            "-0.5",
            "--sparsity: sparsity -0.5 is out of range (0 to 1000)",
        ),
        t(
            "weight-decay",
            "2",
            "--weight-decay: weight decay 2 is out of range (0 to 1)",
        ),
        t("seed", "-1", "invalid value '-1' for '--seed <SEED>'"),
        t(
            "epochs",
            "many",
            "invalid value 'many' for '--epochs <EPOCHS>'",
        ),
        row(
            &[
                "train",
                "--models",
                "ae,vae,dae",
                "--hidden",
                "2048,2048",
                "--out",
                "/nonexistent/never",
            ],
            "the models hold 34,",
        ),
        row(
            &[
                "eval",
                "--checkpoint",
                "/no/such.json",
                "--iw-samples",
                "10001",
            ],
            "--iw-samples: importance samples 10001 is out of range (0 to 10000)",
        ),
        row(
            &["dataset", "moons", "--per-class", "0"],
            "--per-class: items per class 0 is out of range (1 to 200)",
        ),
        row(
            &["dataset", "moons", "--per-class", "201"],
            "--per-class: items per class 201 is out of range",
        ),
    ]
}

fn idx_rows(root: &Path) -> Vec<Row> {
    let ds = |name: &str, edit: &dyn Fn(&Path), expected: &str| {
        let d = idx_dir(root, name, edit);
        row(&["dataset", &format!("idx:{}", p(&d))], expected)
    };
    let images = "train-images-idx3-ubyte";
    vec![
        ds(
            "magic",
            &|d| std::fs::write(d.join(images), b"PK\x03\x04 a zip").unwrap(),
            "train-images-idx3-ubyte: not an IDX file",
        ),
        ds(
            "truncated",
            &|d| {
                let b = std::fs::read(d.join(images)).unwrap();
                std::fs::write(d.join(images), &b[..1000]).unwrap();
            },
            "train-images-idx3-ubyte: header claims 3920 bytes of data but the file holds only 984",
        ),
        ds(
            "dims",
            &|d| write_idx(&d.join(images), &[5, 28, 513], &[0; 10], false).unwrap(),
            "train-images-idx3-ubyte: image size 513x28 is out of range (1 to 512)",
        ),
        ds(
            "zero",
            &|d| write_idx(&d.join(images), &[5, 0, 28], &[], false).unwrap(),
            "image size 28x0 is out of range",
        ),
        ds(
            "huge",
            &|d| write_idx(&d.join(images), &[u32::MAX, 28, 28], &[0; 10], false).unwrap(),
            "train-images-idx3-ubyte: header claims 4294967295 images of 28x28",
        ),
        ds(
            "gzip",
            &|d| write_idx(&d.join(images), &[100_000, 28, 28], &[0; 10], true).unwrap(),
            "bytes of gzip inflate to at most",
        ),
        ds(
            "rank",
            &|d| write_idx(&d.join("train-labels-idx1-ubyte"), &[5, 1], &[0; 5], false).unwrap(),
            "train-labels-idx1-ubyte: IDX rank is 2 but 1 expected",
        ),
        ds(
            "count",
            &|d| write_idx(&d.join("t10k-labels-idx1-ubyte"), &[4], &[0; 4], false).unwrap(),
            "t10k-labels-idx1-ubyte: holds 4 labels but",
        ),
        ds(
            "label",
            &|d| {
                write_idx(
                    &d.join("train-labels-idx1-ubyte"),
                    &[5],
                    &[0, 1, 200, 3, 4],
                    false,
                )
                .unwrap()
            },
            "train-labels-idx1-ubyte: label 200 at item 2 is out of range",
        ),
        ds(
            "dtype",
            &|d| std::fs::write(d.join(images), [0, 0, 0x0d, 3, 0, 0, 0, 1]).unwrap(),
            "IDX data type 0x0d is not unsigned bytes",
        ),
        ds(
            "missing",
            &|d| std::fs::remove_file(d.join("t10k-images-idx3-ubyte")).unwrap(),
            "t10k-images-idx3-ubyte: missing",
        ),
        row(
            &["dataset", "idx:/no/such/folder"],
            "/no/such/folder: not a folder",
        ),
    ]
}

fn csv_rows(root: &Path) -> Vec<Row> {
    let good = csv_row("1", "0");
    let ds = |name: &str, bytes: Vec<u8>, expected: &str| {
        let f = file(root, name, bytes);
        row(&["dataset", &format!("csv:{}", p(&f))], expected)
    };
    let with_label = |label: &str| format!("{good}{}", csv_row(label, "0")).into_bytes();
    let sparse_csv = sparse(root, "sparse.csv", 1 << 30);
    let long_line = sparse(root, "zeros.csv", 1 << 20);
    vec![
        ds(
            "bom.csv",
            format!("\u{feff}{}{good}", csv_row("seven", "0")).into_bytes(),
            "bom.csv: line 1: label 'seven' is not a number; some fields of this first line are numbers",
        ),
        ds(
            "ragged.csv",
            format!("{good}{good}3,1,2,3\n").into_bytes(),
            "ragged.csv: line 3: 3 pixels, expected 784",
        ),
        ds(
            "u32.csv",
            with_label("4294967296"),
            "u32.csv: line 2: label 4294967296 is out of range (0 to 99)",
        ),
        ds(
            "class.csv",
            with_label("100"),
            "class.csv: line 2: label 100 is out of range (0 to 99)",
        ),
        ds(
            "frac.csv",
            with_label("2.5"),
            "frac.csv: line 2: label 2.5 is not a whole number",
        ),
        ds(
            "word.csv",
            with_label("seven"),
            "word.csv: line 2: label 'seven' is not a number",
        ),
        ds(
            "pixel.csv",
            format!("{good}{}", csv_row("1", "x")).into_bytes(),
            "pixel.csv: line 2: pixel 'x' is not a number",
        ),
        ds(
            "range.csv",
            format!("{good}{}", csv_row("1", "300")).into_bytes(),
            "range.csv: line 2: pixel value 300 is outside 0-255",
        ),
        ds(
            "empty.csv",
            Vec::new(),
            "empty.csv: holds 0 rows; at least 2 are needed",
        ),
        ds(
            "header.csv",
            b"label,pixel0\n".to_vec(),
            "header.csv: holds 0 rows",
        ),
        ds(
            "utf8.csv",
            [good.as_bytes(), b"1,\xff\xfe\n"].concat(),
            "utf8.csv: line 2: is not UTF-8 text",
        ),
        row(
            &["dataset", &format!("csv:{}", p(&sparse_csv))],
            "sparse.csv: is 1073741824 bytes; a CSV data set may be at most 536870912 bytes",
        ),
        row(
            &["dataset", &format!("csv:{}", p(&long_line))],
            "zeros.csv: line 1: is longer than 65536 bytes",
        ),
        row(
            &["dataset", &format!("csv:{}", p(root))],
            "is a folder, not a CSV file",
        ),
        row(
            &["dataset", "csv:/no/such/file.csv"],
            "/no/such/file.csv: No such file or directory",
        ),
    ]
}

fn folder_rows(root: &Path) -> Vec<Row> {
    let ds =
        |dir: &Path, expected: &str| row(&["dataset", &format!("folder:{}", p(dir))], expected);
    let broken = root.join("broken");
    file(&broken, "a/bad.png", b"\x89PNG not really");
    let huge = root.join("huge");
    file(&huge, "a/huge.bmp", common::bmp_header(20_000, 20_000));
    let empty = root.join("noclasses");
    std::fs::create_dir_all(&empty).unwrap();
    let lonely = root.join("lonely");
    let mut png = std::io::Cursor::new(Vec::new());
    image::GrayImage::new(3, 3)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    file(&lonely, "a/one.png", png.into_inner());
    let text = root.join("text");
    file(&text, "a/notes.txt", "not an image");
    vec![
        ds(&broken, "bad.png: not a readable image"),
        ds(
            &huge,
            "huge.bmp: image is 20000x20000 (400000000 pixels); at most 16777216 pixels",
        ),
        ds(&empty, "noclasses: has no sub-folders"),
        ds(&lonely, "lonely: holds 1 images; at least 2 are needed"),
        ds(&text, "notes.txt: not a readable image"),
        ds(
            Path::new("/no/such/images"),
            "/no/such/images: No such file or directory",
        ),
    ]
}

fn checkpoint_rows(root: &Path) -> Vec<Row> {
    let eval = |path: &Path, expected: &str| row(&["eval", "--checkpoint", &p(path)], expected);
    let stem = checkpoint_stem(root);
    let huge_json = sparse(root, "big/m.json", 2 << 20);
    let huge_weights = edited_checkpoint(root, "heavy", |t| t);
    sparse(root, "heavy/m.safetensors", 1 << 30);
    let garbage = file(root, "garbage/m.json", "{not json");
    let wide = edited_checkpoint(root, "wide", |t| {
        t.replace("\"input_dim\": 6", "\"input_dim\": 1000000000000")
    });
    let version = edited_checkpoint(root, "version", |t| {
        t.replace("\"format_version\": 1", "\"format_version\": 2")
    });
    // Only the training images' header is good: the size is known before the rest is read.
    let header_only = idx_dir(root, "headeronly", |d| {
        write_idx(
            &d.join("train-images-idx3-ubyte"),
            &[1, 7, 5],
            &[0; 35],
            false,
        )
        .unwrap();
        std::fs::write(d.join("t10k-images-idx3-ubyte"), "garbage").unwrap();
    });
    let json = checkpoint::paths(&stem).0;
    vec![
        eval(
            Path::new("/no/such/m.json"),
            "/no/such/m.json: No such file or directory",
        ),
        eval(
            stem.parent().unwrap(),
            "ckpt: is a folder, not a checkpoint; give one of its checkpoints: ae.json",
        ),
        eval(
            &huge_json,
            "m.json: is 2097152 bytes, more than the 1048576 bytes a checkpoint description can take",
        ),
        eval(
            &huge_weights,
            "m.safetensors: is 1073741824 bytes, more than the",
        ),
        eval(&garbage, "m.json: not a valid checkpoint description"),
        eval(
            &wide,
            "input size 1000000000000 is out of range (1 to 262144)",
        ),
        eval(
            &version,
            "m.json: not a valid checkpoint description: format version 2",
        ),
        row(
            &["eval", "--checkpoint", &p(&json), "--dataset", "digits"],
            "the model takes items of 6 values but data set 'digits' has 784",
        ),
        row(
            &[
                "eval",
                "--checkpoint",
                &p(&json),
                "--dataset",
                &format!("idx:{}", p(&header_only)),
            ],
            "the model takes items of 6 values but data set 'idx:",
        ),
        row(
            &[
                "train",
                "--dataset",
                &format!("idx:{}", p(&header_only)),
                "--hidden",
                "8192,8192",
                "--out",
                "/nonexistent/never",
            ],
            "ae: 134,856,741 parameters is more than the 25,000,000 allowed",
        ),
    ]
}

#[test]
fn every_bad_input_exits_non_zero_naming_the_file_or_option_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut rows = option_rows();
    rows.extend(idx_rows(root));
    rows.extend(csv_rows(root));
    rows.extend(folder_rows(root));
    rows.extend(checkpoint_rows(root));
    assert!(rows.len() >= 40, "{} rows", rows.len());
    check_rows(&rows);
}

/// Runs every row; each must exit non-zero with its message on one line, without a panic.
fn check_rows(rows: &[Row]) {
    let mut failures = Vec::new();
    for r in rows {
        let o = Command::new(env!("CARGO_BIN_EXE_latentlab"))
            .args(&r.args)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        let problems = [
            (o.status.success(), "exited with success"),
            (!err.contains(&r.expected), "the message differs"),
            (err.contains("panicked"), "panicked"),
            (
                err.matches("os error").count() > 1,
                "says the OS error twice",
            ),
            (
                !err.contains("For more information") && err.trim().lines().count() != 1,
                "not one line",
            ),
        ];
        for (bad, what) in problems {
            if bad {
                failures.push(format!(
                    "{:?}: {what}; expected '{}' in: {err}",
                    r.args, r.expected
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// A damaged copy of the run `good` (see [`bad_run::run_copy`]) as an `--open` row.
fn run_copy(
    root: &Path,
    good: &Path,
    name: &str,
    files: impl FnOnce(&Path),
    edit: impl FnOnce(&mut serde_json::Value),
) -> Row {
    let dir = bad_run::run_copy(root, good, name, files, edit);
    row(&["--open", &p(&dir)], "")
}

/// A 28×28 AE checkpoint whose weights are all `w` (finite), and a grey image to encode.
fn huge_weights_checkpoint(root: &Path, w: f32) -> (PathBuf, PathBuf) {
    use latentlab::model::{Autoencoder, Likelihood, ModelConfig, ModelKind};
    use rand::SeedableRng;
    let mut cfg = ModelConfig::new(ModelKind::Ae, 784, Likelihood::Bernoulli);
    cfg.hidden = vec![4];
    let model = Autoencoder::new(
        cfg.clone(),
        &mut latentlab::rng::PortableRng::seed_from_u64(1),
    )
    .unwrap();
    for (_, var) in model.named_vars() {
        let t = candle_core::Tensor::full(w, var.dims(), &candle_core::Device::Cpu).unwrap();
        var.set(&t).unwrap();
    }
    let meta = checkpoint::CheckpointMeta {
        format_version: checkpoint::FORMAT_VERSION,
        name: "ae".into(),
        config: cfg,
        dataset: "digits".into(),
        item_shape: latentlab::data::ItemShape::gray(28, 28),
        class_names: vec!["a".into()],
        epoch: 1,
        step: 1,
        lr: 1e-3,
        seed: 1,
        test_metrics: None,
    };
    let stem = root.join("huge").join("ae");
    std::fs::create_dir_all(stem.parent().unwrap()).unwrap();
    checkpoint::save(&model, &meta, &stem).unwrap();
    let image = root.join("huge").join("item.png");
    image::GrayImage::from_pixel(28, 28, image::Luma([128]))
        .save(&image)
        .unwrap();
    (checkpoint::paths(&stem).0, image)
}

/// Saved runs damaged in every field and file: `--open` exits non-zero before any window
/// with the file and the problem; `encode` fails rather than print NaN.
#[test]
fn every_bad_run_is_refused_before_any_window() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let good = root.join("good");
    let args = common::quick_run_args(&good);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let none = |_: &Path| {};
    let set = bad_run::set;
    let claim = |name: &'static str, bytes: u64| {
        move |v: &mut serde_json::Value| {
            for f in v["files"].as_array_mut().unwrap() {
                if f["name"] == name {
                    f["bytes"] = bytes.into();
                }
            }
        }
    };
    let sparse_file = |name: &'static str, len: u64| {
        move |d: &Path| {
            std::fs::File::create(d.join(name))
                .unwrap()
                .set_len(len)
                .unwrap();
        }
    };
    let mut rows: Vec<Row> = Vec::new();
    let mut add = |r: Row, expected: &str| {
        rows.push(Row {
            expected: expected.to_string(),
            ..r
        })
    };
    let c = |name: &str, files: &dyn Fn(&Path), edit: &dyn Fn(&mut serde_json::Value)| {
        run_copy(root, &good, name, files, edit)
    };
    add(
        c("v-string", &none, &set("/version", "1".into())),
        "the version in its run.json is not a number (\"1\")",
    );
    add(
        c("elapsed", &none, &set("/elapsed_secs", 1e300.into())),
        "elapsed_secs 1e300 is not a time of training",
    );
    add(
        c("step", &none, &set("/step", 100_000_000_000_000u64.into())),
        "step 100000000000000 in batches of 200 is more training than a run can be reopened at",
    );
    add(
        c("train", &none, &set("/data/train", 1_000_000_000u64.into())),
        "claims 1000000000 train and",
    );
    add(
        c("epoch", &none, &set("/epoch", 5.into())),
        "epoch 5 does not fit step 40",
    );
    add(
        c("bpe", &none, &set("/batches_per_epoch", 7.into())),
        "batches_per_epoch 7 does not fit",
    );
    add(
        c("lr", &none, &set("/spec/lr", 1e9.into())),
        "learning rate 1000000000 is out of range",
    );
    add(
        c("latent", &none, &set("/spec/latent_dim", 1000.into())),
        "latent dimension 1000 is out of range",
    );
    add(
        c("grid", &none, &set("/grid_k", 1000.into())),
        "grid side 1000 is out of range",
    );
    add(
        c(
            "hidden",
            &none,
            &set("/spec/hidden", serde_json::json!([8])),
        ),
        "that is not the one the run's settings build",
    );
    add(
        c(
            "swapped",
            &|d: &Path| {
                std::fs::copy(d.join("vae.safetensors"), d.join("ae.safetensors")).unwrap();
            },
            &|_: &mut serde_json::Value| {},
        ),
        "with this description does not have",
    );
    add(
        c(
            "200gb",
            &sparse_file("metrics.jsonl", 200_000_000_000),
            &claim("metrics.jsonl", 200_000_000_000),
        ),
        "more than the 4294967296 a run can hold",
    );
    add(
        c(
            "big-extra",
            &sparse_file("timeline.bin", 1_700_000_000),
            &claim("timeline.bin", 1_700_000_000),
        ),
        "timeline.bin: run.json says it is 1700000000 bytes, more than the 67108864",
    );
    add(
        c(
            "fifo",
            &|d: &Path| {
                std::fs::remove_file(d.join("losses.csv")).unwrap();
                let ok = Command::new("mkfifo")
                    .arg(d.join("losses.csv"))
                    .status()
                    .unwrap();
                assert!(ok.success());
            },
            &|_: &mut serde_json::Value| {},
        ),
        "losses.csv: is a FIFO (named pipe), not a file",
    );
    add(
        c(
            "folder",
            &|d: &Path| {
                std::fs::remove_file(d.join("losses.csv")).unwrap();
                std::fs::create_dir(d.join("losses.csv")).unwrap();
            },
            &|_: &mut serde_json::Value| {},
        ),
        "losses.csv: is a folder, not a file",
    );
    let (json, image) = huge_weights_checkpoint(root, 3e38);
    add(
        row(
            &["encode", "--checkpoint", &p(&json), "--image", &p(&image)],
            "",
        ),
        "the model gives a non-finite",
    );
    assert!(rows.len() >= 15, "{} rows", rows.len());
    for r in &rows {
        assert!(
            !r.args.contains(&"--open".to_string()) || !r.expected.contains("window"),
            "rows stop before any window"
        );
    }
    check_rows(&rows);
}

/// `latentlab train … | head -1`: the reader goes away before the first line; the run
/// neither panics nor fails, and still writes its files.
#[test]
fn a_closed_standard_output_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args([
            "train",
            "--dataset",
            "moons",
            "--models",
            "ae",
            "--hidden",
            "8",
            "--epochs",
            "2",
        ])
        .args(["--grid", "4", "--out", &p(&out)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("panicked") && err.trim().is_empty(), "{err}");
    assert!(out.join("ae.safetensors").is_file() && out.join("latent.png").is_file());
    let rows = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 4, "2 epochs x train and test");
}
