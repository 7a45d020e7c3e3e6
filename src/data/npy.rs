//! The header of a NumPy `.npy` array (the members of an `.npz`): magic, version, and the
//! dictionary of `descr`, `fortran_order` and `shape`. Only the header is parsed here; the
//! caller reads the data that follows, knowing from the header how much there must be.
//!
//! Format: <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>.
//! `\x93NUMPY`, one byte major and one byte minor version, the header's length (u16 little
//! endian in version 1, u32 in versions 2 and 3), then the header: an ASCII (version 3:
//! UTF-8) Python dict literal padded with spaces and a newline.

use std::io::Read;

/// The six bytes every `.npy` file starts with.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Longest header read. NumPy writes 128 bytes for our arrays and itself refuses headers
/// over 10,000 bytes unless told otherwise; this cap comes before the header is allocated.
pub const MAX_HEADER_BYTES: usize = 10_000;

/// Most dimensions a shape may have (ours have 2 or 3).
const MAX_DIMS: usize = 8;

/// What a `.npy` header says about the array after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    /// The element type as NumPy spells it: `|u1` (bytes), `<i8` (little-endian i64), ...
    pub descr: String,
    /// True when the array is stored column-major.
    pub fortran_order: bool,
    /// The size of each dimension.
    pub shape: Vec<u64>,
}

/// Reads the header at the start of `r`, leaving `r` at the first byte of data. The error
/// says what is wrong in words (the caller adds the file and the array).
pub fn read_header(r: &mut impl Read) -> Result<NpyHeader, String> {
    let mut start = [0u8; 8];
    read_all(
        r,
        &mut start,
        "the file ends inside the magic bytes and version",
    )?;
    if &start[..6] != MAGIC {
        return Err("no NumPy magic bytes (\\x93NUMPY) at the start".into());
    }
    let (major, minor) = (start[6], start[7]);
    let len = match major {
        1 => {
            let mut b = [0u8; 2];
            read_all(r, &mut b, "the file ends inside the header length")?;
            u16::from_le_bytes(b) as usize
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            read_all(r, &mut b, "the file ends inside the header length")?;
            u32::from_le_bytes(b) as usize
        }
        _ => return Err(format!("unknown .npy format version {major}.{minor}")),
    };
    if len > MAX_HEADER_BYTES {
        return Err(format!(
            "the header claims {len} bytes, more than the {MAX_HEADER_BYTES} allowed"
        ));
    }
    let mut text = vec![0u8; len];
    read_all(r, &mut text, "the file ends inside the header")?;
    let text = String::from_utf8(text).map_err(|_| "the header is not text".to_string())?;
    parse_dict(&text)
}

fn read_all(r: &mut impl Read, buf: &mut [u8], ends: &str) -> Result<(), String> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => ends.to_string(),
        _ => e.to_string(),
    })
}

/// Parses `{'descr': '<i8', 'fortran_order': False, 'shape': (3, 6), }`: exactly these
/// three keys, each once, in any order.
fn parse_dict(text: &str) -> Result<NpyHeader, String> {
    let body = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| format!("the header is not a {{...}} dictionary: {}", text.trim()))?;
    let mut p = Parser { rest: body };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_space();
        if p.rest.is_empty() {
            break;
        }
        let key = p.quoted()?;
        p.expect(':')?;
        match key {
            "descr" if descr.is_none() => descr = Some(p.quoted()?.to_string()),
            "fortran_order" if fortran.is_none() => fortran = Some(p.boolean()?),
            "shape" if shape.is_none() => shape = Some(p.tuple()?),
            "descr" | "fortran_order" | "shape" => return Err(format!("'{key}' appears twice")),
            other => return Err(format!("unexpected key '{other}' in the header")),
        }
        p.skip_space();
        if !p.rest.is_empty() {
            p.expect(',')?;
        }
    }
    Ok(NpyHeader {
        descr: descr.ok_or("the header has no 'descr'")?,
        fortran_order: fortran.ok_or("the header has no 'fortran_order'")?,
        shape: shape.ok_or("the header has no 'shape'")?,
    })
}

/// A cursor over the header dictionary's text.
struct Parser<'a> {
    rest: &'a str,
}

impl<'a> Parser<'a> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_space();
        self.rest = self
            .rest
            .strip_prefix(c)
            .ok_or_else(|| format!("expected '{c}' in the header at: {}", self.near()))?;
        Ok(())
    }

    fn near(&self) -> String {
        self.rest.chars().take(24).collect()
    }

    /// A string in single or double quotes (NumPy writes single), without escapes.
    fn quoted(&mut self) -> Result<&'a str, String> {
        self.skip_space();
        let quote = match self.rest.chars().next() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(format!("expected a quoted name at: {}", self.near())),
        };
        let inner = &self.rest[1..];
        let end = inner
            .find(quote)
            .ok_or_else(|| "a quoted name is not closed".to_string())?;
        self.rest = &inner[end + 1..];
        Ok(&inner[..end])
    }

    fn boolean(&mut self) -> Result<bool, String> {
        self.skip_space();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.rest.strip_prefix(word) {
                self.rest = rest;
                return Ok(value);
            }
        }
        Err(format!("expected True or False at: {}", self.near()))
    }

    /// `(a, b, c)`, `(a,)` or `()`: whole numbers.
    fn tuple(&mut self) -> Result<Vec<u64>, String> {
        self.expect('(')?;
        let end = self
            .rest
            .find(')')
            .ok_or_else(|| "the shape's '(' is not closed".to_string())?;
        let inside = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        let mut dims = Vec::new();
        for part in inside.split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            if dims.len() == MAX_DIMS {
                return Err(format!("the shape has more than {MAX_DIMS} dimensions"));
            }
            let dim = part
                .trim_end_matches('L') // Python 2's long integers
                .parse::<u64>()
                .map_err(|_| format!("the shape holds '{part}', not a whole number"))?;
            dims.push(dim);
        }
        Ok(dims)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A version-1 `.npy` header for `dict`, padded as NumPy pads it.
    pub(crate) fn header_bytes(dict: &str) -> Vec<u8> {
        let mut text = dict.to_string();
        while !(10 + text.len() + 1).is_multiple_of(64) {
            text.push(' ');
        }
        text.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        out
    }

    #[test]
    fn numpy_headers_parse_and_leave_the_reader_at_the_data() {
        // The header `np.save` writes for dSprites' images, typed from the format's rules.
        let mut bytes =
            header_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (737280, 64, 64), }");
        assert_eq!(bytes.len() % 64, 0);
        bytes.extend_from_slice(&[7, 8]);
        let mut r = &bytes[..];
        let h = read_header(&mut r).unwrap();
        assert_eq!(h.descr, "|u1");
        assert!(!h.fortran_order);
        assert_eq!(h.shape, [737_280, 64, 64]);
        assert_eq!(r, [7, 8], "the reader stops at the first data byte");

        let mut r =
            &header_bytes("{\"shape\": (5,), \"fortran_order\": True, \"descr\": \"<i8\"}")[..];
        let h = read_header(&mut r).unwrap();
        assert_eq!((h.shape, h.fortran_order), (vec![5], true));
        let mut r = &header_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': ()}")[..];
        assert_eq!(read_header(&mut r).unwrap().shape, Vec::<u64>::new());
    }

    #[test]
    fn bad_headers_say_what_is_wrong() {
        let cases: [(Vec<u8>, &str); 9] = [
            (b"\x93NUMPX\x01\x00".to_vec(), "magic"),
            (b"\x93NUM".to_vec(), "ends inside the magic"),
            (b"\x93NUMPY\x04\x00\x10\x00".to_vec(), "version 4.0"),
            (
                [b"\x93NUMPY\x02\x00".as_slice(), &50_000u32.to_le_bytes()].concat(),
                "claims 50000 bytes",
            ),
            (
                b"\x93NUMPY\x01\x00\x40\x00{'descr'".to_vec(),
                "ends inside the header",
            ),
            (
                header_bytes("{'descr': '|u1', 'shape': (2, 3), }"),
                "no 'fortran_order'",
            ),
            (
                header_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, x), }"),
                "'x', not a whole number",
            ),
            (
                header_bytes("{'descr': '|u1', 'descr': '|u1', 'fortran_order': False}"),
                "'descr' appears twice",
            ),
            (
                header_bytes("{'descr': '|u1', 'fortran_order': no, 'shape': (1,)}"),
                "True or False",
            ),
        ];
        for (bytes, needle) in cases {
            let err = read_header(&mut &bytes[..]).unwrap_err();
            assert!(err.contains(needle), "{needle:?} not in {err:?}");
        }
    }
}
