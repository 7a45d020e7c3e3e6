//! Pictures of codes with more than two dimensions: PCA, t-SNE and UMAP down to a plane,
//! their trustworthiness, and a job that computes one off the UI thread.
//!
//! t-SNE is the `bhtsne` crate's Barnes-Hut fit; UMAP is written here (no UMAP crate is
//! seeded: `umap-rs` draws its negative samples from the thread's own generator, `annembed`
//! needs a system BLAS). Both start from the PCA plane plus a seeded jitter and run on one
//! thread, so one seed gives one picture on every run.

mod change;
mod job;
mod knn;
mod trust;
mod tsne;
mod umap;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

pub use change::{align_to, relative_change};
pub use job::ProjectionJob;
pub use trust::trustworthiness;

use super::Pca2;

/// The most codes one projection takes: UMAP's exact neighbour search and trustworthiness
/// grow with the square of the count (10,000 codes take seconds, see the README).
pub const MAX_POINTS: usize = 20_000;

/// The fewest codes t-SNE and UMAP take (a neighbourhood needs a few neighbours).
pub const MIN_POINTS: usize = 4;

/// How codes are drawn on a plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Projection {
    /// The two leading principal directions (linear; the plane can be dragged back to codes).
    Pca,
    /// t-SNE (van der Maaten 2014, Barnes-Hut, perplexity 30): keeps neighbourhoods.
    Tsne,
    /// UMAP (McInnes et al. 2018, 15 neighbours, min_dist 0.1): keeps neighbourhoods.
    Umap,
}

impl Projection {
    /// Every method, in menu order.
    pub const ALL: [Projection; 3] = [Projection::Pca, Projection::Tsne, Projection::Umap];

    /// The name on the command line (`pca`, `tsne`, `umap`).
    pub fn name(self) -> &'static str {
        match self {
            Projection::Pca => "pca",
            Projection::Tsne => "tsne",
            Projection::Umap => "umap",
        }
    }

    /// The name shown in the window.
    pub fn title(self) -> &'static str {
        match self {
            Projection::Pca => "PCA",
            Projection::Tsne => "t-SNE",
            Projection::Umap => "UMAP",
        }
    }

    /// The method a command-line name means (`pca`, `tsne`/`t-sne`, `umap`), any case.
    pub fn from_name(name: &str) -> Option<Projection> {
        match name.to_ascii_lowercase().as_str() {
            "pca" => Some(Projection::Pca),
            "tsne" | "t-sne" => Some(Projection::Tsne),
            "umap" => Some(Projection::Umap),
            _ => None,
        }
    }

    /// Whether a point of the plane maps back to a code (only PCA's plane does: a probe can
    /// be dragged there; t-SNE and UMAP have no inverse).
    pub fn invertible(self) -> bool {
        self == Projection::Pca
    }
}

/// Why codes could not be projected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ProjectionError {
    /// The values do not make whole rows, or the rows have no dimension.
    #[error("{len} values do not make codes of dimension {dim}")]
    Shape {
        /// Number of values given.
        len: usize,
        /// Dimension asked for.
        dim: usize,
    },
    /// Too few codes for a neighbourhood method.
    #[error("{method} needs at least {needed} codes, got {count}")]
    TooFewPoints {
        /// The method's title.
        method: &'static str,
        /// Codes given.
        count: usize,
        /// Codes needed.
        needed: usize,
    },
    /// More codes than [`MAX_POINTS`].
    #[error("at most {max} codes can be projected, got {count}")]
    TooManyPoints {
        /// Codes given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A code holds NaN or an infinity.
    #[error("code {row} holds a value that is not finite")]
    NonFinite {
        /// Index of the first such code.
        row: usize,
    },
    /// Trustworthiness needs k below half the number of codes (as scikit-learn).
    #[error("trustworthiness with k = {k} needs more than {} codes, got {count}", 2 * k)]
    NeighboursTooMany {
        /// Neighbours asked for.
        k: usize,
        /// Codes given.
        count: usize,
    },
    /// The two sets of points are not the same codes.
    #[error("{codes} codes but {points} projected points")]
    Mismatch {
        /// Codes given.
        codes: usize,
        /// Points given.
        points: usize,
    },
    /// Stopped by its cancel flag.
    #[error("the projection was cancelled")]
    Cancelled,
    /// The computation failed in a way the input checks did not foresee.
    #[error("the projection failed: {0}")]
    Failed(String),
}

/// Checks `codes` (rows of `dim` values) and returns the number of rows.
fn check_codes(codes: &[f32], dim: usize) -> Result<usize, ProjectionError> {
    if dim == 0 || !codes.len().is_multiple_of(dim) {
        return Err(ProjectionError::Shape {
            len: codes.len(),
            dim,
        });
    }
    let count = codes.len() / dim;
    if count > MAX_POINTS {
        return Err(ProjectionError::TooManyPoints {
            count,
            max: MAX_POINTS,
        });
    }
    if let Some(row) = codes
        .chunks_exact(dim)
        .position(|r| r.iter().any(|v| !v.is_finite()))
    {
        return Err(ProjectionError::NonFinite { row });
    }
    Ok(count)
}

/// Projects `codes` (rows of `dim` values) to one point per code with `method`.
///
/// `progress` rises to 1000 (per mille); setting `cancel` makes it return
/// [`ProjectionError::Cancelled`] soon after. The same codes, method and seed give the same
/// points. Never panics: bad input gives a [`ProjectionError`], codes that are all equal
/// give every point at the origin, and no codes give no points.
pub fn project(
    codes: &[f32],
    dim: usize,
    method: Projection,
    seed: u64,
    progress: &AtomicU32,
    cancel: &AtomicBool,
) -> Result<Vec<[f32; 2]>, ProjectionError> {
    progress.store(0, Ordering::Relaxed);
    let count = check_codes(codes, dim)?;
    if method != Projection::Pca && count < MIN_POINTS && count > 0 {
        return Err(ProjectionError::TooFewPoints {
            method: method.title(),
            count,
            needed: MIN_POINTS,
        });
    }
    if all_equal(codes, dim) {
        progress.store(1000, Ordering::Relaxed);
        return Ok(vec![[0.0, 0.0]; count]);
    }
    let points = match method {
        Projection::Pca => Ok(pca_points(codes, dim)),
        Projection::Tsne => tsne::run(codes, dim, seed, progress, cancel),
        Projection::Umap => umap::run(codes, dim, seed, progress, cancel),
    }?;
    if points.iter().flatten().any(|v| !v.is_finite()) {
        return Err(ProjectionError::Failed(format!(
            "{} gave points that are not finite",
            method.title()
        )));
    }
    progress.store(1000, Ordering::Relaxed);
    Ok(points)
}

/// Whether every code equals the first (no codes included).
fn all_equal(codes: &[f32], dim: usize) -> bool {
    let first = codes.get(..dim).unwrap_or(&[]);
    codes.chunks_exact(dim).all(|row| row == first)
}

/// The codes on their PCA plane.
fn pca_points(codes: &[f32], dim: usize) -> Vec<[f32; 2]> {
    let pca = Pca2::fit(codes, dim);
    codes
        .chunks_exact(dim)
        .map(|row| pca.project(row))
        .collect()
}

/// The PCA plane scaled so that its largest coordinate is `extent`, plus a seeded Gaussian
/// jitter of `jitter`·`extent` (which also parts codes that are equal): the start of both
/// t-SNE (Kobak & Berens 2019 recommend PCA over a random start) and UMAP.
fn seeded_start(codes: &[f32], dim: usize, extent: f32, jitter: f32, seed: u64) -> Vec<[f32; 2]> {
    let mut points = pca_points(codes, dim);
    let largest = points
        .iter()
        .flatten()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let mut rng = knn::Jitter::new(seed);
    for p in &mut points {
        for v in p.iter_mut() {
            *v = *v / largest * extent + rng.gaussian() * jitter * extent;
        }
    }
    points
}
