use std::sync::atomic::{AtomicBool, AtomicU32};
use std::time::{Duration, Instant};

use super::*;

/// Runs `project` with fresh flags.
fn run(
    codes: &[f32],
    dim: usize,
    method: Projection,
    seed: u64,
) -> Result<Vec<[f32; 2]>, ProjectionError> {
    project(
        codes,
        dim,
        method,
        seed,
        &AtomicU32::new(0),
        &AtomicBool::new(false),
    )
}

/// `per_cluster` codes around each of `centres` (rows of `dim`), spread ±1 per dimension.
fn clusters(centres: &[Vec<f32>], per_cluster: usize, seed: u64) -> Vec<f32> {
    let mut rng = knn::Jitter::new(seed);
    let mut codes = Vec::new();
    for c in centres {
        for _ in 0..per_cluster {
            codes.extend(c.iter().map(|m| m + rng.gaussian()));
        }
    }
    codes
}

/// Two clusters 12 apart in 16 dimensions, 80 codes each.
fn two_clusters() -> Vec<f32> {
    let far: Vec<f32> = (0..16).map(|i| if i < 4 { 6.0 } else { 0.0 }).collect();
    clusters(&[vec![0.0; 16], far], 80, 3)
}

/// Whether each point's `k` nearest points on the plane come from its own cluster.
fn neighbours_stay_home(points: &[[f32; 2]], per_cluster: usize, k: usize) -> bool {
    points.iter().enumerate().all(|(i, p)| {
        let mut others: Vec<(f32, usize)> = points
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(j, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2), j))
            .collect();
        others.sort_by(|a, b| a.0.total_cmp(&b.0));
        others[..k]
            .iter()
            .all(|&(_, j)| j / per_cluster == i / per_cluster)
    })
}

#[test]
fn two_separate_clusters_stay_separate_on_the_plane() {
    let codes = two_clusters();
    for method in [Projection::Tsne, Projection::Umap] {
        let points = run(&codes, 16, method, 7).unwrap();
        assert_eq!(points.len(), 160);
        assert!(
            neighbours_stay_home(&points, 80, 10),
            "{method:?} mixed the clusters"
        );
    }
}

#[test]
fn one_seed_gives_one_picture() {
    let codes = two_clusters();
    for method in Projection::ALL {
        let a = run(&codes, 16, method, 11).unwrap();
        let b = run(&codes, 16, method, 11).unwrap();
        assert_eq!(a, b, "{method:?} differs between runs with one seed");
    }
    // The seed reaches the neighbourhood methods (their start's jitter, UMAP's samples).
    for method in [Projection::Tsne, Projection::Umap] {
        let a = run(&codes, 16, method, 11).unwrap();
        let c = run(&codes, 16, method, 12).unwrap();
        assert_ne!(a, c, "{method:?} ignores its seed");
    }
}

/// Codes and points from closed formulas, the same in the reference script below.
fn trust_fixture() -> (Vec<f32>, Vec<[f32; 2]>) {
    let (n, d) = (150, 6);
    let mut codes = Vec::new();
    for i in 0..n {
        for j in 0..d {
            let (i, j) = (i as f64, j as f64);
            codes.push(((0.37 * i * (j + 1.0) + j).sin() + 0.1 * (1.3 * i).cos()) as f32);
        }
    }
    let points = (0..n)
        .map(|i| {
            let x = f64::from(codes[i * d]) + 0.3 * (2.1 * i as f64).sin();
            let y = f64::from(codes[i * d + 1]) + 0.3 * (1.7 * i as f64).cos();
            [x as f32, y as f32]
        })
        .collect();
    (codes, points)
}

/// Expected values from an independent numpy implementation (full distance matrices, a
/// stable argsort of each row inverted into ranks; scikit-learn is not installed here):
///
/// ```python
/// import numpy as np
/// n, d = 150, 6
/// i = np.arange(n, dtype=np.float64)[:, None]; j = np.arange(d, dtype=np.float64)[None, :]
/// high = (np.sin(0.37 * i * (j + 1) + j) + 0.1 * np.cos(1.3 * i)).astype(np.float32)
/// h = high.astype(np.float64); ii = np.arange(n, dtype=np.float64)
/// low = np.stack([h[:, 0] + 0.3 * np.sin(2.1 * ii),
///                 h[:, 1] + 0.3 * np.cos(1.7 * ii)], axis=1).astype(np.float32)
/// def trust(X, Y, k):
///     X = X.astype(np.float64); Y = Y.astype(np.float64)
///     DX = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
///     DY = ((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
///     np.fill_diagonal(DX, np.inf); np.fill_diagonal(DY, np.inf)
///     order = np.argsort(DX, axis=1, kind="stable")
///     rank = np.empty_like(order)
///     rank[np.arange(n)[:, None], order] = np.arange(1, n + 1)[None, :]
///     nbr = np.argsort(DY, axis=1, kind="stable")[:, :k]
///     r = np.take_along_axis(rank, nbr, axis=1)
///     return 1 - 2.0 / (n * k * (2 * n - 3 * k - 1)) * np.maximum(r - k, 0).sum()
/// print(trust(high, low, 5), trust(high, low, 10))
/// ```
#[test]
fn trustworthiness_matches_an_independent_computation() {
    let (codes, points) = trust_fixture();
    for (k, expected) in [(5, 0.799_981_220_657_277), (10, 0.800_228_004_956_629_5)] {
        let got = trustworthiness(&codes, 6, &points, k).unwrap();
        assert!(
            (got - expected).abs() < 1e-12,
            "k = {k}: {got}, expected {expected}"
        );
    }
    // A plane that is the codes themselves is wholly trustworthy.
    let flat: Vec<f32> = points.iter().flatten().copied().collect();
    assert_eq!(trustworthiness(&flat, 2, &points, 10).unwrap(), 1.0);
    assert_eq!(
        trustworthiness(&codes, 6, &points, 75),
        Err(ProjectionError::NeighboursTooMany { k: 75, count: 150 })
    );
    assert!(matches!(
        trustworthiness(&codes, 6, &points[1..], 10),
        Err(ProjectionError::Mismatch { .. })
    ));
}

#[test]
fn a_cancel_stops_the_job_early() {
    let far: Vec<f32> = (0..16).map(|i| if i < 4 { 6.0 } else { 0.0 }).collect();
    let codes = clusters(&[vec![0.0; 16], far], 1500, 5);
    for method in [Projection::Tsne, Projection::Umap] {
        let mut job = ProjectionJob::start(codes.clone(), 16, method, 1).unwrap();
        let started = Instant::now();
        // Wait until it is past its neighbour search, into the epochs.
        while job.progress_per_mille() < 320 && job.running() {
            std::thread::sleep(Duration::from_millis(5));
        }
        job.cancel();
        let result = loop {
            if let Some(r) = job.try_result() {
                break r;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{method:?} never ended"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(result, Err(ProjectionError::Cancelled), "{method:?}");
        assert!(job.progress_per_mille() < 1000, "{method:?} ran to the end");
        assert!(job.try_result().is_none(), "a result is handed over once");
    }
    // A flag set before the start stops at once, and dropping a running job returns at once.
    let cancel = AtomicBool::new(true);
    let r = project(&codes, 16, Projection::Umap, 1, &AtomicU32::new(0), &cancel);
    assert_eq!(r, Err(ProjectionError::Cancelled));
    let job = ProjectionJob::start(codes, 16, Projection::Tsne, 1).unwrap();
    let dropped = Instant::now();
    drop(job);
    assert!(dropped.elapsed() < Duration::from_millis(100));
}

#[test]
fn odd_codes_give_typed_errors_or_trivial_answers() {
    let two = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0];
    for method in [Projection::Tsne, Projection::Umap] {
        assert_eq!(
            run(&two, 2, method, 0),
            Err(ProjectionError::TooFewPoints {
                method: method.title(),
                count: 3,
                needed: 4
            })
        );
    }
    // PCA draws any number of codes.
    assert_eq!(run(&two[..2], 2, Projection::Pca, 0).unwrap().len(), 1);
    for method in Projection::ALL {
        assert_eq!(run(&[], 3, method, 0), Ok(vec![]));
        assert_eq!(
            run(&two, 0, method, 0),
            Err(ProjectionError::Shape { len: 6, dim: 0 })
        );
        assert_eq!(
            run(&two, 4, method, 0),
            Err(ProjectionError::Shape { len: 6, dim: 4 })
        );
        let mut bad = two_clusters();
        bad[16 * 9 + 3] = f32::NAN;
        assert_eq!(
            run(&bad, 16, method, 0),
            Err(ProjectionError::NonFinite { row: 9 })
        );
        bad[16 * 9 + 3] = f32::INFINITY;
        assert_eq!(
            run(&bad, 16, method, 0),
            Err(ProjectionError::NonFinite { row: 9 })
        );
        // Codes all equal: every point at the origin.
        assert_eq!(
            run(&[0.5; 16 * 20], 16, method, 0),
            Ok(vec![[0.0, 0.0]; 20])
        );
        // Most codes equal, a few apart, the fewest allowed: finite points.
        let mut mostly_equal = vec![1.0f32; 8 * 40];
        mostly_equal[0] = 2.0;
        mostly_equal[8] = -3.0;
        let points = run(&mostly_equal, 8, method, 0).unwrap();
        assert!(points.iter().flatten().all(|v| v.is_finite()), "{method:?}");
        let four = run(&[0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 2, method, 0).unwrap();
        assert_eq!(four.len(), 4);
    }
    let many = vec![0.0f32; MAX_POINTS + 1];
    assert_eq!(
        run(&many, 1, Projection::Pca, 0),
        Err(ProjectionError::TooManyPoints {
            count: MAX_POINTS + 1,
            max: MAX_POINTS
        })
    );
}

#[test]
fn names_round_trip() {
    for method in Projection::ALL {
        assert_eq!(Projection::from_name(method.name()), Some(method));
    }
    assert_eq!(Projection::from_name("t-SNE"), Some(Projection::Tsne));
    assert_eq!(Projection::from_name("mds"), None);
    assert!(Projection::Pca.invertible() && !Projection::Umap.invertible());
}

#[test]
fn tsne_of_hundreds_of_codes_with_ties_is_the_same_on_every_run() {
    // 600 codes of 16 dimensions on a coarse lattice: many equal distances. bhtsne's own
    // neighbour search (a vantage-point tree on the thread's generator) gave another
    // picture on each run of these codes; the exact search here gives one.
    let codes: Vec<f32> = (0..600u32)
        .flat_map(|i| {
            (0..16u32).map(move |j| {
                ((i * 7 + j * 13) % 17) as f32 * 0.3 + (i % 10) as f32 * 2.0 * (j % 3) as f32
            })
        })
        .collect();
    let a = run(&codes, 16, Projection::Tsne, 1).unwrap();
    let b = run(&codes, 16, Projection::Tsne, 1).unwrap();
    assert_eq!(a, b);
}
