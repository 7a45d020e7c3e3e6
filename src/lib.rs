//! LatentLab: train autoencoders side by side and explore their latent spaces.

pub mod app;
pub mod cli;
pub mod data;
pub mod explore;
pub mod lessons;
pub mod model;
pub mod report;
pub mod rng;
pub mod train;

#[cfg(test)]
mod kind_table_tests;
