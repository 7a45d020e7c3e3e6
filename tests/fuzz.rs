//! Fuzzing the parsers on stable, inside `cargo test`: the IDX, CSV and single-image
//! loaders and the checkpoint reader get arbitrary bytes and mutations of valid files.
//! Whatever they get, they never panic, and either give a valid data set (every value in
//! [0, 1], every label a class, no row lost) or an error naming the file.
//!
//! Each target runs a few seconds by default. Longer runs (see the README):
//! `LATENTLAB_FUZZ_SECS=3600 cargo test --release --test fuzz` keeps each target going for
//! an hour (they run side by side on the test threads); `PROPTEST_CASES=N` sets the cases
//! of one round.

mod common;

use latentlab::data::{self, Dataset};
use latentlab::model::checkpoint;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// This thread's time on a CPU and waiting for one (ns), from the scheduler's own count
/// (`/proc/thread-self/schedstat`); zeros where that cannot be read.
fn thread_times() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut n = text
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(0));
    (n.next().unwrap_or(0), n.next().unwrap_or(0))
}

/// Runs `test` on values of `strategy`: `default_cases` of them, or `PROPTEST_CASES`; again
/// and again with new seeds until `LATENTLAB_FUZZ_SECS` have passed, if that is set.
/// Prints the cases run, the slowest case and the slowest round, with the round's time on
/// a CPU and waiting for one: a round slow from its own work and one slow from a busy
/// machine look different.
fn fuzz<S: Strategy>(
    name: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let env = |key: &str| std::env::var(key).ok().and_then(|v| v.parse::<f64>().ok());
    let cases = env("PROPTEST_CASES").map_or(default_cases, |c| c as u32);
    let start = Instant::now();
    let deadline = env("LATENTLAB_FUZZ_SECS").map(|s| start + Duration::from_secs_f64(s));
    let slowest_case = std::sync::atomic::AtomicU64::new(0);
    let timed = |value: S::Value| {
        let t = Instant::now();
        let result = test(value);
        let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
        slowest_case.fetch_max(ns, std::sync::atomic::Ordering::Relaxed);
        result
    };
    let mut rounds = 0u64;
    // (wall, on a CPU, waiting for one) of the slowest round.
    let mut slowest_round = (Duration::ZERO, 0u64, 0u64);
    loop {
        rounds += 1;
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let (t, (cpu, wait)) = (Instant::now(), thread_times());
        if let Err(e) = TestRunner::new(config).run(&strategy, timed) {
            panic!("{e}");
        }
        let (cpu_after, wait_after) = thread_times();
        if t.elapsed() > slowest_round.0 {
            slowest_round = (t.elapsed(), cpu_after - cpu, wait_after - wait);
        }
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    let (wall, cpu, wait) = slowest_round;
    eprintln!(
        "fuzz {name}: {} cases in {:.1} s, no failure; the slowest case {:.1} ms; the slowest \
         of {rounds} rounds {:.1} s ({:.1} s on a CPU, {:.1} s waiting for one)",
        rounds * u64::from(cases),
        start.elapsed().as_secs_f64(),
        slowest_case.into_inner() as f64 / 1e6,
        wall.as_secs_f64(),
        cpu as f64 / 1e9,
        wait as f64 / 1e9,
    );
}

/// A valid data set: shapes agree, values in [0, 1], labels name classes.
fn check_dataset(ds: &Dataset) -> Result<(), TestCaseError> {
    let dim = ds.dim();
    prop_assert!(dim > 0);
    prop_assert!(ds.train.len() + ds.test.len() >= 2);
    for split in [&ds.train, &ds.test] {
        prop_assert_eq!(split.x.len(), split.len() * dim);
        prop_assert!(split.x.iter().all(|v| (0.0..=1.0).contains(v)));
        prop_assert!(
            split
                .labels
                .iter()
                .all(|&l| (l as usize) < ds.num_classes())
        );
    }
    Ok(())
}

/// Edits made to a valid file: bytes replaced, a slice spliced in, the end cut off.
#[derive(Clone, Debug)]
struct Mutation {
    replace: Vec<(usize, u8)>,
    splice: Option<(usize, Vec<u8>)>,
    cut: Option<usize>,
}

/// A byte to write: any byte, or for text formats mostly one of the format's own characters
/// (random bytes would make nearly every text invalid UTF-8 and stop there).
fn byte(text: bool) -> BoxedStrategy<u8> {
    if text {
        prop_oneof![
            19 => prop::sample::select(b"0123456789,.\n\r -+eEnaif\"{}[]:".to_vec()),
            1 => any::<u8>(),
        ]
        .boxed()
    } else {
        any::<u8>().boxed()
    }
}

fn mutation(splices: Vec<Vec<u8>>, text: bool) -> impl Strategy<Value = Mutation> {
    let splice = (
        any::<usize>(),
        prop_oneof![
            prop::sample::select(splices),
            prop::collection::vec(byte(text), 0..8),
        ],
    );
    (
        prop::collection::vec((any::<usize>(), byte(text)), 0..6),
        prop::option::of(splice),
        prop::option::weighted(0.2, any::<usize>()),
    )
        .prop_map(|(replace, splice, cut)| Mutation {
            replace,
            splice,
            cut,
        })
}

impl Mutation {
    fn apply(&self, valid: &[u8]) -> Vec<u8> {
        let mut b = valid.to_vec();
        if let Some((at, bytes)) = &self.splice {
            let at = at % (b.len() + 1);
            b.splice(at..at, bytes.iter().copied());
        }
        for &(at, byte) in &self.replace {
            if !b.is_empty() {
                let n = b.len();
                b[at % n] = byte;
            }
        }
        if let Some(cut) = self.cut {
            b.truncate(cut % (b.len() + 1));
        }
        b
    }
}

/// Bytes for a target: arbitrary, or a mutation of one of the valid files.
fn bytes_or_mutation(
    valid: Vec<Vec<u8>>,
    splices: Vec<Vec<u8>>,
    text: bool,
) -> impl Strategy<Value = Vec<u8>> {
    let n = valid.len();
    prop_oneof![
        1 => prop::collection::vec(byte(text), 0..512),
        3 => (0..n, mutation(splices, text)).prop_map(move |(i, m)| m.apply(&valid[i])),
    ]
}

/// The 4 bytes of a big-endian u32, for splicing header fields.
fn be(v: u32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// IDX: one of the four files of a tiny valid set (raw or gzip) replaced by fuzzed bytes.
#[test]
fn idx_never_panics_and_loads_only_valid_sets() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ];
    let idx = |dims: &[u32], data: &[u8], gzip: bool| {
        let p = dir.path().join("tmp");
        data::write_idx(&p, dims, data, gzip).unwrap();
        std::fs::read(p).unwrap()
    };
    let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 37 % 256) as u8).collect();
    let valid = [
        idx(&[3, 4, 5], &pixels, false),
        idx(&[3], &[0, 1, 2], false),
        idx(&[1, 4, 5], &pixels[..20], false),
        idx(&[1], &[1], false),
    ];
    let seeds: Vec<Vec<u8>> = vec![
        valid[0].clone(),
        valid[1].clone(),
        idx(&[3, 4, 5], &pixels, true),
        idx(&[3], &[0, 1, 2], true),
    ];
    let splices: Vec<Vec<u8>> = [0, 1, 3, 28, 512, 513, 100_000_000, u32::MAX]
        .iter()
        .map(|&v| be(v))
        .chain([vec![0, 0, 8, 3], vec![0, 0, 8, 1], vec![0x1f, 0x8b]])
        .collect();
    fuzz(
        "idx",
        1000,
        (0..4usize, bytes_or_mutation(seeds, splices, false)),
        |(which, bytes)| {
            for (i, name) in names.iter().enumerate() {
                let content = if i == which { &bytes } else { &valid[i] };
                std::fs::write(dir.path().join(name), content).unwrap();
            }
            match data::load_idx_dir(dir.path()) {
                Ok(ds) => check_dataset(&ds),
                Err(e) => {
                    let text = e.to_string();
                    prop_assert!(text.contains("-ubyte"), "{}", text);
                    Ok(())
                }
            }
        },
    );
}

/// CSV text: rows of the 785 fields a row has, written by the loader's tests' rules.
fn csv_row(label: &str, value: &str) -> String {
    let mut s = label.to_string();
    for _ in 0..784 {
        s.push(',');
        s.push_str(value);
    }
    s
}

/// CSV files built from rows of chosen tokens: labels and pixels good and bad, rows of
/// 784 pixels or about that many, with or without a byte-order mark, `\n` or `\r\n`.
fn csv_files() -> impl Strategy<Value = Vec<u8>> {
    let labels = vec![
        "0",
        "1",
        "7",
        "99",
        "100",
        "4294967296",
        "-1",
        "+1",
        " 3",
        "2.5",
        "seven",
        "label",
        "",
        "nan",
    ];
    let pixels = vec![
        "0", "1", "255", "0.5", "7", "256", "-1", "x", "nan", "", " 12 ",
    ];
    let count = prop_oneof![6 => Just(784usize), 1 => prop::sample::select(vec![0, 3, 783, 785])];
    let odd = prop::option::of((any::<usize>(), prop::sample::select(pixels.clone())));
    let line = (
        prop::sample::select(labels),
        prop::sample::select(pixels),
        count,
        odd,
    )
        .prop_map(|(label, pixel, count, odd)| {
            let mut fields = vec![pixel; count];
            if let Some((at, other)) = odd.filter(|_| count > 0) {
                fields[at % count] = other;
            }
            std::iter::once(label)
                .chain(fields)
                .collect::<Vec<_>>()
                .join(",")
        });
    (
        any::<bool>(),
        prop::collection::vec(line, 0..5),
        prop::sample::select(vec!["\n", "\r\n"]),
    )
        .prop_map(|(bom, lines, end)| {
            let body = lines.join(end);
            let bom = if bom { "\u{feff}" } else { "" };
            format!("{bom}{body}{end}").into_bytes()
        })
}

/// Lines holding something: the rows a loaded file must keep, plus a header if any.
fn data_lines(text: &str) -> (usize, bool) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // The README's rule: a first line is a header if and only if none of its fields is a
    // number.
    let header = lines
        .first()
        .is_some_and(|l| l.split(',').all(|f| f.trim().parse::<f64>().is_err()));
    (lines.len(), header)
}

/// CSV: arbitrary bytes and mutations of valid files (header or not, 0-255 or 0-1).
#[test]
fn csv_never_panics_and_never_drops_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.csv");
    let valid: Vec<Vec<u8>> = vec![
        format!(
            "{}\n{}\n{}\n",
            csv_row("1", "0"),
            csv_row("2", "255"),
            csv_row("0", "7")
        ),
        format!(
            "\u{feff}label,p\r\n{}\r\n{}\r\n",
            csv_row("3", "0.5"),
            csv_row("9", "1")
        ),
        format!("\n{}\n\n{}", csv_row("0", "1"), csv_row("1", "0")),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let splices: Vec<Vec<u8>> = [
        ",",
        "\n",
        "\r\n",
        ",,",
        "0",
        "255",
        "256",
        "-1",
        "nan",
        "inf",
        "1e400",
        "99",
        "100",
        "4294967296",
        "99999999999999999999",
        "2.5",
        "label",
        "\u{feff}",
        " ",
        "\"1\"",
        "\0",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([vec![0xff, 0xfe], vec![0xc3]])
    .collect();
    let case = prop_oneof![bytes_or_mutation(valid, splices, true), csv_files()];
    fuzz("csv", 3000, case, |bytes| {
        std::fs::write(&path, &bytes).unwrap();
        match data::load_csv(&path, 1) {
            Ok(ds) => {
                check_dataset(&ds)?;
                let text = String::from_utf8(bytes).expect("a loaded file is UTF-8");
                let (lines, header) = data_lines(&text);
                let rows = ds.train.len() + ds.test.len();
                prop_assert_eq!(rows, lines - usize::from(header), "rows lost");
                Ok(())
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.contains("fuzz.csv"), "{}", text);
                Ok(())
            }
        }
    });
}

/// Small valid images of every format the folder loader reads, by extension.
fn valid_images() -> Vec<(&'static str, Vec<u8>)> {
    let img = image::RgbImage::from_fn(9, 6, |x, y| {
        image::Rgb([(x * 28) as u8, (y * 40) as u8, 99])
    });
    let dynamic = image::DynamicImage::ImageRgb8(img);
    [
        ("png", image::ImageFormat::Png),
        ("bmp", image::ImageFormat::Bmp),
        ("gif", image::ImageFormat::Gif),
        ("jpg", image::ImageFormat::Jpeg),
    ]
    .into_iter()
    .map(|(ext, format)| {
        let mut bytes = std::io::Cursor::new(Vec::new());
        dynamic.write_to(&mut bytes, format).unwrap();
        (ext, bytes.into_inner())
    })
    .collect()
}

/// One image of a folder: arbitrary bytes and mutations of valid PNG, BMP, GIF and JPEG
/// files (with width and height fields spliced in). Any error names that file.
#[test]
fn single_images_never_panic_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let images = valid_images();
    for class in ["a", "b"] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        std::fs::write(dir.path().join(class).join("good.png"), &images[0].1).unwrap();
    }
    let exts: Vec<&'static str> = images.iter().map(|i| i.0).collect();
    let seeds: Vec<Vec<u8>> = images.iter().map(|i| i.1.clone()).collect();
    let splices: Vec<Vec<u8>> = [0u32, 1, 20_000, 65_535, u32::MAX]
        .iter()
        .flat_map(|&v| [be(v), v.to_le_bytes().to_vec()])
        .collect();
    // Header fields at their places, whatever the size they claim: a BMP's width and
    // height, a GIF's screen size.
    let gif = seeds[2].clone();
    let case = prop_oneof![
        4 => (
            prop::sample::select(exts),
            bytes_or_mutation(seeds, splices, false),
        ),
        1 => (any::<i32>(), any::<i32>()).prop_map(|(w, h)| ("bmp", common::bmp_header(w, h))),
        1 => (any::<u16>(), any::<u16>()).prop_map(move |(w, h)| {
            let mut g = gif.clone();
            g[6..8].copy_from_slice(&w.to_le_bytes());
            g[8..10].copy_from_slice(&h.to_le_bytes());
            ("gif", g)
        }),
    ];
    let fuzzed: PathBuf = dir.path().join("a");
    fuzz("image", 2000, case, |(ext, bytes)| {
        let file = fuzzed.join(format!("x.{ext}"));
        std::fs::write(&file, &bytes).unwrap();
        let result = data::load_folder(dir.path(), 1);
        std::fs::remove_file(&file).unwrap();
        match result {
            Ok(ds) => {
                check_dataset(&ds)?;
                prop_assert_eq!(ds.train.len() + ds.test.len(), 3);
                Ok(())
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.contains(&format!("x.{ext}")), "{}", text);
                Ok(())
            }
        }
    });
}

/// A valid checkpoint of a small VAE, written by a real (one-epoch) training run would be
/// slow: build the files with the library instead.
fn valid_checkpoint(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    use latentlab::model::{Autoencoder, Likelihood, ModelConfig, ModelKind};
    use rand::SeedableRng;
    let mut cfg = ModelConfig::new(ModelKind::BetaVae, 6, Likelihood::Gaussian);
    cfg.hidden = vec![5, 4];
    let model = Autoencoder::new(
        cfg.clone(),
        &mut latentlab::rng::PortableRng::seed_from_u64(1),
    )
    .unwrap();
    let meta = checkpoint::CheckpointMeta {
        format_version: checkpoint::FORMAT_VERSION,
        name: "beta-vae".into(),
        config: cfg,
        dataset: "moons".into(),
        item_shape: data::ItemShape::Points { dim: 6 },
        class_names: vec!["a".into(), "b".into()],
        epoch: 1,
        step: 10,
        lr: 1e-3,
        seed: 1,
        test_metrics: None,
    };
    let stem = dir.join("valid");
    checkpoint::save(&model, &meta, &stem).unwrap();
    let (json, weights) = checkpoint::paths(&stem);
    (
        std::fs::read(json).unwrap(),
        std::fs::read(weights).unwrap(),
    )
}

/// The checkpoint description (JSON) and weights (safetensors): arbitrary bytes and
/// mutations of a valid pair, one file at a time. Loading never panics; a description that
/// loads keeps its numbers within the limits.
#[test]
fn checkpoints_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (json, weights) = valid_checkpoint(dir.path());
    let stem = dir.path().join("m");
    let (json_path, weights_path) = checkpoint::paths(&stem);
    let json_splices: Vec<Vec<u8>> = [
        "0",
        "-1",
        "1e12",
        "1e400",
        "18446744073709551615",
        "null",
        "[]",
        "{}",
        "\"x\"",
        "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]",
        "\"vae\"",
        "\"Bernoulli\"",
        "NaN",
        ",",
        "\"",
        "true",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let weight_splices: Vec<Vec<u8>> = [
        r#""F64""#,
        r#""I64""#,
        r#""U8""#,
        r#"[0,0]"#,
        r#"[6,1000000000]"#,
        r#""x":{}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([u64::MAX.to_le_bytes().to_vec(), 8u64.to_le_bytes().to_vec()])
    .collect();
    let case = prop_oneof![
        (
            Just(true),
            bytes_or_mutation(vec![json.clone()], json_splices, true)
        ),
        (
            Just(false),
            bytes_or_mutation(vec![weights.clone()], weight_splices, false)
        ),
    ];
    fuzz("checkpoint", 2000, case, |(fuzz_json, bytes)| {
        let (j, w) = if fuzz_json {
            (&bytes, &weights)
        } else {
            (&json, &bytes)
        };
        std::fs::write(&json_path, j).unwrap();
        std::fs::write(&weights_path, w).unwrap();
        if let Ok(meta) = checkpoint::load_meta(&stem) {
            prop_assert!(meta.config.validate().is_ok());
            prop_assert!(meta.config.parameter_count() <= latentlab::model::limits::MAX_PARAMETERS);
        }
        match checkpoint::load(&stem) {
            Ok((model, _)) => {
                prop_assert_eq!(model.config.input_dim, 6);
                Ok(())
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(
                    text.contains("m.json") || text.contains("m.safetensors"),
                    "{}",
                    text
                );
                Ok(())
            }
        }
    });
}

/// Settings with every field drawn from its edge cases (0, huge, NaN, inf, negative,
/// unknown keys), as a user's hand-edited or corrupted `app.ron` might hold them.
fn wild_settings() -> impl Strategy<Value = latentlab::app::Settings> {
    use latentlab::model::{KnobValue, ModelKind};
    let size = || {
        prop_oneof![
            0usize..300,
            prop::sample::select(vec![0usize, 1, 2, 100_000, 1 << 40, usize::MAX])
        ]
    };
    let float = || {
        prop_oneof![
            -10.0f64..10.0,
            prop::sample::select(vec![0.0, -1.0, 1e-9, 1e9, 1e30, f64::NAN, f64::INFINITY])
        ]
    };
    let kinds: Vec<ModelKind> = ModelKind::all().collect();
    let mut keys: Vec<String> = latentlab::model::kinds::all_knobs()
        .iter()
        .map(|k| k.key.to_string())
        .collect();
    keys.push("nope".into());
    let knob = prop_oneof![
        float().prop_map(|v| KnobValue::Number(v as f32)),
        prop::sample::select(vec!["gaussian", "masking", "x", ""])
            .prop_map(|c| KnobValue::Choice(c.to_string())),
    ];
    (
        (
            prop::sample::subsequence(kinds.clone(), 0..=kinds.len()),
            size(),
            prop::collection::vec(size(), 0..40),
            prop::collection::btree_map(prop::sample::select(keys), knob, 0..6),
            float(),
        ),
        (
            size(),
            prop::option::of(size()),
            float(),
            size(),
            prop::option::of(float()),
            size(),
        ),
    )
        .prop_map(
            |((models, latent_dim, hidden, knobs, lr), (batch, epochs, warmup, iw, every, k))| {
                let mut s = latentlab::app::Settings::default();
                s.run.models = models;
                s.run.latent_dim = latent_dim;
                s.run.hidden = hidden;
                s.run.knobs = knobs;
                s.run.lr = lr;
                s.run.batch_size = batch;
                s.run.epochs = epochs;
                s.run.kl_warmup_epochs = warmup as f32;
                s.run.iw_samples = iw;
                s.run.eval_every_secs = every;
                s.grid_k = k;
                s
            },
        )
}

/// Settings as eframe stores them (RON): settings with wild values in every field, and
/// mutations of their text. Reading never panics; whatever reads, `sanitize` leaves
/// settings that can train (a second `sanitize` finds nothing to fix, and the run builds
/// for 28×28 images), and the zoom repair run before eframe starts leaves no zoom eframe
/// would panic on.
#[test]
fn settings_never_panic_and_sanitized_settings_train() {
    use latentlab::app::{Settings, repair_saved_zoom};
    use latentlab::data::ItemShape;
    let text = (
        wild_settings(),
        prop::option::weighted(
            0.3,
            mutation(vec![b"0".to_vec(), b"NaN".to_vec(), b"(".to_vec()], true),
        ),
    )
        .prop_map(|(s, m)| {
            let text = ron::to_string(&s).unwrap().into_bytes();
            m.map_or(text.clone(), |m| m.apply(&text))
        });
    let dir = tempfile::tempdir().unwrap();
    let image = ItemShape::Image {
        width: 28,
        height: 28,
    };
    let parsed = std::sync::atomic::AtomicUsize::new(0);
    fuzz("settings", 2000, text, |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(mut s) = ron::from_str::<Settings>(&text) {
            parsed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            s.sanitize();
            let again = s.clone().sanitize();
            prop_assert!(again.is_empty(), "still out of range: {:?}", again);
            let built = s.run.train_config_for(image);
            prop_assert!(built.is_ok(), "{:?} cannot train: {:?}", s, built.err());
        }
        // A zoom as eframe keeps it in app.ron, from the same text.
        let zoom: String = text.chars().rev().take(12).collect();
        let stored = format!("{{\"egui\": \"(options:(zoom_factor:{zoom}),data:[])\"}}");
        std::fs::write(dir.path().join("app.ron"), &stored).unwrap();
        repair_saved_zoom(dir.path());
        let after = std::fs::read_to_string(dir.path().join("app.ron")).unwrap();
        let kept = after
            .split("zoom_factor:")
            .nth(1)
            .unwrap_or("")
            .split(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .next()
            .unwrap_or("");
        prop_assert!(
            kept.parse::<f32>().is_ok_and(|z| (0.5..=3.0).contains(&z)),
            "zoom {:?} kept from {:?}",
            kept,
            zoom
        );
        Ok(())
    });
    assert!(
        parsed.into_inner() > 100,
        "too few cases read as settings to mean anything"
    );
}

/// Every leaf of a JSON value, as a pointer ("/spec/lr").
fn leaves(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                leaves(v, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                leaves(v, format!("{at}/{i}"), out);
            }
        }
        _ => out.push(at),
    }
}

/// A value at the edge of what a field could hold.
fn edge_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop::sample::select(vec![
        json!(0),
        json!(-1),
        json!(1e300),
        json!(-1e300),
        json!(1e-300),
        json!(100_000_000_000_000u64),
        json!(u64::MAX),
        json!(1_000_000_000u64),
        json!(3),
        json!("1"),
        json!(""),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!("../x"),
        json!("idx:/nowhere"),
        json!("vae"),
    ])
}

/// A saved run trained once by the binary, for the run targets.
fn trained_run(dir: &Path) -> PathBuf {
    let run = dir.join("good");
    let args = common::quick_run_args(&run);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    run
}

/// Saved runs whose run.json is edited (one field set to an edge value, or its bytes
/// mutated): opening never panics, and a run that opens can be started from (its time a
/// `Duration`, its step a replay that ends) and its data set loads or says why.
#[test]
fn run_manifests_never_panic_and_what_opens_can_start() {
    let dir = tempfile::tempdir().unwrap();
    let good = trained_run(dir.path());
    let manifest = std::fs::read(good.join("run.json")).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let mut pointers = Vec::new();
    leaves(&value, String::new(), &mut pointers);
    let case = dir.path().join("case");
    std::fs::create_dir(&case).unwrap();
    for e in std::fs::read_dir(&good).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), case.join(e.file_name())).unwrap();
    }
    let edited = (prop::sample::select(pointers), edge_value()).prop_map(move |(at, new)| {
        let mut v = value.clone();
        *v.pointer_mut(&at).unwrap() = new;
        serde_json::to_vec_pretty(&v).unwrap()
    });
    let mutated = mutation(
        vec![
            b"1e300".to_vec(),
            b"\"1\"".to_vec(),
            b"-".to_vec(),
            b"99999999999999".to_vec(),
        ],
        true,
    )
    .prop_map(move |m| m.apply(&manifest));
    let opened = std::sync::atomic::AtomicUsize::new(0);
    fuzz("run.json", 300, prop_oneof![edited, mutated], |bytes| {
        std::fs::write(case.join("run.json"), &bytes).unwrap();
        match latentlab::train::run::open_run(&case) {
            Ok(run) => {
                opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let m = &run.manifest;
                let start = run.start_from();
                prop_assert!(start.elapsed_secs.is_finite() && start.elapsed_secs >= 0.0);
                let _ = Duration::from_secs_f64(start.elapsed_secs);
                prop_assert!(m.step.saturating_mul(m.spec.batch_size as u64) <= 1_000_000_000);
                if let Ok(ds) = run.load_data() {
                    prop_assert!(m.spec.train_config(&ds).is_ok());
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        Ok(())
    });
    assert!(
        opened.into_inner() > 0,
        "no edited run opened: the target never reaches past the checks"
    );
}

/// A run's timeline file, mutated: reading it never panics.
#[test]
fn timelines_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = trained_run(dir.path());
    let valid = std::fs::read(good.join(latentlab::train::timeline::RUN_FILE)).unwrap();
    let read = std::sync::atomic::AtomicUsize::new(0);
    let bytes = bytes_or_mutation(
        vec![valid],
        vec![be(u32::MAX), be(0), be(1 << 30), vec![0xff; 8]],
        false,
    );
    fuzz("timeline.bin", 1000, bytes, |bytes| {
        if latentlab::train::Timeline::from_bytes(&bytes).is_ok() {
            read.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    assert!(read.into_inner() > 0, "no case read as a timeline");
}

/// Lessons, mutated from the built-in ones: parsing never panics, what parses stays within
/// the caps, and every step's setup can be asked for.
#[test]
fn lessons_never_panic_and_stay_within_their_caps() {
    use latentlab::lessons::{Lesson, MAX_STEPS, MAX_TITLE_CHARS};
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/lessons");
    let valid: Vec<Vec<u8>> = ["ae-vs-vae.md", "elbo.md", "interpolation.md"]
        .iter()
        .map(|f| std::fs::read(folder.join(f)).unwrap())
        .collect();
    let splices = vec![
        b"\n## S\n\n".to_vec(),
        b"\n## S\n\nText.\n".repeat(60),
        b"\nopen: /nowhere\n".to_vec(),
        b"\nclasses: 1,2\n".to_vec(),
        b"\nlatent_dim: 99999\n".to_vec(),
        b"\ntab: Latent\n".to_vec(),
        b"---\n".to_vec(),
        "é".repeat(300).into_bytes(),
    ];
    let parsed = std::sync::atomic::AtomicUsize::new(0);
    let text = (0..valid.len(), mutation(splices, true)).prop_map(move |(i, m)| m.apply(&valid[i]));
    fuzz("lessons", 1000, text, |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(l) = Lesson::parse("fuzz.md", &text) {
            parsed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            prop_assert!(l.steps.len() <= MAX_STEPS);
            prop_assert!(l.title.chars().count() <= MAX_TITLE_CHARS);
            for i in 0..l.steps.len() {
                let _ = l.setup(i);
            }
        }
        Ok(())
    });
    assert!(parsed.into_inner() > 0, "no case parsed as a lesson");
}

/// A class bundle made by the binary (`latentlab pack`): a lesson opening a saved run.
fn packed_bundle(dir: &Path) -> PathBuf {
    let teacher = dir.join("teacher");
    std::fs::create_dir_all(&teacher).unwrap();
    trained_run(&teacher);
    let lesson = teacher.join("class.md");
    std::fs::write(
        &lesson,
        "---\nname: class\ntitle: A class\n---\n\n## Open the run\nopen: good\ngrid: 5\n\n\
         Look at the codes.\n\n## Later\ngrid: 7\n\nA finer grid.\n",
    )
    .unwrap();
    let out = dir.join("class.latentlab");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args([
            "pack",
            lesson.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// How one entry of a rebuilt bundle is stored.
#[derive(Clone, Debug)]
enum Stored {
    /// A plain stored file (as `pack` writes it).
    File,
    /// A symbolic link to the given target.
    Link(String),
    /// A folder entry.
    Folder,
    /// A stored file with zip64 fields.
    Zip64,
}

/// An edit of a valid bundle, as a damaged download or a hostile author might make it.
#[derive(Clone, Debug)]
enum BundleEdit {
    /// The archive's bytes mutated.
    Bytes(Mutation),
    /// One leaf of bundle.json set to an edge value.
    Manifest(String, serde_json::Value),
    /// One entry's bytes mutated; with `relist`, bundle.json's length and hash made true.
    Content {
        entry: usize,
        mutation: Mutation,
        relist: bool,
    },
    /// One entry renamed (in bundle.json too with `relist`; to an existing name it is
    /// in the archive twice).
    Rename {
        entry: usize,
        name: String,
        relist: bool,
    },
    /// One entry stored another way.
    Store { entry: usize, how: Stored },
    /// One entry left out of the archive.
    Drop(usize),
    /// A file bundle.json does not list (or lists, with `relist`) added.
    Add {
        name: String,
        bytes: Vec<u8>,
        relist: bool,
    },
}

/// The SHA-256 of `bytes` in hex.
fn sha_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The entries of a zip archive, in order: (name, bytes).
fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().unwrap().to_string(), b)
        })
        .collect()
}

/// A zip of `entries`. A name used twice is written under a stand-in of the same length
/// that is then replaced in the bytes (the writer refuses duplicates; readers may not).
/// None where the writer refuses the entries.
fn write_entries(entries: &[(String, Vec<u8>, Stored)]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut used = std::collections::BTreeSet::new();
    let mut stand_ins = Vec::new();
    for (i, (name, bytes, how)) in entries.iter().enumerate() {
        let mut written = name.clone();
        if !used.insert(name.clone()) {
            if !name.is_ascii() || name.len() < 3 {
                return None;
            }
            written = format!("\u{1}{}{}", (b'A' + (i % 26) as u8) as char, &name[2..]);
            stand_ins.push((written.clone(), name.clone()));
        }
        match how {
            Stored::File => z.start_file(written, opts).ok()?,
            Stored::Zip64 => z.start_file(written, opts.large_file(true)).ok()?,
            Stored::Link(target) => {
                z.add_symlink(written, target, opts).ok()?;
                continue;
            }
            Stored::Folder => {
                z.add_directory(written, opts).ok()?;
                continue;
            }
        }
        z.write_all(bytes).ok()?;
    }
    let mut out = z.finish().ok()?.into_inner();
    for (stand_in, name) in stand_ins {
        let (from, to) = (stand_in.as_bytes(), name.as_bytes());
        let mut at = 0;
        while let Some(i) = out[at..].windows(from.len()).position(|w| w == from) {
            out[at + i..at + i + to.len()].copy_from_slice(to);
            at += i + to.len();
        }
    }
    Some(out)
}

/// bundle.json changed by `f`.
fn relist(entries: &mut [(String, Vec<u8>, Stored)], f: impl Fn(&mut serde_json::Value)) {
    // The real one is the last (an edit may add another of that name before it).
    if let Some(m) = entries.iter_mut().rev().find(|e| e.0 == "bundle.json")
        && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&m.1)
    {
        f(&mut v);
        m.1 = serde_json::to_vec_pretty(&v).unwrap();
    }
}

impl BundleEdit {
    /// The edited bundle, from the valid one and its entries.
    fn apply(&self, valid: &[u8], files: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut e: Vec<(String, Vec<u8>, Stored)> = files
            .iter()
            .map(|(n, b)| (n.clone(), b.clone(), Stored::File))
            .collect();
        let n = e.len();
        let files_of = |v: &mut serde_json::Value| v["files"].as_array_mut().cloned();
        match self {
            BundleEdit::Bytes(m) => return m.apply(valid),
            BundleEdit::Manifest(at, value) => relist(&mut e, |v| {
                if let Some(leaf) = v.pointer_mut(at) {
                    *leaf = value.clone();
                }
            }),
            BundleEdit::Content {
                entry,
                mutation,
                relist: again,
            } => {
                let (name, bytes, _) = &mut e[entry % n];
                *bytes = mutation.apply(bytes);
                let (name, bytes) = (name.clone(), bytes.clone());
                if *again {
                    relist(&mut e, |v| {
                        for f in v["files"].as_array_mut().into_iter().flatten() {
                            if f["name"] == name.as_str() {
                                f["bytes"] = bytes.len().into();
                                f["sha256"] = sha_hex(&bytes).into();
                            }
                        }
                    });
                }
            }
            BundleEdit::Rename {
                entry,
                name,
                relist: again,
            } => {
                let old = std::mem::replace(&mut e[entry % n].0, name.clone());
                if *again {
                    relist(&mut e, |v| {
                        for f in v["files"].as_array_mut().into_iter().flatten() {
                            if f["name"] == old.as_str() {
                                f["name"] = name.as_str().into();
                            }
                        }
                        if v["lesson"] == old.as_str() {
                            v["lesson"] = name.as_str().into();
                        }
                    });
                }
            }
            BundleEdit::Store { entry, how } => e[entry % n].2 = how.clone(),
            BundleEdit::Drop(entry) => {
                e.remove(entry % n);
            }
            BundleEdit::Add {
                name,
                bytes,
                relist: again,
            } => {
                e.insert(
                    e.len().saturating_sub(1),
                    (name.clone(), bytes.clone(), Stored::File),
                );
                if *again {
                    relist(&mut e, |v| {
                        let mut list = files_of(v).unwrap_or_default();
                        list.push(serde_json::json!({
                            "name": name, "bytes": bytes.len(), "sha256": sha_hex(bytes)
                        }));
                        v["files"] = list.into();
                    });
                }
            }
        }
        write_entries(&e).unwrap_or_else(|| valid.to_vec())
    }
}

/// Names a hostile bundle might give an entry.
fn entry_name(existing: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(existing),
        prop::sample::select(vec![
            "../evil".to_string(),
            "runs/../../evil".into(),
            "/tmp/evil".into(),
            "\\evil".into(),
            "C:/evil".into(),
            "runs\\x".into(),
            "runs//x".into(),
            "./x".into(),
            "runs/".into(),
            String::new(),
            "a\nb".into(),
            "bundle.json".into(),
            "lesson.md".into(),
            "runs/good".into(),
            "runs/good/run.json/x".into(),
            "é".repeat(200),
            "x".repeat(70_000),
        ]),
    ]
}

/// Edits of the valid bundle: its bytes, its manifest, its entries' contents, names and
/// kinds, entries dropped and added.
fn bundle_edits(
    valid: &[u8],
    files: &[(String, Vec<u8>)],
) -> impl Strategy<Value = BundleEdit> + use<> {
    use serde_json::json;
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let manifest = files.iter().find(|(n, _)| n == "bundle.json").unwrap();
    let value: serde_json::Value = serde_json::from_slice(&manifest.1).unwrap();
    let mut pointers = Vec::new();
    leaves(&value, String::new(), &mut pointers);
    pointers.push("/files".into());
    let edge = prop_oneof![
        edge_value(),
        prop::sample::select(vec![
            json!(u64::MAX),
            json!(2u64 << 30),
            json!("latentlab-bundle"),
            json!(valid.len()),
            json!([{"name": "x", "bytes": 1, "sha256": "0"}]),
        ]),
    ];
    let text_splices = vec![
        b"\nopen: ../../x\n".to_vec(),
        b"\nopen: /etc\n".to_vec(),
        b"\nopen: runs/good/..\n".to_vec(),
        b"\n## S\n\nText.\n".repeat(60),
        b"1e300".to_vec(),
        b"\"1\"".to_vec(),
        b"99999999999999".to_vec(),
    ];
    let lesson_splices = text_splices.clone();
    let zip_splices = vec![
        b"PK\x05\x06".to_vec(),
        b"PK\x01\x02".to_vec(),
        b"PK\x03\x04".to_vec(),
        b"PK\x06\x06".to_vec(),
        b"PK\x06\x07".to_vec(),
        be(u32::MAX),
        vec![0xff, 0xff],
        vec![0; 22],
    ];
    let lesson = files
        .iter()
        .position(|(n, _)| Some(n.as_str()) == value["lesson"].as_str())
        .unwrap();
    let stored = prop_oneof![
        Just(Stored::Folder),
        Just(Stored::Zip64),
        prop::sample::select(vec!["../x", "/etc/passwd", "runs/good", "lesson.md", ""])
            .prop_map(|t| Stored::Link(t.to_string())),
    ];
    prop_oneof![
        3 => mutation(zip_splices, false).prop_map(BundleEdit::Bytes),
        2 => (prop::sample::select(pointers), edge).prop_map(|(at, v)| BundleEdit::Manifest(at, v)),
        3 => (any::<usize>(), mutation(text_splices, true), any::<bool>()).prop_map(
            |(entry, mutation, relist)| BundleEdit::Content { entry, mutation, relist }
        ),
        // The lesson's text, listed again: most of these open, so the checks past the
        // archive's (the lesson, its runs) are reached.
        3 => mutation(lesson_splices, true).prop_map(move |mutation| BundleEdit::Content {
            entry: lesson,
            mutation,
            relist: true,
        }),
        2 => (any::<usize>(), entry_name(names.clone()), any::<bool>())
            .prop_map(|(entry, name, relist)| BundleEdit::Rename { entry, name, relist }),
        1 => (any::<usize>(), stored).prop_map(|(entry, how)| BundleEdit::Store { entry, how }),
        1 => any::<usize>().prop_map(BundleEdit::Drop),
        1 => (entry_name(names), prop::collection::vec(any::<u8>(), 0..64), any::<bool>())
            .prop_map(|(name, bytes, relist)| BundleEdit::Add { name, bytes, relist }),
    ]
}

/// Every path under `dir`, relative, sorted.
fn tree(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.strip_prefix(root).unwrap().display().to_string());
        if p.is_dir() && !p.is_symlink() {
            tree(root, &p, out);
        }
    }
}

/// Class bundles edited in every part (bytes, bundle.json, entries' contents, names and
/// kinds): opening never panics, never writes outside the cache folder, leaves nothing in
/// the cache when it refuses, and what opens is a lesson whose runs are inside its
/// unpacked folder and open; opened again (and after damage to the unpacked folder) it
/// opens the same.
#[test]
fn bundles_never_panic_write_only_in_the_cache_and_what_opens_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let valid_path = packed_bundle(dir.path());
    let valid = std::fs::read(&valid_path).unwrap();
    let files = zip_entries(&valid);
    let home = dir.path().join("home");
    let cache = home.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let case = home.join("case.latentlab");
    let lessons = cache.join(latentlab::lessons::bundle::CACHE_FOLDER);
    let outside = || {
        let mut t = Vec::new();
        tree(dir.path(), dir.path(), &mut t);
        t.retain(|p| !p.starts_with("home/cache/lessons") && p != "home/case.latentlab");
        t.sort();
        t
    };
    let before = outside();
    let opened = std::sync::atomic::AtomicUsize::new(0);
    let strategy = bundle_edits(&valid, &files);
    fuzz("bundle", 100, strategy, |edit| {
        use latentlab::lessons::bundle;
        let bytes = edit.apply(&valid, &files);
        // Each case starts from an empty cache, so what a case leaves is its own.
        std::fs::remove_dir_all(&cache).ok();
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(&case, &bytes).unwrap();
        let mine = lessons.join(sha_hex(&bytes));
        let result = bundle::open(&case, &cache);
        prop_assert_eq!(outside(), before.clone(), "written outside the cache");
        match result {
            Ok(lesson) => {
                opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                prop_assert!(lesson.steps.len() <= latentlab::lessons::MAX_STEPS);
                for step in &lesson.steps {
                    if let Some(o) = &step.changes.open {
                        prop_assert!(o.value.starts_with(&mine), "{:?}", o.value);
                        prop_assert!(latentlab::train::run::open_run(&o.value).is_ok());
                    }
                }
                // Opened again, it reuses the folder; damaged there, it unpacks again.
                prop_assert!(bundle::open(&case, &cache).is_ok());
                let unpacked = bundle::unpack(&case, &cache).unwrap();
                let first = unpacked.dir.join(&unpacked.manifest.files[0].name);
                std::fs::write(&first, b"damaged").unwrap();
                prop_assert!(bundle::open(&case, &cache).is_ok(), "not unpacked again");
                std::fs::remove_dir_all(&mine).unwrap();
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(
                    text.contains(&case.display().to_string())
                        || text.contains(&cache.display().to_string()),
                    "{}",
                    text
                );
                prop_assert!(
                    !mine.exists(),
                    "a refused bundle stayed in the cache: {}",
                    text
                );
            }
        }
        if lessons.exists() {
            let left: Vec<_> = std::fs::read_dir(&lessons).unwrap().collect();
            prop_assert!(left.is_empty(), "left in the cache: {:?}", left);
        }
        Ok(())
    });
    let opened = opened.into_inner();
    eprintln!("fuzz bundle: {opened} cases opened");
    assert!(
        opened > 0,
        "no edited bundle opened: the target never reaches past the checks"
    );
}
