//! A folder of images, one sub-folder per class: by default each image made 28×28 grey;
//! `folder:DIR#colour` keeps its colour (three channels) and `folder:DIR#size=N` makes it
//! N×N (8 to 128), both together as `folder:DIR#colour,size=32` (the command line's
//! `--colour` and `--image-size N` write this form). Resizing uses a triangle (bilinear)
//! filter whose support grows with the reduction, so a large photo is averaged, not
//! sampled.

use super::{DataError, Dataset, IMAGE_SIDE, ItemShape, MAX_VALUES, split_shuffled};
use image::imageops::FilterType;
use std::path::Path;

/// Smallest and largest side `size=` takes.
pub const SIZES: std::ops::RangeInclusive<usize> = 8..=128;

/// How a folder's images become items: grey or colour, and their side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderOptions {
    /// Keep colour (three channels); grey otherwise.
    pub colour: bool,
    /// Side of the square items.
    pub size: usize,
}

impl Default for FolderOptions {
    fn default() -> Self {
        Self {
            colour: false,
            size: IMAGE_SIDE,
        }
    }
}

impl FolderOptions {
    /// The item shape these options make.
    pub fn shape(&self) -> ItemShape {
        ItemShape::image(if self.colour { 3 } else { 1 }, self.size, self.size)
    }

    /// The suffix that names these options in a spec (`#colour,size=32`; empty for the
    /// defaults).
    pub fn suffix(&self) -> String {
        let mut parts = Vec::new();
        if self.colour {
            parts.push("colour".to_string());
        }
        if self.size != IMAGE_SIDE {
            parts.push(format!("size={}", self.size));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("#{}", parts.join(","))
        }
    }

    /// Splits `DIR#options` into the folder and its options. A `#` whose tail is not
    /// options belongs to the folder's name.
    pub fn parse(arg: &str) -> Result<(&str, Self), DataError> {
        let Some((dir, tail)) = arg.rsplit_once('#') else {
            return Ok((arg, Self::default()));
        };
        let mut opts = Self::default();
        for part in tail.split(',').map(str::trim) {
            match part.split_once('=') {
                None if part == "colour" || part == "color" => opts.colour = true,
                None if part == "grey" || part == "gray" => opts.colour = false,
                Some(("size", n)) => {
                    let size = n.parse::<usize>().ok().filter(|s| SIZES.contains(s));
                    opts.size = size.ok_or_else(|| {
                        DataError::invalid(
                            Path::new(dir),
                            format!(
                                "image size '{n}' is out of range: {} to {} pixels",
                                SIZES.start(),
                                SIZES.end()
                            ),
                        )
                    })?;
                }
                // Not options: the `#` is part of the folder's name.
                _ => return Ok((arg, Self::default())),
            }
        }
        Ok((dir, opts))
    }
}

/// Loads `folder:` with its options (`DIR`, `DIR#colour`, `DIR#size=32`, ...).
pub fn load_folder_spec(arg: &str, seed: u64) -> Result<Dataset, DataError> {
    let (dir, opts) = FolderOptions::parse(arg)?;
    load_folder_as(Path::new(dir), seed, opts)
}

/// Share of the images held out as the test split.
const TEST_FRACTION: f64 = 0.15;
/// Most pixels an image may have (4096x4096), checked from its header before decoding.
pub const MAX_PIXELS: u64 = 4096 * 4096;

/// Loads `dir/<class>/<image>` as 28×28 grey items; classes are the sub-folder names in
/// sorted order.
pub fn load_folder(dir: &Path, seed: u64) -> Result<Dataset, DataError> {
    load_folder_as(dir, seed, FolderOptions::default())
}

/// Loads `dir/<class>/<image>` with `opts` (grey or colour, the side).
pub fn load_folder_as(dir: &Path, seed: u64, opts: FolderOptions) -> Result<Dataset, DataError> {
    let shape = opts.shape();
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
        let most = MAX_VALUES / shape.dim();
        if labels.len() + files.len() > most {
            return Err(DataError::invalid(
                dir,
                format!("holds more than {most} images, the most a data set may hold"),
            ));
        }
        for file in files {
            x.extend(load_image_as(&file, shape)?);
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
    let (train, test) = split_shuffled(x, labels, shape.dim(), TEST_FRACTION, seed);
    Ok(Dataset {
        name: format!("folder:{}{}", dir.display(), opts.suffix()),
        shape,
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
    load_image_as(file, ItemShape::gray(IMAGE_SIDE, IMAGE_SIDE))
}

/// One image file of any size or colour as an item of `shape`: resized (triangle filter)
/// to its side, grey or colour as its channels say, channel-planar, values in [0, 1].
pub fn load_image_as(file: &Path, shape: ItemShape) -> Result<Vec<f32>, DataError> {
    let Some((channels, width, height)) = shape.image_dims() else {
        return Err(DataError::invalid(
            file,
            format!("an image cannot become an item of {}", shape.describe()),
        ));
    };
    check_pixels(file)?;
    let img = image::open(file).map_err(|e| {
        let message = match e {
            image::ImageError::IoError(e) if !file.is_file() => format!("cannot read: {e}"),
            e => format!("not a readable image: {e}"),
        };
        DataError::invalid(file, message)
    })?;
    let resized = img.resize_exact(width as u32, height as u32, FilterType::Triangle);
    if channels == 1 {
        let gray = resized.into_luma8();
        return Ok(gray
            .as_raw()
            .iter()
            .map(|&b| f32::from(b) / 255.0)
            .collect());
    }
    // Colour: the red, green and blue planes one after the other.
    let rgb = resized.into_rgb8();
    let plane = width * height;
    let mut out = vec![0.0f32; channels * plane];
    for (p, px) in rgb.pixels().enumerate() {
        for c in 0..channels.min(3) {
            out[c * plane + p] = f32::from(px.0[c]) / 255.0;
        }
    }
    Ok(out)
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
    fn colour_and_size_options_keep_each_plane_and_resize() {
        let dir = tempfile::tempdir().unwrap();
        // A red and a teal class; 40×30 images, so every one is resized.
        for (class, rgb) in [("red", [200u8, 20, 10]), ("teal", [0, 128, 255])] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            for i in 0..4 {
                let img = image::RgbImage::from_pixel(40 + i, 30, image::Rgb(rgb));
                img.save(dir.path().join(class).join(format!("{i}.png")))
                    .unwrap();
            }
        }
        let spec = format!("{}#colour,size=16", dir.path().display());
        let ds = load_folder_spec(&spec, 1).unwrap();
        assert_eq!(ds.shape, ItemShape::image(3, 16, 16));
        assert_eq!(ds.dim(), 768);
        let plane = 256;
        for split in [&ds.train, &ds.test] {
            for i in 0..split.len() {
                let x = split.item(i, 768);
                // Each plane holds its channel of the flat colour, byte / 255.
                let want: [f32; 3] = if split.labels[i] == 0 {
                    [200.0, 20.0, 10.0]
                } else {
                    [0.0, 128.0, 255.0]
                };
                for (c, w) in want.iter().enumerate() {
                    let v = &x[c * plane..(c + 1) * plane];
                    assert!(v.iter().all(|&p| (p - w / 255.0).abs() < 1e-6), "plane {c}");
                }
            }
        }
        // The options round-trip through the spec; grey at another size; bad sizes named.
        let (d, opts) = FolderOptions::parse(&spec).unwrap();
        assert_eq!(d, dir.path().display().to_string());
        assert_eq!(format!("{d}{}", opts.suffix()), spec);
        let grey = load_folder_spec(&format!("{d}#size=12"), 1).unwrap();
        assert_eq!(grey.shape, ItemShape::gray(12, 12));
        let err = load_folder_spec(&format!("{d}#size=500"), 1).unwrap_err();
        assert!(err.to_string().contains("out of range: 8 to 128"), "{err}");
        // A '#' that is not followed by options is part of the folder's name.
        assert_eq!(
            FolderOptions::parse("a#b").unwrap(),
            ("a#b", FolderOptions::default())
        );
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
