//! t-SNE through the `bhtsne` crate (Barnes-Hut, θ = 0.5, 1000 epochs, early exaggeration
//! 12 for 250 of them: van der Maaten's and scikit-learn's settings).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::{ProjectionError, knn, seeded_start};

/// scikit-learn's default; smaller sets use (n - 1)/3, the most `bhtsne` accepts.
const PERPLEXITY: f32 = 30.0;
/// Barnes-Hut's opening angle (0.5 as scikit-learn and the reference C++ code).
const THETA: f32 = 0.5;
/// Optimisation epochs.
const EPOCHS: usize = 1000;
/// Share of the progress bar given to the neighbour search and affinities (per mille).
const AFFINITY_SHARE: u32 = 100;

/// The payload that unwinds out of `bhtsne`'s epoch loop when the job is cancelled: the
/// crate's callback cannot stop the loop, and `resume_unwind` does not run the panic hook,
/// so nothing is printed; [`run`] catches it at once.
struct Cancelled;

/// t-SNE of `codes` (at least [`super::MIN_POINTS`] finite rows, not all equal).
pub(super) fn run(
    codes: &[f32],
    dim: usize,
    seed: u64,
    progress: &AtomicU32,
    cancel: &AtomicBool,
) -> Result<Vec<[f32; 2]>, ProjectionError> {
    // One thread: bhtsne's parallel sums then add in one order, so a seed gives one
    // picture, and a training run keeps the other core.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "tsne".into())
        .build()
        .map_err(|e| ProjectionError::Failed(format!("no thread for t-SNE: {e}")))?;
    let outcome =
        pool.install(|| catch_unwind(AssertUnwindSafe(|| fit(codes, dim, seed, progress, cancel))));
    match outcome {
        Ok(points) => Ok(points),
        Err(payload) if payload.is::<Cancelled>() => Err(ProjectionError::Cancelled),
        Err(payload) => Err(ProjectionError::Failed(panic_text(payload.as_ref()))),
    }
}

/// The fit itself; unwinds with [`Cancelled`] when `cancel` is set.
fn fit(
    codes: &[f32],
    dim: usize,
    seed: u64,
    progress: &AtomicU32,
    cancel: &AtomicBool,
) -> Vec<[f32; 2]> {
    let rows: Vec<&[f32]> = codes.chunks_exact(dim).collect();
    let count = rows.len();
    // bhtsne wants 3·perplexity < n; its neighbour count is the truncated 3·perplexity.
    let perplexity = PERPLEXITY.min(((count - 1) / 3) as f32).max(1.0);
    // Our own exact neighbours, not bhtsne's vantage-point tree: the tree picks its vantage
    // points from the thread's generator, which orders tied and near-tied neighbours
    // differently on every run, and t-SNE magnifies that into another picture (600 codes
    // of a VAE moved by 0.1 between two runs of one seed).
    let k = ((3.0 * perplexity) as usize).clamp(1, count - 1);
    let neighbours: Vec<Vec<bhtsne::Neighbor<f32>>> =
        knn::nearest(codes, dim, k, (progress, 0, AFFINITY_SHARE), cancel)
            .unwrap_or_else(|_| resume_unwind(Box::new(Cancelled)))
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|(index, distance)| bhtsne::Neighbor { index, distance })
                    .collect()
            })
            .collect();
    // scikit-learn's PCA start: the plane scaled to about 1e-4, here with a 1% seeded jitter.
    let start: Vec<f32> = seeded_start(codes, dim, 1e-4, 0.01, seed)
        .into_iter()
        .flatten()
        .collect();
    let mut tsne = bhtsne::tSNE::<f32, &[f32], 2>::new(&rows);
    tsne.perplexity(perplexity)
        .epochs(EPOCHS)
        .initial_embedding(start)
        .epoch_callback(|epoch, _| {
            if cancel.load(Ordering::Relaxed) {
                resume_unwind(Box::new(Cancelled));
            }
            let done = (epoch as u32 + 1) * (1000 - AFFINITY_SHARE) / EPOCHS as u32;
            progress.store(
                AFFINITY_SHARE + done.min(1000 - AFFINITY_SHARE),
                Ordering::Relaxed,
            );
        })
        .barnes_hut_with_neighbors(THETA, &neighbours);
    tsne.embedding()
        .chunks_exact(2)
        .map(|p| [p[0], p[1]])
        .collect()
}

/// The message of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "t-SNE stopped unexpectedly".into())
}
