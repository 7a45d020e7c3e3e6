//! The report of a run: PNG figures for the command line and Save… (latent scatter,
//! latent grid, reconstructions, prior samples, loss curves, data sheets), drawn with
//! plotters into an RGB buffer, one file per family of figures; and the latent GIF.

mod canvas;
mod curves;
mod gif;
mod images;
mod latent;
mod text;
mod traversals;

pub use canvas::FigureError;
pub use curves::loss_curves;
pub use gif::{GifStats, latent_gif};
pub use images::{data_sheet, prior_samples, reconstructions, same_z_every_class, sample_sheets};
pub use latent::{grid_span, latent_axes, latent_grid, latent_scatter};
pub use traversals::traversals;

/// The figures of a finished or saved run, into `dir`: `latent.png`, `grid.png` (`grid`
/// cells a side), `recon.png`, `samples.png`, `traversals.png` (codes of more than one
/// dimension), `classes.png` (a conditional model on images) and, with epochs done,
/// `losses.png`. `latentlab train` and the window's saved runs both write these.
pub fn run_figures(
    dir: &std::path::Path,
    snap: &crate::train::Snapshot,
    ds: &crate::data::Dataset,
    summaries: &[crate::train::EpochSummary],
    grid: usize,
    seed: u64,
) -> Result<(), FigureError> {
    latent_scatter(&dir.join("latent.png"), snap, ds)?;
    latent_grid(&dir.join("grid.png"), snap, ds, grid)?;
    reconstructions(&dir.join("recon.png"), snap, ds)?;
    prior_samples(&dir.join("samples.png"), snap, ds, 10, seed)?;
    same_z_every_class(&dir.join("classes.png"), snap, ds, 10, seed)?;
    traversals(&dir.join("traversals.png"), snap, ds)?;
    if !summaries.is_empty() {
        loss_curves(&dir.join("losses.png"), summaries)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
