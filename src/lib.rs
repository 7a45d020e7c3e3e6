//! LatentLab: train autoencoders side by side and explore their latent spaces.

pub mod data;
pub mod model;
