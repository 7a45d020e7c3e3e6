//! `label,p0,...,p783` files (as in the Kaggle MNIST CSVs), with or without a header.
//!
//! The rules, so no row is ever dropped without a word:
//! - A UTF-8 byte-order mark at the start is ignored; blank lines are skipped.
//! - **Header rule:** the first non-blank line is a header if and only if *none* of its
//!   fields is a number. A first line with some numeric fields but a label that is not a
//!   whole number is an error naming line 1 (it is neither a header nor a row). Every
//!   later line is a row.
//! - A row is a label (a whole number, 0 to 99) and exactly 784 pixel values, 0-255, or
//!   all 0-1 if no value in the file exceeds 1.
//! - The file is streamed line by line. A file larger than [`MAX_FILE_BYTES`], a line longer
//!   than [`MAX_LINE_BYTES`], or more rows than [`MAX_VALUES`](super::MAX_VALUES) allows is
//!   refused before it is read further. Errors name the file and the line.

use super::{DataError, Dataset, IMAGE_SIDE, ItemShape, MAX_VALUES, split_shuffled};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Share of the rows held out as the test split.
const TEST_FRACTION: f64 = 0.15;
/// Most classes a label may name.
const MAX_CLASSES: u32 = 100;
/// Largest CSV file read: MNIST's 60 000 training rows take 105 MB.
pub const MAX_FILE_BYTES: u64 = 512 << 20;
/// Longest line: 785 fields of up to 80 characters each.
pub const MAX_LINE_BYTES: usize = 64 << 10;
/// Values per row: the label and 28x28 pixels.
const FIELDS: usize = 1 + IMAGE_SIDE * IMAGE_SIDE;

/// Loads a CSV of 28x28 images by the rules above.
pub fn load_csv(path: &Path, seed: u64) -> Result<Dataset, DataError> {
    let dim = IMAGE_SIDE * IMAGE_SIDE;
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let meta = file.metadata().map_err(|e| DataError::io(path, e))?;
    if meta.is_dir() {
        return Err(DataError::invalid(path, "is a folder, not a CSV file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(DataError::invalid(
            path,
            format!(
                "is {} bytes; a CSV data set may be at most {MAX_FILE_BYTES} bytes",
                meta.len()
            ),
        ));
    }
    let mut rows = Rows::default();
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut line_no = 0;
    while read_line(&mut reader, &mut buf, path, line_no + 1)? {
        line_no += 1;
        let text = std::str::from_utf8(&buf)
            .map_err(|_| at_line(path, line_no, "is not UTF-8 text".into()))?;
        let text = if line_no == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let first = !rows.seen_first;
        rows.seen_first = true;
        if first && is_header(text) {
            continue;
        }
        rows.push(text, first)
            .map_err(|e| at_line(path, line_no, e.to_string()))?;
        if rows.x.len() > MAX_VALUES {
            return Err(at_line(
                path,
                line_no,
                format!("more rows than a data set may hold ({MAX_VALUES} values in all)"),
            ));
        }
    }
    rows.into_dataset(path, dim, seed)
}

/// Reads one line (without its end) into `buf`; false at the end of the file.
fn read_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    path: &Path,
    line_no: usize,
) -> Result<bool, DataError> {
    buf.clear();
    let got = reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(|e| DataError::io(path, e))?;
    if buf.len() > MAX_LINE_BYTES {
        return Err(at_line(
            path,
            line_no,
            format!("is longer than {MAX_LINE_BYTES} bytes (a row is a label and 784 values)"),
        ));
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(got > 0)
}

fn at_line(path: &Path, line_no: usize, message: String) -> DataError {
    DataError::invalid(path, format!("line {line_no}: {message}"))
}

/// True if no field of the line is a number: the header rule.
fn is_header(line: &str) -> bool {
    line.split(',').all(|f| f.trim().parse::<f64>().is_err())
}

/// The rows read so far.
#[derive(Default)]
struct Rows {
    x: Vec<f32>,
    labels: Vec<u32>,
    max_value: f32,
    seen_first: bool,
}

impl Rows {
    /// Parses one row; `first` says it is the file's first line (for the header message).
    fn push(&mut self, line: &str, first: bool) -> Result<(), RowError> {
        let mut fields = line.split(',');
        let label_text = fields.next().unwrap_or("").trim();
        let label = parse_label(label_text).map_err(|e| {
            if first && label_text.parse::<f64>().is_err() {
                RowError::NotAHeader(Box::new(e))
            } else {
                e
            }
        })?;
        let start = self.x.len();
        for field in fields {
            if self.x.len() - start == FIELDS - 1 {
                let count = line.split(',').count() - 1;
                return Err(RowError::PixelCount(count));
            }
            let v: f32 = field
                .trim()
                .parse()
                .map_err(|_| RowError::PixelNotANumber(field.trim().to_string()))?;
            if !(0.0..=255.0).contains(&v) {
                return Err(RowError::PixelRange(v));
            }
            self.max_value = self.max_value.max(v);
            self.x.push(v);
        }
        let count = self.x.len() - start;
        if count != FIELDS - 1 {
            return Err(RowError::PixelCount(count));
        }
        self.labels.push(label);
        Ok(())
    }

    fn into_dataset(mut self, path: &Path, dim: usize, seed: u64) -> Result<Dataset, DataError> {
        if self.labels.len() < 2 {
            return Err(DataError::invalid(
                path,
                format!("holds {} rows; at least 2 are needed", self.labels.len()),
            ));
        }
        if self.max_value > 1.0 {
            self.x.iter_mut().for_each(|v| *v /= 255.0);
        }
        let classes = self.labels.iter().max().map_or(1, |m| m + 1);
        let (train, test) = split_shuffled(self.x, self.labels, dim, TEST_FRACTION, seed);
        Ok(Dataset {
            name: format!("csv:{}", path.display()),
            shape: ItemShape::gray(IMAGE_SIDE, IMAGE_SIDE),
            class_names: (0..classes).map(|c| c.to_string()).collect(),
            factor_names: Vec::new(),
            train,
            test,
        })
    }
}

/// What is wrong with one row of a CSV file (the message follows "line N: ").
#[derive(Debug, thiserror::Error)]
enum RowError {
    #[error("{0} pixels, expected {pixels} (label then 28x28 pixels)", pixels = FIELDS - 1)]
    PixelCount(usize),
    #[error("pixel '{0}' is not a number")]
    PixelNotANumber(String),
    #[error("pixel value {0} is outside 0-255")]
    PixelRange(f32),
    #[error("label {0} is out of range (0 to {most})", most = MAX_CLASSES - 1)]
    LabelRange(String),
    #[error("label {0} is not a whole number")]
    LabelNotWhole(String),
    #[error("label '{0}' is not a number")]
    LabelNotANumber(String),
    #[error(
        "{0}; some fields of this first line are numbers, so it is not a header either (a \
         header has no numeric fields)"
    )]
    NotAHeader(Box<RowError>),
}

/// A label: a whole number from 0 to `MAX_CLASSES - 1`. Whole numbers beyond that (or
/// beyond u32, or negative) are "out of range"; other numbers are "not a whole number".
fn parse_label(text: &str) -> Result<u32, RowError> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let whole = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if whole {
        return match text.parse::<u32>() {
            Ok(l) if l < MAX_CLASSES => Ok(l),
            _ => Err(RowError::LabelRange(text.to_string())),
        };
    }
    match text.parse::<f64>() {
        Ok(_) => Err(RowError::LabelNotWhole(text.to_string())),
        Err(_) => Err(RowError::LabelNotANumber(text.to_string())),
    }
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

    fn load_text(text: &str) -> Result<Dataset, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, text).unwrap();
        load_csv(&path, 1).map_err(|e| e.to_string())
    }

    #[test]
    fn loads_with_header_and_scales_bytes() {
        let mut text = String::from("label,pixel0,...\n");
        for i in 0..10 {
            text.push_str(&row(i % 3, 255));
            text.push('\n');
        }
        let ds = load_text(&text).unwrap();
        assert_eq!(ds.train.len() + ds.test.len(), 10);
        assert_eq!(ds.num_classes(), 3);
        assert!(ds.train.x.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn a_first_line_of_numbers_is_data_and_a_bom_is_ignored() {
        // Three rows, no header, a BOM and Windows line ends: all three rows are kept.
        let text = format!(
            "\u{feff}{}\r\n{}\r\n\r\n{}",
            row(7, 0),
            row(1, 255),
            row(2, 0)
        );
        let ds = load_text(&text).unwrap();
        let mut labels: Vec<u32> = ds
            .train
            .labels
            .iter()
            .chain(&ds.test.labels)
            .copied()
            .collect();
        labels.sort_unstable();
        assert_eq!(labels, [1, 2, 7]);
        // With the BOM before a header, the header is still a header.
        let text = format!("\u{feff}label,a,b\n{}\n{}\n", row(1, 0), row(2, 0));
        assert_eq!(load_text(&text).unwrap().num_classes(), 3);
    }

    #[test]
    fn a_first_line_that_is_neither_header_nor_row_is_an_error() {
        let text = format!("seven,{}\n{}\n{}\n", &row(1, 0)[2..], row(1, 0), row(2, 0));
        let err = load_text(&text).unwrap_err();
        assert!(
            err.contains("m.csv: line 1: label 'seven' is not a number")
                && err.contains("not a header"),
            "{err}"
        );
    }

    #[test]
    fn short_row_names_file_and_line() {
        let err = load_text(&format!("{}\n3,1,2,3\n", row(1, 0))).unwrap_err();
        assert!(
            err.contains("m.csv") && err.contains("line 2") && err.contains("3 pixels"),
            "{err}"
        );
        let long = format!("{}\n{},9\n", row(1, 0), row(1, 0));
        let err = load_text(&long).unwrap_err();
        assert!(err.contains("line 2: 785 pixels"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = load_text(&format!("{}\n{}\n", row(1, 0), row(1, 300))).unwrap_err();
        assert!(err.contains("line 2") && err.contains("300"), "{err}");
        let err = load_text(&format!("{}\nseven,{}\n", row(1, 0), &row(1, 0)[2..])).unwrap_err();
        assert!(
            err.contains("line 2: label 'seven' is not a number"),
            "{err}"
        );
        let err = load_text(&format!("{}\nnan,{}\n", row(1, 0), &row(1, 0)[2..])).unwrap_err();
        assert!(err.contains("label nan is not a whole number"), "{err}");
        let err = load_text(&format!(
            "{}\n{}\n",
            row(1, 0),
            row(1, 0).replace(",0,", ",NaN,")
        ))
        .unwrap_err();
        assert!(err.contains("pixel value NaN is outside"), "{err}");
    }

    #[test]
    fn labels_beyond_the_classes_or_u32_are_out_of_range() {
        for label in ["100", "4294967296", "99999999999999999999999", "-1"] {
            let text = format!("{}\n{label},{}\n", row(1, 0), &row(1, 0)[2..]);
            let err = load_text(&text).unwrap_err();
            assert!(
                err.contains(&format!("line 2: label {label} is out of range (0 to 99)")),
                "{err}"
            );
        }
        let err = load_text(&format!("{}\n2.5,{}\n", row(1, 0), &row(1, 0)[2..])).unwrap_err();
        assert!(err.contains("label 2.5 is not a whole number"), "{err}");
    }

    #[test]
    fn too_large_files_and_lines_are_refused_before_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        // A sparse file: larger than the cap, yet it takes no disk space.
        let path = dir.path().join("huge.csv");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = load_csv(&path, 1).unwrap_err().to_string();
        assert!(
            err.contains("huge.csv") && err.contains("may be at most 536870912 bytes"),
            "{err}"
        );
        // One endless line of zero bytes, under the file cap: stops at the line cap.
        f.set_len(10 << 20).unwrap();
        let err = load_csv(&path, 1).unwrap_err().to_string();
        assert!(err.contains("line 1: is longer than 65536 bytes"), "{err}");
        // Empty and header-only files hold no rows.
        assert!(load_text("").unwrap_err().contains("holds 0 rows"));
        assert!(load_text("label,a\n").unwrap_err().contains("holds 0 rows"));
        assert!(load_text("\u{feff}").unwrap_err().contains("holds 0 rows"));
    }
}
