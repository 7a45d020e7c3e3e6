//! The one random generator of the crate: ChaCha8, whose stream is fixed by its
//! specification, so a seed gives the same data, weights and batches on every machine and
//! with every version of `rand` (`PortableRng` promises neither).

/// The seeded generator used everywhere (data, initialisation, batches, noise).
pub type PortableRng = rand_chacha::ChaCha8Rng;
