//! `latentlab codes`: the Embedding Projector's files for a model trained on `sprites`,
//! checked against the data set and against the run's own test rows; and its errors.

mod common;

use common::{latentlab, stderr};
use std::path::Path;

/// Trains a small MLP AE and VAE on `sprites` (one epoch) into `out`.
fn train_sprites(out: &Path) {
    let o = latentlab(&[
        "train",
        "--dataset",
        "sprites",
        "--models",
        "ae,vae",
        "--hidden",
        "32",
        "--latent-dim",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "250",
        "--grid",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn numbers(path: &Path) -> Vec<Vec<f64>> {
    rows(path)
        .iter()
        .map(|r| r.iter().map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn variance(column: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = column.clone().count() as f64;
    let mean = column.clone().sum::<f64>() / n;
    column.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n
}

/// The largest eigenvalue of the codes' covariance, by power iteration.
fn top_variance(codes: &[Vec<f64>]) -> f64 {
    let d = codes[0].len();
    let n = codes.len() as f64;
    let mean: Vec<f64> = (0..d)
        .map(|j| codes.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let cov = |a: usize, b: usize| {
        codes
            .iter()
            .map(|r| (r[a] - mean[a]) * (r[b] - mean[b]))
            .sum::<f64>()
            / n
    };
    let c: Vec<Vec<f64>> = (0..d)
        .map(|a| (0..d).map(|b| cov(a, b)).collect())
        .collect();
    let mut v = vec![1.0; d];
    let mut lambda = 0.0;
    for _ in 0..500 {
        let w: Vec<f64> = (0..d)
            .map(|a| (0..d).map(|b| c[a][b] * v[b]).sum())
            .collect();
        lambda = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = w.iter().map(|x| x / lambda).collect();
    }
    lambda
}

/// The number after `key` on the line of stdout that starts with it.
fn printed(stdout: &str, key: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no '{key}' in {stdout}"))
        .trim()
        .to_string()
}

#[test]
fn codes_writes_the_projector_files_and_scores_exactly_those_codes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train_sprites(&run);

    // The saved run records the factors; every test row carries active units and MIG.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["data"]["factor_names"],
        serde_json::json!(["shape", "scale", "orientation", "x", "y"])
    );
    let metrics: Vec<serde_json::Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let test_row = |model: &str| {
        metrics
            .iter()
            .rfind(|r| r["model"] == model && r["split"] == "test")
            .unwrap()
            .clone()
    };

    let ds = latentlab::data::load("sprites", manifest["spec"]["seed"].as_u64().unwrap()).unwrap();
    for model in ["vae", "ae"] {
        let out = dir.path().join(format!("codes-{model}"));
        let o = latentlab(&[
            "codes",
            "--checkpoint",
            run.join(format!("{model}.json")).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--projection",
            "pca",
        ]);
        assert!(o.status.success(), "codes failed: {}", stderr(&o));
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();

        // vectors.tsv: every test item (2000 fit one sheet), 4 numbers, no header.
        let codes = numbers(&out.join("vectors.tsv"));
        assert_eq!(codes.len(), ds.test.len());
        assert!(codes.iter().all(|r| r.len() == 4));

        // metadata.tsv: the header, then each item's shape name and its five factors.
        let meta = rows(&out.join("metadata.tsv"));
        assert_eq!(
            meta[0],
            ["label", "shape", "scale", "orientation", "x", "y"]
        );
        assert_eq!(meta.len(), ds.test.len() + 1);
        for (i, row) in meta[1..].iter().enumerate() {
            let factors: Vec<String> = ds
                .test
                .factors_of(i, 5)
                .iter()
                .map(u32::to_string)
                .collect();
            assert_eq!(row[1..], factors[..], "item {i}");
            assert_eq!(row[0], ds.class_names[ds.test.labels[i] as usize]);
        }

        // sprite.png: ⌈√2000⌉ = 45 sprites per side, each 64×64, row by row.
        let sheet = image::open(out.join("sprite.png")).unwrap().to_rgb8();
        assert_eq!(sheet.dimensions(), (45 * 64, 45 * 64));
        for i in [0, 1, 46, 1999] {
            let item = ds.test.item(i, 64 * 64);
            let (x0, y0) = ((i % 45) * 64, (i / 45) * 64);
            for p in (0..64 * 64).step_by(37) {
                let want = (item[p].clamp(0.0, 1.0) * 255.0).round() as u8;
                let got = sheet
                    .get_pixel((x0 + p % 64) as u32, (y0 + p / 64) as u32)
                    .0;
                assert_eq!(got, [want; 3], "item {i}, pixel {p}");
            }
        }
        let config = std::fs::read_to_string(out.join("projector_config.pbtxt")).unwrap();
        for line in [
            "tensor_path: \"vectors.tsv\"",
            "metadata_path: \"metadata.tsv\"",
            "image_path: \"sprite.png\"",
            "single_image_dim: 64\n    single_image_dim: 64",
        ] {
            assert!(config.contains(line), "{line} missing from {config}");
        }

        // projection.tsv: two columns, the first with the codes' largest variance.
        let projection = numbers(&out.join("projection.tsv"));
        assert_eq!(projection.len(), codes.len());
        assert!(projection.iter().all(|r| r.len() == 2));
        let first = variance(projection.iter().map(|r| r[0]));
        let top = top_variance(&codes);
        assert!(
            (first - top).abs() <= 1e-3 * top.max(1e-6),
            "PC1 variance {first} vs {top}"
        );

        // The scores printed are those of the files: active units recounted from
        // vectors.tsv, and the same as the run's last test row (the same codes).
        let active = (0..4)
            .filter(|&j| variance(codes.iter().map(|r| r[j])) > 0.01)
            .count();
        assert_eq!(printed(&stdout, "active units:"), format!("{active} of 4"));
        let row = test_row(model);
        assert_eq!(row["active_units"].as_u64(), Some(active as u64), "{row}");
        let mig: f64 = printed(&stdout, "MIG:").parse().unwrap();
        let factors: Vec<u32> = meta[1..]
            .iter()
            .flat_map(|r| r[1..].iter().map(|v| v.parse::<u32>().unwrap()))
            .collect();
        let flat: Vec<f32> = codes.iter().flatten().map(|&v| v as f32).collect();
        let from_files = latentlab::explore::scores::mig(&flat, 4, &factors, 5).unwrap();
        assert!((mig - from_files).abs() < 1e-4, "{mig} vs {from_files}");
        let in_row = row["mig"].as_f64().unwrap();
        assert!(
            (mig - in_row).abs() < 1e-4,
            "printed {mig}, test row {in_row}"
        );
        assert!((0.0..=1.0).contains(&mig));
    }

    // UMAP of the AE's codes: one row of two finite numbers per row of vectors.tsv, in the
    // same order, keeping each code's neighbours near it.
    let out = dir.path().join("codes-umap");
    let o = latentlab(&[
        "codes",
        "--checkpoint",
        run.join("ae.json").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--projection",
        "umap",
    ]);
    assert!(o.status.success(), "codes failed: {}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("(UMAP)"), "{stdout}");
    assert!(stderr(&o).contains("UMAP 100 %"), "{}", stderr(&o));
    let codes = numbers(&out.join("vectors.tsv"));
    let points = numbers(&out.join("projection.tsv"));
    assert_eq!(points.len(), codes.len());
    assert!(
        points
            .iter()
            .all(|r| r.len() == 2 && r.iter().all(|v| v.is_finite())),
        "two finite numbers a row"
    );
    let flat: Vec<f32> = codes.iter().flatten().map(|&v| v as f32).collect();
    let plane: Vec<[f32; 2]> = points.iter().map(|r| [r[0] as f32, r[1] as f32]).collect();
    let trust = |plane: &[[f32; 2]]| trustworthiness(&flat, 4, plane, 10).unwrap();
    let kept = trust(&plane);
    // The same points given to other codes (each row's neighbour's): what a file in
    // another order would score.
    let mut shifted = plane.clone();
    shifted.rotate_left(1);
    let shuffled = trust(&shifted);
    assert!(
        kept > 0.9 && kept > shuffled + 0.2,
        "trustworthiness {kept} (rows out of order: {shuffled})"
    );
}

/// Trustworthiness (k neighbours) of a projection of `codes` (rows of `dim`).
fn trustworthiness(codes: &[f32], dim: usize, points: &[[f32; 2]], k: usize) -> Option<f64> {
    latentlab::explore::projection::trustworthiness(codes, dim, points, k).ok()
}

#[test]
fn codes_refuses_what_it_cannot_do_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let o = latentlab(
        &common::quick_run_args(&run)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    let ckpt = run.join("vae.json");
    let ckpt = ckpt.to_str().unwrap();
    let out = dir.path().join("codes");
    let out = out.to_str().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let under_file = blocker.join("codes");
    let missing = dir.path().join("nothing.json");
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["--checkpoint", missing.to_str().unwrap(), "--out", out],
            "nothing",
        ),
        (
            vec!["--checkpoint", ckpt, "--dataset", "digits", "--out", out],
            "data set 'digits'",
        ),
        (
            vec!["--checkpoint", ckpt, "--out", under_file.to_str().unwrap()],
            "cannot create the folder",
        ),
        (
            vec!["--checkpoint", ckpt, "--out", out, "--projection", "isomap"],
            "pca, tsne and umap",
        ),
    ];
    for (args, said) in cases {
        let o = latentlab(&[&["codes"], &args[..]].concat());
        assert!(!o.status.success(), "{args:?} succeeded");
        let e = stderr(&o);
        assert!(e.contains(said), "{args:?}: expected '{said}' in {e}");
    }

    // On points (moons): no sprite, a two-column metadata file (the Projector reads a
    // one-column file as headerless labels), active units and no MIG.
    let o = latentlab(&["codes", "--checkpoint", ckpt, "--out", out]);
    assert!(o.status.success(), "codes failed: {}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("active units: "), "{stdout}");
    assert!(!stdout.contains("MIG"), "{stdout}");
    let dir_out = Path::new(out);
    assert!(!dir_out.join("sprite.png").exists());
    assert_eq!(rows(&dir_out.join("metadata.tsv"))[0], ["label", "class"]);
    let config = std::fs::read_to_string(dir_out.join("projector_config.pbtxt")).unwrap();
    assert!(!config.contains("sprite"), "{config}");
}
