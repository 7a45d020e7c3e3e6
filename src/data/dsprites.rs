//! DeepMind's dSprites (Matthey et al. 2017) from the `.npz` that `latentlab fetch dsprites`
//! downloads: 737,280 64×64 black-and-white images, every combination of the factors once.
//!
//! The archive is a zip of `.npy` arrays: `imgs` (N×64×64 u8, 0 or 1), `latents_classes`
//! (N×6 i64: colour, shape, scale, orientation, x, y as the index of each value),
//! `latents_values` (the same as floats) and `metadata` (a pickled Python object). Only
//! `latents_classes` and `imgs` are read; the pickle is never touched. Colour takes one
//! value in dSprites and is dropped, so items carry the five factors of the built-in
//! `sprites` with the same names and ranges, and the label is the shape, as there.
//!
//! All of it as f32 would be 12 GB, so a subset is loaded: `train` and `test` items drawn
//! without replacement, disjoint, by a fixed seed (the same items whatever the run's seed,
//! as MNIST's are). The images are decompressed in one pass and only the chosen ones kept,
//! so memory holds the subset and one image at a time.

use super::{DataError, Dataset, ItemShape, MAX_VALUES, Sizes, npy, sprites};
use crate::rng::PortableRng;
use rand::{RngCore, SeedableRng};
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::path::Path;

/// The file's name, in DeepMind's repository and in the cache.
pub const FILE_NAME: &str = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz";

/// The side of an image.
pub const SIDE: usize = 64;

/// Items in the real file; also the most any file may claim (checked before any work).
pub const MAX_ITEMS: u64 = 737_280;

/// Items loaded when the spec names no sizes: 98 million values, under [`MAX_VALUES`].
pub const DEFAULT_SIZES: Sizes = Sizes {
    train: 20_000,
    test: 4_000,
};

/// The seed that draws the subset: fixed, so a name always means the same items.
const SUBSET_SEED: u64 = 0xD5_2017;

/// Columns of `latents_classes`, in DeepMind's order.
const CLASS_COLUMNS: usize = 6;

/// The arrays read, as named inside the archive.
const IMGS: &str = "imgs.npy";
const CLASSES: &str = "latents_classes.npy";

/// Why a dSprites file could not be loaded. Every message names the file and, inside it,
/// the array.
#[derive(Debug, thiserror::Error)]
pub enum DspritesError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a zip archive (or its directory is cut off).
    #[error("{path}: not a readable .npz (zip) archive: {detail}")]
    NotNpz { path: String, detail: String },
    /// An array the loader needs is not in the archive.
    #[error("{path}: the archive holds no '{array}' (it holds: {found})")]
    MissingArray {
        path: String,
        array: &'static str,
        found: String,
    },
    /// The array's `.npy` header is missing or malformed.
    #[error("{path}: {array}: bad .npy header: {problem}")]
    BadHeader {
        path: String,
        array: &'static str,
        problem: String,
    },
    /// The array holds another element type.
    #[error("{path}: {array}: element type '{found}', expected '{expected}'")]
    WrongDtype {
        path: String,
        array: &'static str,
        found: String,
        expected: &'static str,
    },
    /// The array is stored column-major.
    #[error("{path}: {array}: stored in Fortran (column-major) order, expected C order")]
    FortranOrder { path: String, array: &'static str },
    /// The array has another shape.
    #[error("{path}: {array}: shape {found:?}, expected {expected}")]
    WrongShape {
        path: String,
        array: &'static str,
        found: Vec<u64>,
        expected: String,
    },
    /// The array's data ends before its shape says it does.
    #[error("{path}: {array}: the data ends inside row {row} of {rows} (the file is truncated)")]
    Truncated {
        path: String,
        array: &'static str,
        row: u64,
        rows: u64,
    },
    /// Reading the array's data failed (a corrupt deflate stream, a wrong CRC, ...).
    #[error("{path}: {array}: {source}")]
    Corrupt {
        path: String,
        array: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A value is outside what dSprites holds.
    #[error("{path}: {array}: row {row}: {message}")]
    BadValue {
        path: String,
        array: &'static str,
        row: u64,
        message: String,
    },
    /// More items asked for than the file holds or memory allows.
    #[error("{path}: {message}")]
    TooMany { path: String, message: String },
    /// The options after `dsprites#` are not `train=N,test=N`.
    #[error("dsprites#{options}: {message} (expected e.g. dsprites#train=20000,test=4000)")]
    BadOptions { options: String, message: String },
}

/// The sizes a spec's options ask for (`train=N,test=N`, either or both; the other keeps
/// its default); `None` for no options.
pub fn parse_options(options: Option<&str>) -> Result<Option<Sizes>, DspritesError> {
    let Some(text) = options else {
        return Ok(None);
    };
    let bad = |message: String| DspritesError::BadOptions {
        options: text.to_string(),
        message,
    };
    let mut sizes = DEFAULT_SIZES;
    for part in text.split(',') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("'{part}' is not key=value")))?;
        let n = value
            .trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("'{value}' is not a whole number")))?;
        match key.trim() {
            "train" => sizes.train = n,
            "test" => sizes.test = n,
            other => return Err(bad(format!("unknown option '{other}'"))),
        }
    }
    Ok(Some(sizes))
}

/// How many items to load from a file of `n`: `asked`, or the defaults (shrunk to a sixth
/// for test and the rest for training when the file is smaller, as a test file is).
fn resolve_sizes(path: &Path, n: u64, asked: Option<Sizes>) -> Result<Sizes, DspritesError> {
    let too_many = |message: String| DspritesError::TooMany {
        path: path.display().to_string(),
        message,
    };
    let sizes = match asked {
        Some(s) => s,
        None if n >= (DEFAULT_SIZES.train + DEFAULT_SIZES.test) as u64 => DEFAULT_SIZES,
        None => {
            let test = (n / 6).max(u64::from(n > 1)) as usize;
            Sizes {
                train: n as usize - test,
                test,
            }
        }
    };
    if sizes.train == 0 {
        return Err(too_many("no training items asked for (train=0)".into()));
    }
    let total = sizes.train.saturating_add(sizes.test);
    if total as u64 > n {
        return Err(too_many(format!(
            "{} train + {} test items asked for, the file holds {n}",
            sizes.train, sizes.test
        )));
    }
    let most = MAX_VALUES / (SIDE * SIDE);
    if total > most {
        return Err(too_many(format!(
            "{} train + {} test items asked for, at most {most} fit in memory ({} values)",
            sizes.train, sizes.test, MAX_VALUES
        )));
    }
    Ok(sizes)
}

/// For each of `n` rows, its place among the chosen: train rows `0..train`, then test rows
/// (`u32::MAX`: not chosen). A partial Fisher–Yates shuffle on [`PortableRng`]'s raw
/// output, so the draw does not depend on `rand`'s sampling code.
fn choose(n: u64, sizes: Sizes) -> Vec<u32> {
    let mut rng = PortableRng::seed_from_u64(SUBSET_SEED);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let total = sizes.train + sizes.test;
    for i in 0..total {
        let left = order.len() - i;
        let j = i + ((u128::from(rng.next_u64()) * left as u128) >> 64) as usize;
        order.swap(i, j);
    }
    let mut slot = vec![u32::MAX; n as usize];
    for (place, &row) in order[..total].iter().enumerate() {
        slot[row as usize] = place as u32;
    }
    slot
}

/// Loads `sizes` items (the defaults if `None`) from the dSprites `.npz` at `path`.
pub fn load_npz(path: &Path, sizes: Option<Sizes>) -> Result<Dataset, DataError> {
    Ok(load(path, sizes)?)
}

fn load(path: &Path, asked: Option<Sizes>) -> Result<Dataset, DspritesError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| DspritesError::Io {
        path: shown.clone(),
        source,
    })?;
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| DspritesError::NotNpz {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
    let mut array = Array {
        path: &shown,
        archive: &mut archive,
    };
    let (mut classes, n) = array.open(CLASSES, &["<i8"], |shape| match shape {
        [n, cols] if *cols == CLASS_COLUMNS as u64 && (1..=MAX_ITEMS).contains(n) => Some(*n),
        _ => None,
    })?;
    let sizes = resolve_sizes(path, n, asked)?;
    let slot = choose(n, sizes);
    let (labels, factors) = read_classes(&mut classes, &slot, sizes, &shown)?;
    drop(classes);
    let (mut imgs, _) = array.open(IMGS, &["|u1", "<u1"], |shape| match shape {
        [rows, h, w] if *rows == n && *h == SIDE as u64 && *w == SIDE as u64 => Some(*rows),
        _ => None,
    })?;
    let x = read_images(&mut imgs, &slot, sizes, &shown)?;
    Ok(into_dataset(x, labels, factors, sizes))
}

/// One pass over `latents_classes`: the label and five factors of each chosen row, in
/// its place.
fn read_classes(
    r: &mut impl Read,
    slot: &[u32],
    sizes: Sizes,
    path: &str,
) -> Result<(Vec<u32>, Vec<u32>), DspritesError> {
    let (n, total) = (slot.len() as u64, sizes.train + sizes.test);
    let k = sprites::FACTOR_NAMES.len();
    let mut labels = vec![0u32; total];
    let mut factors = vec![0u32; total * k];
    let mut row_bytes = [0u8; CLASS_COLUMNS * 8];
    for row in 0..n {
        read_row(r, &mut row_bytes, (path, CLASSES), (row, n))?;
        let place = slot[row as usize];
        if place == u32::MAX {
            continue;
        }
        let values: Vec<i64> = row_bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect();
        let item = check_classes(&values).map_err(|message| DspritesError::BadValue {
            path: path.to_string(),
            array: CLASSES,
            row,
            message,
        })?;
        let place = place as usize;
        labels[place] = item[0];
        factors[place * k..(place + 1) * k].copy_from_slice(&item);
    }
    Ok((labels, factors))
}

/// One pass over `imgs`, one image at a time: the chosen ones as f32, (train, test).
fn read_images(
    r: &mut impl Read,
    slot: &[u32],
    sizes: Sizes,
    path: &str,
) -> Result<(Vec<f32>, Vec<f32>), DspritesError> {
    let n = slot.len() as u64;
    let dim = SIDE * SIDE;
    // Train and test in their own buffers: no copy, and no spare capacity kept after.
    let mut x = [vec![0f32; sizes.train * dim], vec![0f32; sizes.test * dim]];
    let mut image = vec![0u8; dim];
    for row in 0..n {
        read_row(r, &mut image, (path, IMGS), (row, n))?;
        let place = slot[row as usize];
        if place == u32::MAX {
            continue;
        }
        if let Some(bad) = image.iter().find(|&&v| v > 1) {
            return Err(DspritesError::BadValue {
                path: path.to_string(),
                array: IMGS,
                row,
                message: format!("a pixel is {bad}, expected 0 or 1"),
            });
        }
        let (split, at) = match place as usize {
            p if p < sizes.train => (0, p),
            p => (1, p - sizes.train),
        };
        let out = &mut x[split][at * dim..(at + 1) * dim];
        for (o, &v) in out.iter_mut().zip(&image) {
            *o = f32::from(v);
        }
    }
    let [train, test] = x;
    Ok((train, test))
}

/// The five factors of a row of `latents_classes` (colour dropped), each checked against
/// dSprites' range.
fn check_classes(values: &[i64]) -> Result<Vec<u32>, String> {
    if values[0] != 0 {
        return Err(format!("colour class {}, dSprites has only 0", values[0]));
    }
    values[1..]
        .iter()
        .zip(sprites::FACTOR_NAMES.iter().zip(sprites::FACTOR_SIZES))
        .map(|(&v, (name, size))| match u32::try_from(v) {
            Ok(v) if (v as usize) < size => Ok(v),
            _ => Err(format!("{name} class {v}, expected 0 to {}", size - 1)),
        })
        .collect()
}

/// The chosen items' images (train, test) and their labels and factors (train first) as
/// the data set.
fn into_dataset(
    (train_x, test_x): (Vec<f32>, Vec<f32>),
    mut labels: Vec<u32>,
    mut factors: Vec<u32>,
    sizes: Sizes,
) -> Dataset {
    let k = sprites::FACTOR_NAMES.len();
    let test = super::Split {
        x: test_x,
        labels: labels.split_off(sizes.train),
        factors: factors.split_off(sizes.train * k),
    };
    Dataset {
        name: "dsprites".into(),
        shape: ItemShape::image(1, SIDE, SIDE),
        class_names: sprites::SHAPE_NAMES.iter().map(|s| s.to_string()).collect(),
        factor_names: sprites::FACTOR_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect(),
        train: super::Split {
            x: train_x,
            labels,
            factors,
        },
        test,
    }
}

/// The archive being read, for opening its arrays.
struct Array<'a> {
    path: &'a str,
    archive: &'a mut zip::ZipArchive<BufReader<File>>,
}

impl Array<'_> {
    /// Opens `name`, checks its header (one of `dtypes`, C order, a shape `rows` accepts),
    /// and returns the reader at its data and the row count.
    fn open(
        &mut self,
        name: &'static str,
        dtypes: &[&'static str],
        rows: impl Fn(&[u64]) -> Option<u64>,
    ) -> Result<(zip::read::ZipFile<'_, BufReader<File>>, u64), DspritesError> {
        let path = self.path.to_string();
        if self.archive.index_for_name(name).is_none() {
            let mut found: Vec<String> = self
                .archive
                .file_names()
                .take(9)
                .map(|n| n.map_or_else(|_| "?".into(), |n| n.into_owned()))
                .collect();
            if found.len() == 9 {
                found[8] = "…".into();
            }
            return Err(DspritesError::MissingArray {
                path,
                array: name,
                found: found.join(", "),
            });
        }
        let mut entry = self
            .archive
            .by_name(name)
            .map_err(|e| DspritesError::NotNpz {
                path: path.clone(),
                detail: format!("{name}: {e}"),
            })?;
        let header = npy::read_header(&mut entry).map_err(|problem| DspritesError::BadHeader {
            path: path.clone(),
            array: name,
            problem,
        })?;
        if !dtypes.contains(&header.descr.as_str()) {
            return Err(DspritesError::WrongDtype {
                path,
                array: name,
                found: header.descr,
                expected: dtypes[0],
            });
        }
        if header.fortran_order {
            return Err(DspritesError::FortranOrder { path, array: name });
        }
        let expected = if name == IMGS {
            format!("(rows of latents_classes, {SIDE}, {SIDE})")
        } else {
            format!("(1 to {MAX_ITEMS}, {CLASS_COLUMNS})")
        };
        match rows(&header.shape) {
            Some(n) => Ok((entry, n)),
            None => Err(DspritesError::WrongShape {
                path,
                array: name,
                found: header.shape,
                expected,
            }),
        }
    }
}

/// Reads row `row` of `rows` into `buf`; a short read is [`DspritesError::Truncated`].
fn read_row(
    r: &mut impl Read,
    buf: &mut [u8],
    (path, array): (&str, &'static str),
    (row, rows): (u64, u64),
) -> Result<(), DspritesError> {
    r.read_exact(buf).map_err(|source| match source.kind() {
        ErrorKind::UnexpectedEof => DspritesError::Truncated {
            path: path.to_string(),
            array,
            row,
            rows,
        },
        _ => DspritesError::Corrupt {
            path: path.to_string(),
            array,
            source,
        },
    })
}

#[cfg(test)]
mod tests;
