//! LatentLab: train autoencoders side by side and explore their latent spaces.

// No unwrap or expect outside tests: errors are handled once, where the user looks.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

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
