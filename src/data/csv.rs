//! `label,p0,...,p783` files (as in the Kaggle MNIST CSVs), with or without a header.

use super::{DataError, Dataset, IMAGE_SIDE, ItemShape, split_shuffled};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Share of the rows held out as the test split.
const TEST_FRACTION: f64 = 0.15;
/// Most classes a label may name.
const MAX_CLASSES: u32 = 100;

/// Loads a CSV of 28x28 images. Pixels are 0-255, or 0-1 if no value exceeds 1.
pub fn load_csv(path: &Path, seed: u64) -> Result<Dataset, DataError> {
    let dim = IMAGE_SIDE * IMAGE_SIDE;
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut x: Vec<f32> = Vec::new();
    let mut labels = Vec::new();
    let mut max_value = 0.0f32;
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line_no = n + 1;
        let line = line.map_err(|e| DataError::invalid(path, format!("line {line_no}: {e}")))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut fields = line.split(',');
        let first = fields.next().unwrap_or("").trim();
        let label: u32 = match first.parse() {
            Ok(l) => l,
            Err(_) if n == 0 => continue, // a header row
            Err(_) => {
                return Err(DataError::invalid(
                    path,
                    format!("line {line_no}: label '{first}' is not a whole number"),
                ));
            }
        };
        if label >= MAX_CLASSES {
            return Err(DataError::invalid(
                path,
                format!(
                    "line {line_no}: label {label} is out of range (0 to {})",
                    MAX_CLASSES - 1
                ),
            ));
        }
        let start = x.len();
        for field in fields {
            let v: f32 = field.trim().parse().map_err(|_| {
                DataError::invalid(
                    path,
                    format!("line {line_no}: pixel '{}' is not a number", field.trim()),
                )
            })?;
            if !(0.0..=255.0).contains(&v) {
                return Err(DataError::invalid(
                    path,
                    format!("line {line_no}: pixel value {v} is outside 0-255"),
                ));
            }
            max_value = max_value.max(v);
            x.push(v);
        }
        let count = x.len() - start;
        if count != dim {
            return Err(DataError::invalid(
                path,
                format!("line {line_no}: {count} pixels, expected {dim} (label then 28x28 pixels)"),
            ));
        }
        labels.push(label);
    }
    if labels.len() < 2 {
        return Err(DataError::invalid(
            path,
            format!("holds {} rows; at least 2 are needed", labels.len()),
        ));
    }
    if max_value > 1.0 {
        x.iter_mut().for_each(|v| *v /= 255.0);
    }
    let classes = labels.iter().max().map_or(1, |m| m + 1);
    let (train, test) = split_shuffled(x, labels, dim, TEST_FRACTION, seed);
    Ok(Dataset {
        name: format!("csv:{}", path.display()),
        shape: ItemShape::Image {
            width: IMAGE_SIDE,
            height: IMAGE_SIDE,
        },
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        train,
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: u32, value: u32) -> String {
        let mut s = label.to_string();
        for _ in 0..784 {
            s.push_str(&format!(",{value}"));
        }
        s
    }

    #[test]
    fn loads_with_header_and_scales_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut text = String::from("label,pixel0,...\n");
        for i in 0..10 {
            text.push_str(&row(i % 3, 255));
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        let ds = load_csv(&path, 1).unwrap();
        assert_eq!(ds.train.len() + ds.test.len(), 10);
        assert_eq!(ds.num_classes(), 3);
        assert!(ds.train.x.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn short_row_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, format!("{}\n3,1,2,3\n", row(1, 0))).unwrap();
        let err = load_csv(&path, 1).unwrap_err().to_string();
        assert!(
            err.contains("bad.csv") && err.contains("line 2") && err.contains("3 pixels"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, format!("{}\n{}\n", row(1, 0), row(1, 300))).unwrap();
        let err = load_csv(&path, 1).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("300"), "{err}");
        std::fs::write(&path, format!("{}\nseven,{}\n", row(1, 0), &row(1, 0)[2..])).unwrap();
        let err = load_csv(&path, 1).unwrap_err().to_string();
        assert!(err.contains("label 'seven'"), "{err}");
    }
}
