//! A folder of images, one sub-folder per class, converted to 28x28 gray.

use super::{DataError, Dataset, IMAGE_SIDE, ItemShape, MAX_VALUES, split_shuffled};
use image::imageops::FilterType;
use std::path::Path;

/// Share of the images held out as the test split.
const TEST_FRACTION: f64 = 0.15;
/// Most pixels an image may have (4096x4096), checked from its header before decoding.
pub const MAX_PIXELS: u64 = 4096 * 4096;

/// Loads `dir/<class>/<image>`; classes are the sub-folder names in sorted order.
pub fn load_folder(dir: &Path, seed: u64) -> Result<Dataset, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut classes: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(DataError::invalid(
            dir,
            "has no sub-folders (expected one sub-folder of images per class)",
        ));
    }
    let mut x = Vec::new();
    let mut labels = Vec::new();
    let mut class_names = Vec::new();
    for (label, class_dir) in classes.iter().enumerate() {
        let mut files: Vec<_> = std::fs::read_dir(class_dir)
            .map_err(|e| DataError::io(class_dir, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file() && !is_hidden(p))
            .collect();
        files.sort();
        let most = MAX_VALUES / (IMAGE_SIDE * IMAGE_SIDE);
        if labels.len() + files.len() > most {
            return Err(DataError::invalid(
                dir,
                format!("holds more than {most} images, the most a data set may hold"),
            ));
        }
        for file in files {
            x.extend(load_image_item(&file)?);
            labels.push(label as u32);
        }
        class_names.push(
            class_dir
                .file_name()
                .map_or_else(|| label.to_string(), |n| n.to_string_lossy().into_owned()),
        );
    }
    if labels.len() < 2 {
        return Err(DataError::invalid(
            dir,
            format!("holds {} images; at least 2 are needed", labels.len()),
        ));
    }
    let (train, test) = split_shuffled(x, labels, IMAGE_SIDE * IMAGE_SIDE, TEST_FRACTION, seed);
    Ok(Dataset {
        name: format!("folder:{}", dir.display()),
        shape: ItemShape::gray(IMAGE_SIDE, IMAGE_SIDE),
        class_names,
        factor_names: Vec::new(),
        train,
        test,
    })
}

/// One image file of any size or colour as an item: resized to 28×28 (triangle filter),
/// converted to gray, values in [0, 1]. The folder loader and `latentlab encode` both read
/// images through here, so a model sees a file the way it saw its training images.
pub fn load_image_item(file: &Path) -> Result<Vec<f32>, DataError> {
    check_pixels(file)?;
    let img = image::open(file).map_err(|e| {
        let message = match e {
            image::ImageError::IoError(e) if !file.is_file() => format!("cannot read: {e}"),
            e => format!("not a readable image: {e}"),
        };
        DataError::invalid(file, message)
    })?;
    let gray = img
        .resize_exact(IMAGE_SIDE as u32, IMAGE_SIDE as u32, FilterType::Triangle)
        .into_luma8();
    Ok(gray
        .as_raw()
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect())
}

/// Refuses an image whose header claims more than [`MAX_PIXELS`], before decoding it.
fn check_pixels(file: &Path) -> Result<(), DataError> {
    let unreadable =
        |e: image::ImageError| DataError::invalid(file, format!("not a readable image: {e}"));
    // The format from the file name, as `image::open` decodes it.
    let (width, height) = image::ImageReader::open(file)
        .map_err(|e| DataError::io(file, e))?
        .into_dimensions()
        .map_err(unreadable)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS {
        return Err(DataError::invalid(
            file,
            format!(
                "image is {width}x{height} ({pixels} pixels); at most {MAX_PIXELS} pixels \
                    (4096x4096) per image"
            ),
        ));
    }
    Ok(())
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_any_size_and_colour_as_28x28_gray() {
        let dir = tempfile::tempdir().unwrap();
        for (class, colour) in [("cats", [255u8, 255, 255]), ("dogs", [0, 0, 0])] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            for i in 0..5 {
                let img = image::RgbImage::from_pixel(40 + i, 30, image::Rgb(colour));
                img.save(dir.path().join(class).join(format!("{i}.png")))
                    .unwrap();
            }
        }
        let ds = load_folder(dir.path(), 1).unwrap();
        assert_eq!(ds.class_names, ["cats", "dogs"]);
        assert_eq!(ds.train.len() + ds.test.len(), 10);
        assert_eq!(ds.dim(), 784);
        for split in [&ds.train, &ds.test] {
            for i in 0..split.len() {
                let expected = if split.labels[i] == 0 { 1.0 } else { 0.0 };
                assert!(
                    split
                        .item(i, 784)
                        .iter()
                        .all(|&v| (v - expected).abs() < 1e-6)
                );
            }
        }
    }

    #[test]
    fn a_broken_image_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a").join("bad.png"), b"\x89PNG not really").unwrap();
        let err = load_folder(dir.path(), 1).unwrap_err().to_string();
        assert!(
            err.contains("bad.png") && err.contains("not a readable image"),
            "{err}"
        );
    }

    #[test]
    fn a_huge_image_is_refused_from_its_header() {
        // A BMP header claiming 20000x20000 pixels, with no pixel data: decoding it would
        // ask for 1.2 GB; the header check refuses it first.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&(54u32 + 3).to_le_bytes()); // file size
        bmp.extend_from_slice(&[0; 4]);
        bmp.extend_from_slice(&54u32.to_le_bytes()); // pixel data offset
        bmp.extend_from_slice(&40u32.to_le_bytes()); // info header size
        bmp.extend_from_slice(&20_000i32.to_le_bytes());
        bmp.extend_from_slice(&20_000i32.to_le_bytes());
        bmp.extend_from_slice(&1u16.to_le_bytes()); // planes
        bmp.extend_from_slice(&24u16.to_le_bytes()); // bits per pixel
        bmp.extend_from_slice(&[0; 24]);
        bmp.extend_from_slice(&[0; 3]);
        std::fs::write(dir.path().join("a").join("huge.bmp"), bmp).unwrap();
        let err = load_folder(dir.path(), 1).unwrap_err().to_string();
        assert!(
            err.contains("huge.bmp") && err.contains("image is 20000x20000 (400000000 pixels)"),
            "{err}"
        );
    }

    #[test]
    fn no_class_folders_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_folder(dir.path(), 1).unwrap_err().to_string();
        assert!(err.contains("no sub-folders"), "{err}");
    }
}
