//! dSprites' loader against small `.npz` files written here: deflated like DeepMind's (np.
//! savez_compressed), with known factors and pixels, and broken in each way the loader must
//! refuse.

use super::*;
use crate::data::npy::tests::header_bytes;
use std::io::Write;

/// Rows of the small test file.
const ROWS: usize = 40;

/// The factor classes of row `i` (colour first, as `latents_classes` stores them). Every
/// row differs in orientation (7 is invertible mod 40), so a loaded item's factors say
/// which row it was.
fn classes_of(i: usize) -> [i64; 6] {
    [
        0,
        (i % 3) as i64,
        (i % 6) as i64,
        (i * 7 % 40) as i64,
        (i % 32) as i64,
        (i * 5 % 32) as i64,
    ]
}

/// The pixels of row `i`: a horizontal line at row `i` and a vertical one at column 3i mod 64.
fn pixel(i: usize, r: usize, c: usize) -> u8 {
    u8::from(r == i || c == i * 3 % 64)
}

/// A `.npy` array: its header for `descr` and `shape`, then `data`.
fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut out = header_bytes(&format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    ));
    out.extend_from_slice(data);
    out
}

fn imgs_data(rows: usize) -> Vec<u8> {
    (0..rows)
        .flat_map(|i| (0..SIDE * SIDE).map(move |p| pixel(i, p / SIDE, p % SIDE)))
        .collect()
}

fn classes_data(rows: usize) -> Vec<u8> {
    (0..rows)
        .flat_map(classes_of)
        .flat_map(i64::to_le_bytes)
        .collect()
}

/// The arrays of a good file of `ROWS` rows, by name in the archive.
fn good_arrays() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("imgs.npy", npy("|u1", "(40, 64, 64)", &imgs_data(ROWS))),
        (
            "latents_classes.npy",
            npy("<i8", "(40, 6)", &classes_data(ROWS)),
        ),
        ("latents_values.npy", npy("<f8", "(40, 6)", &[0; ROWS * 48])),
        // A stand-in for the pickle: never read.
        (
            "metadata.npy",
            npy("|O", "()", b"\x80\x02not really a pickle"),
        ),
    ]
}

/// Writes `arrays` as a deflated zip at `path`.
fn write_npz(path: &Path, arrays: &[(&str, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in arrays {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// `good_arrays` with `name` replaced by `bytes` (or removed when `None`).
fn with(name: &str, bytes: Option<Vec<u8>>) -> Vec<(&'static str, Vec<u8>)> {
    good_arrays()
        .into_iter()
        .filter_map(|(n, b)| match n == name {
            true => bytes.clone().map(|b| (n, b)),
            false => Some((n, b)),
        })
        .collect()
}

fn load_err(arrays: &[(&str, Vec<u8>)], sizes: Option<Sizes>) -> DspritesError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    write_npz(&path, arrays);
    match load(&path, sizes) {
        Ok(ds) => panic!("a bad file loaded: {} train items", ds.train.len()),
        Err(e) => e,
    }
}

#[test]
fn a_small_npz_loads_with_its_pixels_labels_and_factors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    write_npz(&path, &good_arrays());
    let sizes = Sizes {
        train: 30,
        test: 10,
    };
    let ds = load_npz(&path, Some(sizes)).unwrap();
    assert_eq!(ds.shape, ItemShape::image(1, 64, 64));
    assert_eq!(ds.class_names, ["square", "ellipse", "heart"]);
    assert_eq!(ds.factor_names, ["shape", "scale", "orientation", "x", "y"]);
    assert_eq!((ds.train.len(), ds.test.len()), (30, 10));
    let mut seen = [false; ROWS];
    for split in [&ds.train, &ds.test] {
        assert_eq!(split.factors.len(), split.len() * 5);
        for j in 0..split.len() {
            let f = split.factors_of(j, 5);
            // The row whose orientation this is: 7 * 23 = 161 = 1 (mod 40).
            let i = f[2] as usize * 23 % 40;
            assert!(!seen[i], "row {i} loaded twice");
            seen[i] = true;
            let want: Vec<u32> = classes_of(i)[1..].iter().map(|&v| v as u32).collect();
            assert_eq!(f, want, "factors of row {i}");
            assert_eq!(
                split.labels[j],
                (i % 3) as u32,
                "label of row {i} is its shape"
            );
            let x = split.item(j, 64 * 64);
            for r in 0..64 {
                for c in 0..64 {
                    assert_eq!(
                        x[r * 64 + c],
                        f32::from(pixel(i, r, c)),
                        "row {i} ({r}, {c})"
                    );
                }
            }
        }
    }
    assert!(
        seen.iter().all(|&s| s),
        "every row once, train and test disjoint"
    );

    // The same subset every time (a fixed seed), and the default split of a small file.
    let again = load_npz(&path, Some(sizes)).unwrap();
    assert_eq!(again.train.labels, ds.train.labels);
    assert_eq!(again.test.factors, ds.test.factors);
    let defaults = load_npz(&path, None).unwrap();
    assert_eq!((defaults.train.len(), defaults.test.len()), (34, 6));
    let few = load_npz(&path, Some(Sizes { train: 3, test: 2 })).unwrap();
    assert_eq!((few.train.len(), few.test.len()), (3, 2));
}

#[test]
fn a_cut_archive_is_not_an_npz() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    write_npz(&path, &good_arrays());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load(&path, None).unwrap_err();
    assert!(matches!(err, DspritesError::NotNpz { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(FILE_NAME) && text.contains("not a readable .npz"),
        "{text}"
    );
}

#[test]
fn images_cut_short_inside_the_archive_are_truncated() {
    let short = npy("|u1", "(40, 64, 64)", &imgs_data(ROWS - 1));
    let err = load_err(&with("imgs.npy", Some(short)), None);
    assert!(
        matches!(
            err,
            DspritesError::Truncated {
                array: "imgs.npy",
                row: 39,
                rows: 40,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn a_wrong_dtype_is_named_with_the_expected_one() {
    let floats = npy("<f4", "(40, 64, 64)", &imgs_data(ROWS));
    let err = load_err(&with("imgs.npy", Some(floats)), None);
    assert!(
        matches!(
            err,
            DspritesError::WrongDtype {
                array: "imgs.npy",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("'<f4', expected '|u1'"), "{err}");
    let big_endian = npy(">i8", "(40, 6)", &classes_data(ROWS));
    let err = load_err(&with("latents_classes.npy", Some(big_endian)), None);
    assert!(err.to_string().contains("'>i8', expected '<i8'"), "{err}");
}

#[test]
fn a_missing_array_names_what_the_archive_holds() {
    let err = load_err(&with("imgs.npy", None), None);
    assert!(
        matches!(
            err,
            DspritesError::MissingArray {
                array: "imgs.npy",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("latents_classes.npy"), "{err}");
}

#[test]
fn wrong_shapes_and_orders_are_refused() {
    let small = npy("|u1", "(40, 32, 32)", &imgs_data(ROWS)[..ROWS * 1024]);
    let err = load_err(&with("imgs.npy", Some(small)), None);
    assert!(
        matches!(
            err,
            DspritesError::WrongShape {
                array: "imgs.npy",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("[40, 32, 32]"), "{err}");
    // Images and factors must have as many rows.
    let fewer = npy("|u1", "(39, 64, 64)", &imgs_data(ROWS - 1));
    let err = load_err(&with("imgs.npy", Some(fewer)), None);
    assert!(matches!(err, DspritesError::WrongShape { .. }), "{err:?}");
    let seven = npy("<i8", "(40, 7)", &[0; ROWS * 56]);
    let err = load_err(&with("latents_classes.npy", Some(seven)), None);
    assert!(err.to_string().contains("[40, 7]"), "{err}");
    // More rows than dSprites has is refused from the header, before any work.
    let huge = header_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (737281, 6), }");
    let err = load_err(&with("latents_classes.npy", Some(huge)), None);
    assert!(matches!(err, DspritesError::WrongShape { .. }), "{err:?}");

    let mut fortran =
        header_bytes("{'descr': '|u1', 'fortran_order': True, 'shape': (40, 64, 64), }");
    fortran.extend_from_slice(&imgs_data(ROWS));
    let err = load_err(&with("imgs.npy", Some(fortran)), None);
    assert!(matches!(err, DspritesError::FortranOrder { .. }), "{err:?}");
    let err = load_err(&with("imgs.npy", Some(b"PK not npy".to_vec())), None);
    assert!(
        err.to_string().contains("imgs.npy: bad .npy header"),
        "{err}"
    );
}

#[test]
fn values_outside_dsprites_are_refused_with_their_row() {
    let mut data = classes_data(ROWS);
    data[7 * 48 + 8..7 * 48 + 16].copy_from_slice(&3i64.to_le_bytes()); // row 7's shape
    let err = load_err(
        &with("latents_classes.npy", Some(npy("<i8", "(40, 6)", &data))),
        None,
    );
    assert!(
        err.to_string()
            .contains("row 7: shape class 3, expected 0 to 2"),
        "{err}"
    );
    let mut data = classes_data(ROWS);
    data[2 * 48..2 * 48 + 8].copy_from_slice(&1i64.to_le_bytes()); // row 2's colour
    let err = load_err(
        &with("latents_classes.npy", Some(npy("<i8", "(40, 6)", &data))),
        None,
    );
    assert!(err.to_string().contains("row 2: colour class 1"), "{err}");
    let mut imgs = imgs_data(ROWS);
    imgs[5 * 4096 + 100] = 255;
    let err = load_err(
        &with("imgs.npy", Some(npy("|u1", "(40, 64, 64)", &imgs))),
        None,
    );
    assert!(err.to_string().contains("row 5: a pixel is 255"), "{err}");
}

#[test]
fn sizes_are_checked_against_the_file_and_memory() {
    let err = load_err(&good_arrays(), Some(Sizes { train: 35, test: 6 }));
    assert!(err.to_string().contains("the file holds 40"), "{err}");
    let err = load_err(&good_arrays(), Some(Sizes { train: 0, test: 6 }));
    assert!(err.to_string().contains("train=0"), "{err}");
    let most = MAX_VALUES / 4096;
    let e = resolve_sizes(
        Path::new("f"),
        MAX_ITEMS,
        Some(Sizes {
            train: most,
            test: 1,
        }),
    );
    assert!(e.unwrap_err().to_string().contains("fit in memory"));
    let ok = resolve_sizes(Path::new("f"), MAX_ITEMS, None).unwrap();
    assert_eq!(ok, DEFAULT_SIZES);
    assert!((ok.train + ok.test) * 4096 <= MAX_VALUES);
}

#[test]
fn spec_options_give_the_sizes() {
    assert_eq!(parse_options(None).unwrap(), None);
    let s = parse_options(Some("train=500,test=100")).unwrap();
    assert_eq!(
        s,
        Some(Sizes {
            train: 500,
            test: 100
        })
    );
    let s = parse_options(Some("test=7")).unwrap();
    assert_eq!(
        s,
        Some(Sizes {
            train: DEFAULT_SIZES.train,
            test: 7
        })
    );
    for (bad, needle) in [
        ("train", "not key=value"),
        ("train=x", "'x'"),
        ("size=3", "unknown option 'size'"),
    ] {
        let err = parse_options(Some(bad)).unwrap_err().to_string();
        assert!(
            err.contains(needle) && err.contains(&format!("dsprites#{bad}")),
            "{err}"
        );
    }
}

#[test]
fn the_subset_is_drawn_without_replacement_from_the_whole_file() {
    let slot = choose(
        1000,
        Sizes {
            train: 300,
            test: 200,
        },
    );
    let mut places: Vec<u32> = slot.iter().copied().filter(|&p| p != u32::MAX).collect();
    places.sort_unstable();
    assert_eq!(
        places,
        (0..500).collect::<Vec<u32>>(),
        "each place filled once"
    );
    // Spread over the file, not its first rows: both halves hold about half the chosen.
    let first_half = slot[..500].iter().filter(|&&p| p != u32::MAX).count();
    assert!((200..300).contains(&first_half), "{first_half}");
}
