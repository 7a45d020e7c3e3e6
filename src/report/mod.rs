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
pub use images::{data_sheet, prior_samples, reconstructions, sample_sheets};
pub use latent::{grid_span, latent_axes, latent_grid, latent_scatter};
pub use traversals::traversals;

#[cfg(test)]
mod tests;
