//! MNIST-layout IDX files (raw or gzip): MNIST, Fashion-MNIST, KMNIST.
//!
//! Everything in a header is checked against the file before any buffer of the
//! claimed size is made: magic, rank, dimensions, the byte count (for a gzip file, the
//! most its compressed size can hold), and the [`MAX_VALUES`] a data set may hold.

use super::{DataError, Dataset, ItemShape, MAX_VALUES, Split};
use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Largest image side we accept; larger headers are corrupt or not images we can show.
const MAX_SIDE: usize = 512;
/// Most classes a label file may use.
const MAX_CLASSES: u32 = 100;
/// Deflate's largest expansion: no gzip file inflates to more than this many times its size.
const MAX_GZIP_RATIO: u64 = 1032;

/// Loads a folder holding the four MNIST-layout files (each raw or `.gz`).
pub fn load_idx_dir(dir: &Path) -> Result<Dataset, DataError> {
    if !dir.is_dir() {
        return Err(DataError::invalid(
            dir,
            "not a folder (idx:DIR expects a folder with the four MNIST files)",
        ));
    }
    let train_x = read_images(&find(dir, "train-images-idx3-ubyte")?, MAX_VALUES)?;
    let train_y = read_labels(&find(dir, "train-labels-idx1-ubyte")?)?;
    let budget = MAX_VALUES - train_x.pixels.len();
    let test_x = read_images(&find(dir, "t10k-images-idx3-ubyte")?, budget)?;
    let test_y = read_labels(&find(dir, "t10k-labels-idx1-ubyte")?)?;
    for (images, labels) in [(&train_x, &train_y), (&test_x, &test_y)] {
        if images.count != labels.labels.len() {
            return Err(DataError::invalid(
                &labels.path,
                format!(
                    "holds {} labels but {} holds {} images",
                    labels.labels.len(),
                    images.path.display(),
                    images.count
                ),
            ));
        }
    }
    if (train_x.width, train_x.height) != (test_x.width, test_x.height) {
        return Err(DataError::invalid(
            &test_x.path,
            format!(
                "images are {}x{} but the training images are {}x{}",
                test_x.width, test_x.height, train_x.width, train_x.height
            ),
        ));
    }
    let classes = train_y
        .labels
        .iter()
        .chain(&test_y.labels)
        .max()
        .map_or(1, |m| m + 1);
    Ok(Dataset {
        name: format!("idx:{}", dir.display()),
        shape: ItemShape::gray(train_x.width, train_x.height),
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        factor_names: Vec::new(),
        train: Split {
            x: train_x.pixels,
            labels: train_y.labels,
            factors: Vec::new(),
        },
        test: Split {
            x: test_x.pixels,
            labels: test_y.labels,
            factors: Vec::new(),
        },
    })
}

/// The shape of the items in an `idx:DIR` folder, from the training images' header alone.
pub(crate) fn peek_shape(dir: &Path) -> Result<ItemShape, DataError> {
    if !dir.is_dir() {
        return Err(DataError::invalid(
            dir,
            "not a folder (idx:DIR expects a folder with the four MNIST files)",
        ));
    }
    let path = find(dir, "train-images-idx3-ubyte")?;
    let (mut reader, _) = open(&path)?;
    let dims = header(reader.as_mut(), &path, 3)?;
    let (width, height) = check_side(&path, dims[2], dims[1])?;
    Ok(ItemShape::gray(width, height))
}

/// Finds `stem` in `dir` under the usual spellings (with `.gz`, or `.idx` for `-idx`).
fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    for name in [
        stem.to_string(),
        format!("{stem}.gz"),
        dotted.clone(),
        format!("{dotted}.gz"),
    ] {
        let path = dir.join(&name);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(DataError::invalid(
        &dir.join(stem),
        "missing (looked for it raw and as .gz)",
    ))
}

struct Images {
    path: PathBuf,
    count: usize,
    width: usize,
    height: usize,
    pixels: Vec<f32>,
}

struct Labels {
    path: PathBuf,
    labels: Vec<u32>,
}

/// The size of a file on disk, and whether it is gzip.
#[derive(Clone, Copy)]
enum Stored {
    /// Raw bytes: the file holds exactly this many.
    Raw(u64),
    /// Gzip of this many bytes: it inflates to at most [`MAX_GZIP_RATIO`] times that.
    Gzip(u64),
}

/// Opens a file, transparently un-gzipping it when it starts with the gzip magic.
fn open(path: &Path) -> Result<(Box<dyn Read>, Stored), DataError> {
    let mut file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    let mut magic = [0u8; 2];
    let got = file.read(&mut magic).map_err(|e| DataError::io(path, e))?;
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    if got == 2 && magic == [0x1f, 0x8b] {
        // The gzip trailer holds the uncompressed size mod 2^32; the real check is the
        // exact read below, which never trusts the header for its allocation.
        Ok((
            Box::new(GzDecoder::new(BufReader::new(file))),
            Stored::Gzip(len),
        ))
    } else {
        Ok((Box::new(BufReader::new(file)), Stored::Raw(len)))
    }
}

/// Reads a header: magic (type 0x08 = unsigned byte), rank, and the dimensions.
fn header(reader: &mut dyn Read, path: &Path, rank: u8) -> Result<Vec<usize>, DataError> {
    let mut magic = [0u8; 4];
    read_exact(reader, &mut magic, path, "the 4-byte magic number")?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(DataError::invalid(
            path,
            format!("not an IDX file (magic bytes {magic:02x?})"),
        ));
    }
    if magic[2] != 0x08 {
        return Err(DataError::invalid(
            path,
            format!(
                "IDX data type 0x{:02x} is not unsigned bytes (0x08)",
                magic[2]
            ),
        ));
    }
    if magic[3] != rank {
        return Err(DataError::invalid(
            path,
            format!(
                "IDX rank is {} but {} expected ({})",
                magic[3],
                rank,
                if rank == 3 { "images" } else { "labels" }
            ),
        ));
    }
    let mut dims = Vec::with_capacity(rank as usize);
    for _ in 0..rank {
        let mut b = [0u8; 4];
        read_exact(reader, &mut b, path, "the dimensions in the header")?;
        dims.push(u32::from_be_bytes(b) as usize);
    }
    Ok(dims)
}

fn read_exact(
    reader: &mut dyn Read,
    buf: &mut [u8],
    path: &Path,
    what: &str,
) -> Result<(), DataError> {
    reader.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            DataError::invalid(path, format!("file ends before {what}"))
        }
        _ => DataError::io(path, e),
    })
}

/// Checks a header's claim of `expected` payload bytes against what the file can hold.
fn check_claim(
    path: &Path,
    expected: u64,
    header_len: u64,
    stored: Stored,
) -> Result<(), DataError> {
    match stored {
        Stored::Raw(len) if len < header_len.saturating_add(expected) => Err(DataError::invalid(
            path,
            format!(
                "header claims {expected} bytes of data but the file holds only {}",
                len.saturating_sub(header_len)
            ),
        )),
        Stored::Gzip(len) if len.saturating_mul(MAX_GZIP_RATIO) < expected => {
            Err(DataError::invalid(
                path,
                format!(
                    "header claims {expected} bytes of data but {len} bytes of gzip inflate \
                        to at most {}",
                    len.saturating_mul(MAX_GZIP_RATIO)
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Reads exactly `expected` payload bytes, failing if the file holds fewer or more.
/// The buffer grows with the data actually read, never to a size a header claims.
fn read_payload(
    mut reader: Box<dyn Read>,
    path: &Path,
    expected: u64,
    header_len: u64,
    stored: Stored,
) -> Result<Vec<u8>, DataError> {
    check_claim(path, expected, header_len, stored)?;
    let mut data = Vec::new();
    (&mut reader)
        .take(expected + 1)
        .read_to_end(&mut data)
        .map_err(|e| DataError::io(path, e))?;
    if (data.len() as u64) < expected {
        return Err(DataError::invalid(
            path,
            format!(
                "header claims {} bytes of data but the file holds only {}",
                expected,
                data.len()
            ),
        ));
    }
    if data.len() as u64 > expected {
        return Err(DataError::invalid(
            path,
            "file holds more data than its header claims",
        ));
    }
    Ok(data)
}

/// `(width, height)` if both sides are within 1 to [`MAX_SIDE`].
fn check_side(path: &Path, width: usize, height: usize) -> Result<(usize, usize), DataError> {
    if height == 0 || width == 0 || height > MAX_SIDE || width > MAX_SIDE {
        return Err(DataError::invalid(
            path,
            format!("image size {width}x{height} is out of range (1 to {MAX_SIDE})"),
        ));
    }
    Ok((width, height))
}

/// Reads an image file of at most `budget` values in all.
fn read_images(path: &Path, budget: usize) -> Result<Images, DataError> {
    let (mut reader, stored) = open(path)?;
    let dims = header(reader.as_mut(), path, 3)?;
    let count = dims[0];
    let (width, height) = check_side(path, dims[2], dims[1])?;
    if count == 0 {
        return Err(DataError::invalid(path, "holds no images"));
    }
    let expected = count as u64 * (width * height) as u64;
    if expected > budget as u64 {
        return Err(DataError::invalid(
            path,
            format!(
                "header claims {count} images of {width}x{height} ({expected} values); a data \
                    set may hold at most {MAX_VALUES} values in all"
            ),
        ));
    }
    let bytes = read_payload(reader, path, expected, 16, stored)?;
    Ok(Images {
        path: path.to_path_buf(),
        count,
        width,
        height,
        pixels: bytes.iter().map(|&b| f32::from(b) / 255.0).collect(),
    })
}

/// One IDX image file (raw or gzip) on its own: `(count, height, width, pixels in [0, 1])`,
/// checked as a data set's are (`latentlab sample --format idx` output reads back with it).
pub fn read_idx_images(path: &Path) -> Result<(usize, usize, usize, Vec<f32>), DataError> {
    let images = read_images(path, MAX_VALUES)?;
    Ok((images.count, images.height, images.width, images.pixels))
}

fn read_labels(path: &Path) -> Result<Labels, DataError> {
    let (mut reader, stored) = open(path)?;
    let dims = header(reader.as_mut(), path, 1)?;
    if dims[0] > MAX_VALUES {
        return Err(DataError::invalid(
            path,
            format!(
                "header claims {} labels; a data set may hold at most {MAX_VALUES} items",
                dims[0]
            ),
        ));
    }
    let bytes = read_payload(reader, path, dims[0] as u64, 8, stored)?;
    if let Some((i, &bad)) = bytes
        .iter()
        .enumerate()
        .find(|&(_, &b)| u32::from(b) >= MAX_CLASSES)
    {
        return Err(DataError::invalid(
            path,
            format!("label {bad} at item {i} is out of range"),
        ));
    }
    Ok(Labels {
        path: path.to_path_buf(),
        labels: bytes.iter().map(|&b| u32::from(b)).collect(),
    })
}

/// Writes an image data set as the four MNIST-layout files (raw, not gzipped) in `dir`,
/// so other tools (PyTorch's `benches/peer/vae_torch.py`) read exactly our items.
/// Pixels are rounded to bytes (`round(255 x)`), as MNIST stores them.
pub fn export_idx_dir(ds: &Dataset, dir: &Path) -> Result<(), DataError> {
    let ItemShape::Image {
        channels: 1,
        width,
        height,
    } = ds.shape
    else {
        return Err(DataError::invalid(
            dir,
            format!(
                "{} holds {}: only grey image sets export as IDX",
                ds.name,
                ds.shape.describe()
            ),
        ));
    };
    if ds.num_classes() > 256 {
        return Err(DataError::invalid(
            dir,
            "more than 256 classes do not fit IDX labels",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    for (split, prefix) in [(&ds.train, "train"), (&ds.test, "t10k")] {
        let n = split.len() as u32;
        let pixels: Vec<u8> = split
            .x
            .iter()
            .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        let labels: Vec<u8> = split.labels.iter().map(|&l| l as u8).collect();
        let images = dir.join(format!("{prefix}-images-idx3-ubyte"));
        write_idx(&images, &[n, height as u32, width as u32], &pixels, false)
            .map_err(|e| DataError::io(&images, e))?;
        let label_path = dir.join(format!("{prefix}-labels-idx1-ubyte"));
        write_idx(&label_path, &[n], &labels, false).map_err(|e| DataError::io(&label_path, e))?;
    }
    Ok(())
}

/// Writes an IDX file (raw or gzip): used by tests and by `latentlab dataset --export-idx`.
pub fn write_idx(path: &Path, dims: &[u32], data: &[u8], gzip: bool) -> std::io::Result<()> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    if gzip {
        use std::io::Write;
        let mut enc =
            flate2::write::GzEncoder::new(File::create(path)?, flate2::Compression::fast());
        enc.write_all(&bytes)?;
        enc.finish()?;
        Ok(())
    } else {
        std::fs::write(path, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_set(dir: &Path, n_train: u32, n_test: u32, gzip: bool) {
        let img = |n: u32| {
            (0..n * 28 * 28)
                .map(|i| (i % 256) as u8)
                .collect::<Vec<_>>()
        };
        let lab = |n: u32| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
        let ext = if gzip { ".gz" } else { "" };
        write_idx(
            &dir.join(format!("train-images-idx3-ubyte{ext}")),
            &[n_train, 28, 28],
            &img(n_train),
            gzip,
        )
        .unwrap();
        write_idx(
            &dir.join(format!("train-labels-idx1-ubyte{ext}")),
            &[n_train],
            &lab(n_train),
            gzip,
        )
        .unwrap();
        write_idx(
            &dir.join(format!("t10k-images-idx3-ubyte{ext}")),
            &[n_test, 28, 28],
            &img(n_test),
            gzip,
        )
        .unwrap();
        write_idx(
            &dir.join(format!("t10k-labels-idx1-ubyte{ext}")),
            &[n_test],
            &lab(n_test),
            gzip,
        )
        .unwrap();
    }

    #[test]
    fn exported_digits_load_back_as_the_same_items() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = crate::data::Sizes {
            train: 30,
            test: 12,
        };
        let ds = crate::data::load_with_sizes("digits", 5, Some(sizes)).unwrap();
        export_idx_dir(&ds, dir.path()).unwrap();
        let back = load_idx_dir(dir.path()).unwrap();
        assert_eq!(back.shape, ds.shape);
        for (a, b) in [(&ds.train, &back.train), (&ds.test, &back.test)] {
            assert_eq!(a.labels, b.labels);
            let worst =
                a.x.iter()
                    .zip(&b.x)
                    .map(|(p, q)| (p - q).abs())
                    .fold(0.0, f32::max);
            assert!(worst <= 0.5 / 255.0 + 1e-6, "pixel moved by {worst}");
        }
        let points = crate::data::load("moons", 1).unwrap();
        let err = export_idx_dir(&points, dir.path()).unwrap_err().to_string();
        assert!(err.contains("holds points"), "{err}");
    }

    #[test]
    fn loads_raw_and_gzip() {
        for gzip in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_set(dir.path(), 30, 12, gzip);
            let ds = load_idx_dir(dir.path()).unwrap();
            assert_eq!(
                (ds.train.len(), ds.test.len(), ds.dim(), ds.num_classes()),
                (30, 12, 784, 10)
            );
            assert_eq!(ds.train.x[1], 1.0 / 255.0);
            assert_eq!(ds.test.labels[11], 1);
        }
    }

    #[test]
    fn header_claiming_more_than_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 5, 5, false);
        // Claims four billion images in a file of a few kilobytes.
        let path = dir.path().join("train-images-idx3-ubyte");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        std::fs::write(&path, bytes).unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("train-images-idx3-ubyte") && err.contains("header claims"),
            "{err}"
        );
    }

    #[test]
    fn claims_beyond_what_a_gzip_or_a_data_set_can_hold_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 5, 5, true);
        // 30 000 images of 28x28 claimed by a gzip file of some 100 bytes: deflate cannot
        // inflate that far (23.5 MB from ~100 bytes).
        let path = dir.path().join("train-images-idx3-ubyte.gz");
        write_idx(&path, &[30_000, 28, 28], &[0; 10], true).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "header claims 23520000 bytes of data but {len} bytes of gzip inflate to at \
                    most {}",
                len * 1032
            )),
            "{err}"
        );
        // 200 000 images of 28x28 (156.8 million values): more than a data set may hold,
        // refused from the header whatever the file holds.
        write_idx(&path, &[200_000, 28, 28], &[0; 10], false).unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("header claims 200000 images of 28x28 (156800000 values)"),
            "{err}"
        );
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 5, 5, true);
        let path = dir.path().join("t10k-images-idx3-ubyte.gz");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("t10k-images-idx3-ubyte.gz"), "{err}");
    }

    #[test]
    fn wrong_magic_rank_and_counts_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 5, 5, false);
        let labels = dir.path().join("train-labels-idx1-ubyte");
        // A label file with rank 3.
        write_idx(&labels, &[5, 1, 1], &[0; 5], false).unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("rank is 3"), "{err}");
        // Four labels for five images.
        write_idx(&labels, &[4], &[0; 4], false).unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("4 labels") && err.contains("5 images"),
            "{err}"
        );
        // Not IDX at all.
        std::fs::write(&labels, b"PK\x03\x04 zip file").unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not an IDX file"), "{err}");
        // Trailing bytes after the data.
        let mut bytes = vec![0, 0, 8, 1, 0, 0, 0, 5];
        bytes.extend_from_slice(&[1; 9]);
        std::fs::write(&labels, bytes).unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("more data than"), "{err}");
        // A label beyond the class range.
        write_idx(&labels, &[5], &[0, 1, 200, 3, 4], false).unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("label 200 at item 2"), "{err}");
    }

    #[test]
    fn missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_idx_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("train-images-idx3-ubyte") && err.contains("missing"),
            "{err}"
        );
    }
}
