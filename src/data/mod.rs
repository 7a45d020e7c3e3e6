//! Data sets: one type, many sources (built-in generators and real-format loaders).

mod csv;
mod digit_glyphs;
pub mod digits;
pub mod dsprites;
pub mod fetch;
pub mod folder;
mod idx;
mod npy;
pub mod shapes;
pub mod sources;
pub mod sprites;
pub mod toy2d;

use crate::rng::PortableRng;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::path::Path;

pub use csv::load_csv;
pub use folder::{
    FolderOptions, load_folder, load_folder_as, load_folder_spec, load_image_as, load_image_item,
};
pub use idx::{export_idx_dir, load_idx_dir, read_idx_images, write_idx};

/// Side length of the images every built-in image set and loader produces.
pub const IMAGE_SIDE: usize = 28;

/// Most values (f32, train and test together) a loaded data set may hold: 400 MB. MNIST
/// holds 55 million. Loaders check a file's claim against this before reading it whole.
pub const MAX_VALUES: usize = 100_000_000;

/// What went wrong while making or loading a data set. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file exists but its content is not what the format promises.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A built-in generator failed (a bug in our own code): the panic's message or the
    /// wrong item it made.
    #[error("generating {stream} item {index} failed: {message}")]
    Generator {
        stream: &'static str,
        index: usize,
        message: String,
    },
    /// The data-set name is not one we know.
    #[error("unknown data set '{0}': expected one of {forms}", forms = sources::spec_forms())]
    UnknownSpec(String),
    /// A downloadable set (mnist, ...) is not in the cache yet.
    #[error(
        "data set '{name}' is not downloaded ({detail}): run `latentlab fetch {name}` first \
            (if you fetched it with --cache DIR, set LATENTLAB_CACHE=DIR)"
    )]
    NotFetched { name: &'static str, detail: String },
    /// dSprites' `.npz` is not what DeepMind's file is (the message names the file and
    /// the array).
    #[error(transparent)]
    Dsprites(#[from] dsprites::DspritesError),
}

impl DataError {
    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.display().to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The shape of one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ItemShape {
    /// An image, `[channels, height, width]`: `channels` planes (1 grey, 3 colour: red,
    /// green, blue) one after the other, each row-major, values in [0, 1]. Files written
    /// before colour existed have no `channels` and are grey.
    Image {
        #[serde(default = "one_channel")]
        channels: usize,
        width: usize,
        height: usize,
    },
    /// A point in `dim` dimensions, each coordinate in [0, 1].
    Points { dim: usize },
}

fn one_channel() -> usize {
    1
}

impl ItemShape {
    /// A grey image.
    pub const fn gray(width: usize, height: usize) -> Self {
        Self::Image {
            channels: 1,
            width,
            height,
        }
    }

    /// An image of `channels` planes (1 grey, 3 colour).
    pub const fn image(channels: usize, width: usize, height: usize) -> Self {
        Self::Image {
            channels,
            width,
            height,
        }
    }

    /// Number of f32 values per item.
    pub fn dim(&self) -> usize {
        match *self {
            ItemShape::Image {
                channels,
                width,
                height,
            } => channels * width * height,
            ItemShape::Points { dim } => dim,
        }
    }

    /// `(channels, width, height)` of an image; `None` for points.
    pub fn image_dims(&self) -> Option<(usize, usize, usize)> {
        match *self {
            ItemShape::Image {
                channels,
                width,
                height,
            } => Some((channels, width, height)),
            ItemShape::Points { .. } => None,
        }
    }

    /// How it reads in messages: "28×28 grey images", "64×64 colour images", "points in
    /// 2 dimensions".
    pub fn describe(&self) -> String {
        match *self {
            ItemShape::Image {
                channels,
                width,
                height,
            } => {
                let kind = match channels {
                    1 => "grey".to_string(),
                    3 => "colour".to_string(),
                    c => format!("{c}-channel"),
                };
                format!("{width}×{height} {kind} images")
            }
            ItemShape::Points { dim } => format!("points in {dim} dimensions"),
        }
    }

    /// True for images (Bernoulli decoder), false for points (Gaussian decoder).
    pub fn is_image(&self) -> bool {
        matches!(self, ItemShape::Image { .. })
    }
}

/// Items and their class labels, items stored back to back.
#[derive(Clone, Debug, Default)]
pub struct Split {
    /// `len() * dim` values in [0, 1].
    pub x: Vec<f32>,
    /// One class index per item.
    pub labels: Vec<u32>,
    /// The factors that made each item, `len() * k` for a set with `k` named factors
    /// ([`Dataset::factor_names`]), each the index of its value; empty for other sets.
    pub factors: Vec<u32>,
}

impl Split {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no items.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The values of item `i`.
    pub fn item(&self, i: usize, dim: usize) -> &[f32] {
        &self.x[i * dim..(i + 1) * dim]
    }

    /// The factor values of item `i` (empty for a set without factors).
    pub fn factors_of(&self, i: usize, k: usize) -> &[u32] {
        self.factors.get(i * k..(i + 1) * k).unwrap_or(&[])
    }

    /// The items at `indices`, copied back to back.
    pub fn gather(&self, indices: &[usize], dim: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(indices.len() * dim);
        for &i in indices {
            out.extend_from_slice(self.item(i, dim));
        }
        out
    }
}

/// A data set: train and test items of one shape, with class names.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The name it was loaded by (`digits`, `idx:/data/mnist`, ...).
    pub name: String,
    /// Shape of one item.
    pub shape: ItemShape,
    /// Name of each class, indexed by label.
    pub class_names: Vec<String>,
    /// Training items.
    pub train: Split,
    /// Held-out items used for evaluation and display.
    pub test: Split,
    /// The names of the factors that made each item (`sprites`: shape, scale,
    /// orientation, x, y); empty for sets without known factors.
    pub factor_names: Vec<String>,
}

impl Dataset {
    /// Number of f32 values per item.
    pub fn dim(&self) -> usize {
        self.shape.dim()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }
}

/// How many items a built-in generator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// Training items.
    pub train: usize,
    /// Test items.
    pub test: usize,
}

pub use sources::BUILTIN_NAMES;

/// The table row of a built-in set: its default sizes and epochs (`None` for a name that
/// is not one).
fn builtin_defaults(name: &str) -> Option<(Sizes, usize)> {
    sources::SOURCES.iter().find_map(|s| match s.naming {
        sources::Naming::Builtin {
            name: n,
            sizes,
            epochs,
        } if n == name => Some((sizes, epochs)),
        _ => None,
    })
}

/// The default sizes of a built-in set (`None` for a name that is not one).
pub fn default_sizes(name: &str) -> Option<Sizes> {
    builtin_defaults(name).map(|(sizes, _)| sizes)
}

/// Default epochs of `latentlab train` on the set `spec` names: its row's in the table for
/// a built-in set, [`sources::DEFAULT_EPOCHS`] for any other.
pub fn default_epochs(spec: &str) -> usize {
    builtin_defaults(spec).map_or(sources::DEFAULT_EPOCHS, |(_, epochs)| epochs)
}

/// Loads a data set by its spec: any form the [`sources::SOURCES`] table knows (a built-in
/// name, a downloaded set read from the cache `latentlab fetch` fills, or `idx:DIR`,
/// `folder:DIR`, `csv:FILE`).
pub fn load(spec: &str, seed: u64) -> Result<Dataset, DataError> {
    load_with_sizes(spec, seed, None)
}

/// The shape of the items `spec` names, found without building the set (for `idx:DIR`,
/// from the training images' header), so settings can be checked against it first.
/// `None` for a spec only [`load`] knows.
pub fn peek_shape(spec: &str) -> Result<Option<ItemShape>, DataError> {
    match sources::find(spec) {
        Some((source, arg)) => (source.peek)(arg),
        None => Ok(None),
    }
}

/// Like [`load`], with the item counts of a built-in set overridden (handy in tests).
pub fn load_with_sizes(spec: &str, seed: u64, sizes: Option<Sizes>) -> Result<Dataset, DataError> {
    let Some((source, arg)) = sources::find(spec) else {
        return Err(DataError::UnknownSpec(spec.to_string()));
    };
    let sizes = match (sizes, source.naming) {
        (Some(sizes), _) => sizes,
        (None, sources::Naming::Builtin { sizes, .. }) => sizes,
        // Loaders take what the files hold.
        (None, _) => Sizes { train: 0, test: 0 },
    };
    let mut ds = (source.load)(arg, seed, sizes)?;
    ds.name = spec.to_string();
    Ok(ds)
}

/// A seeded random number generator for item `index` of stream `stream`, so that
/// generation is deterministic and can run in any order.
pub(crate) fn item_rng(seed: u64, stream: u64, index: u64) -> PortableRng {
    let mixed = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(stream.wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
        .wrapping_add(index);
    PortableRng::seed_from_u64(mixed)
}

/// Generates `sizes.train + sizes.test` items with `make(rng, index) -> (pixels, label)`,
/// using both cores, deterministically from `seed`. A panic in `make`, or an item of the
/// wrong length, comes back as [`DataError::Generator`].
pub(crate) fn generate_items<F>(
    sizes: Sizes,
    dim: usize,
    seed: u64,
    make: F,
) -> Result<(Split, Split), DataError>
where
    F: Fn(&mut PortableRng, usize) -> (Vec<f32>, u32) + Sync,
{
    generate_items_with_factors(sizes, dim, 0, seed, |rng, i| {
        let (x, label) = make(rng, i);
        (x, label, Vec::new())
    })
}

/// Like [`generate_items`], for a set with `k` known factors: `make` also gives the
/// item's factor values (exactly `k` of them).
pub(crate) fn generate_items_with_factors<F>(
    sizes: Sizes,
    dim: usize,
    k: usize,
    seed: u64,
    make: F,
) -> Result<(Split, Split), DataError>
where
    F: Fn(&mut PortableRng, usize) -> (Vec<f32>, u32, Vec<u32>) + Sync,
{
    let train = generate_stream(("train", 1), sizes.train, (dim, k), seed, &make)?;
    let test = generate_stream(("test", 2), sizes.test, (dim, k), seed, &make)?;
    Ok((train, test))
}

/// One split's items, in chunks on scoped threads; the first failing chunk's error wins.
fn generate_stream<F>(
    (name, stream): (&'static str, u64),
    count: usize,
    dim: (usize, usize),
    seed: u64,
    make: &F,
) -> Result<Split, DataError>
where
    F: Fn(&mut PortableRng, usize) -> (Vec<f32>, u32, Vec<u32>) + Sync,
{
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let chunk = count.div_ceil(workers).max(1);
    let parts: Vec<Result<Split, DataError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                let range = start..(start + chunk).min(count);
                (
                    start,
                    scope.spawn(move || generate_chunk(name, stream, range, dim, seed, make)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(start, h)| {
                h.join().unwrap_or_else(|payload| {
                    Err(DataError::Generator {
                        stream: name,
                        index: start,
                        message: panic_message(payload.as_ref()),
                    })
                })
            })
            .collect()
    });
    let mut all = Split::default();
    for part in parts {
        let part = part?;
        all.x.extend(part.x);
        all.labels.extend(part.labels);
        all.factors.extend(part.factors);
    }
    Ok(all)
}

/// Items `range` of one stream, checking each has `dim` values.
fn generate_chunk<F>(
    name: &'static str,
    stream: u64,
    range: std::ops::Range<usize>,
    (dim, k): (usize, usize),
    seed: u64,
    make: &F,
) -> Result<Split, DataError>
where
    F: Fn(&mut PortableRng, usize) -> (Vec<f32>, u32, Vec<u32>) + Sync,
{
    let mut split = Split {
        x: Vec::with_capacity(range.len() * dim),
        labels: Vec::with_capacity(range.len()),
        factors: Vec::with_capacity(range.len() * k),
    };
    for i in range {
        let mut rng = item_rng(seed, stream, i as u64);
        let (x, label, factors) = make(&mut rng, i);
        let wrong = if x.len() != dim {
            Some(format!("made {} values, expected {dim}", x.len()))
        } else if factors.len() != k {
            Some(format!(
                "made {} factor values, expected {k}",
                factors.len()
            ))
        } else {
            None
        };
        if let Some(message) = wrong {
            return Err(DataError::Generator {
                stream: name,
                index: i,
                message,
            });
        }
        split.x.extend_from_slice(&x);
        split.labels.push(label);
        split.factors.extend_from_slice(&factors);
    }
    Ok(split)
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".to_string())
}

/// Splits items into train and test after a seeded shuffle; `test_fraction` of them are test.
pub(crate) fn split_shuffled(
    x: Vec<f32>,
    labels: Vec<u32>,
    dim: usize,
    test_fraction: f64,
    seed: u64,
) -> (Split, Split) {
    let n = labels.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut PortableRng::seed_from_u64(seed ^ 0x5EED));
    let n_test = ((n as f64 * test_fraction).round() as usize)
        .clamp(usize::from(n > 1), n.saturating_sub(1));
    let all = Split {
        x,
        labels,
        factors: Vec::new(),
    };
    let pick = |idx: &[usize]| Split {
        x: all.gather(idx, dim),
        labels: idx.iter().map(|&i| all.labels[i]).collect(),
        factors: Vec::new(),
    };
    (pick(&order[n_test..]), pick(&order[..n_test]))
}

/// Shuffled mini-batch order over a split, reshuffled every epoch from one seeded generator.
pub struct BatchOrder {
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
    rng: PortableRng,
}

impl BatchOrder {
    /// A new order over `n` items; the first epoch is shuffled at once.
    pub fn new(n: usize, batch_size: usize, seed: u64) -> Self {
        let mut s = Self {
            order: (0..n).collect(),
            batch_size: batch_size.max(1),
            pos: 0,
            rng: PortableRng::seed_from_u64(seed),
        };
        s.order.shuffle(&mut s.rng);
        s
    }

    /// Number of full batches per epoch (the last partial batch is dropped; at least one).
    pub fn batches_per_epoch(&self) -> usize {
        (self.order.len() / self.batch_size).max(1)
    }

    /// The next batch's item indices, and whether it ends the epoch.
    pub fn next_batch(&mut self) -> (&[usize], bool) {
        if self.pos + self.batch_size > self.order.len() && self.pos > 0 {
            self.order.shuffle(&mut self.rng);
            self.pos = 0;
        }
        let start = self.pos;
        let end = (start + self.batch_size).min(self.order.len());
        self.pos = end;
        let epoch_done = self.pos + self.batch_size > self.order.len();
        (&self.order[start..end], epoch_done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_order_visits_every_item_once_per_epoch() {
        let mut order = BatchOrder::new(10, 3, 7);
        let mut seen = Vec::new();
        for _ in 0..order.batches_per_epoch() {
            seen.extend_from_slice(order.next_batch().0);
        }
        assert_eq!(seen.len(), 9);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 9, "no item twice in one epoch");
    }

    #[test]
    fn peeked_shapes_are_the_loaded_shapes() {
        let sizes = Some(Sizes { train: 6, test: 4 });
        for name in BUILTIN_NAMES {
            let loaded = load_with_sizes(name, 1, sizes).unwrap().shape;
            assert_eq!(peek_shape(name).unwrap(), Some(loaded), "{name}");
        }
        // An IDX folder of 5x7 images: only the header is read.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_idx(
            &d.join("train-images-idx3-ubyte"),
            &[2, 7, 5],
            &[0; 70],
            false,
        )
        .unwrap();
        write_idx(&d.join("train-labels-idx1-ubyte"), &[2], &[0, 1], false).unwrap();
        write_idx(
            &d.join("t10k-images-idx3-ubyte"),
            &[1, 7, 5],
            &[0; 35],
            true,
        )
        .unwrap();
        write_idx(&d.join("t10k-labels-idx1-ubyte"), &[1], &[1], false).unwrap();
        let spec = format!("idx:{}", d.display());
        let loaded = load(&spec, 1).unwrap().shape;
        assert_eq!(loaded, ItemShape::gray(5, 7));
        assert_eq!(peek_shape(&spec).unwrap(), Some(loaded));
        assert_eq!(peek_shape("mnist").unwrap(), None);
        assert!(peek_shape("idx:/no/such/folder").is_err());
    }

    #[test]
    fn unknown_spec_is_named() {
        let err = load("nonsense", 1).unwrap_err().to_string();
        assert!(err.contains("'nonsense'"), "{err}");
    }

    #[test]
    fn a_generator_panic_is_an_error_naming_the_item() {
        let sizes = Sizes {
            train: 40,
            test: 10,
        };
        let made = generate_items(sizes, 2, 1, |_, i| {
            assert!(i != 33, "item 33 is broken");
            (vec![i as f32, 0.0], 0)
        });
        let err = made
            .expect_err("a panicking generator must fail")
            .to_string();
        assert!(
            err.contains("item 33 is broken") && err.contains("train"),
            "{err}"
        );
        let wrong_len = generate_items(sizes, 2, 1, |_, i| (vec![0.0; 2 + usize::from(i == 7)], 0));
        let err = wrong_len.expect_err("a short item must fail").to_string();
        assert!(
            err.contains("item 7") && err.contains("made 3 values, expected 2"),
            "{err}"
        );
        let (train, test) = generate_items(sizes, 2, 1, |_, i| (vec![i as f32, 1.0], 3)).unwrap();
        assert_eq!((train.len(), test.len(), train.x.len()), (40, 10, 80));
        assert_eq!(train.item(39, 2), &[39.0, 1.0]);
    }

    #[test]
    fn split_shuffled_keeps_items_whole() {
        let x: Vec<f32> = (0..20).map(|v| v as f32).collect();
        let labels: Vec<u32> = (0..10).collect();
        let (train, test) = split_shuffled(x, labels, 2, 0.2, 3);
        assert_eq!((train.len(), test.len()), (8, 2));
        for s in [&train, &test] {
            for i in 0..s.len() {
                let item = s.item(i, 2);
                assert_eq!(item[0] as u32, s.labels[i] * 2);
            }
        }
    }
}
