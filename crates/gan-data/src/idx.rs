//! IDX files, the format of MNIST and Fashion-MNIST.
//!
//! An IDX file is two zero bytes, a type byte, a byte `ndims`, then `ndims` big-endian `u32`
//! sizes, then the data in row-major order. Only the type `0x08` (unsigned byte) is supported,
//! which is what MNIST-like data sets use for both images and labels. Files may be gzipped:
//! [`read_idx`] recognises gzip by its magic bytes `1f 8b`, whatever the file is called.

use std::io::Read;
use std::path::Path;

use thiserror::Error;

use crate::error::io_err;
use crate::{Error, Result};

/// The type code of unsigned bytes, the only one supported.
pub const UBYTE: u8 = 0x08;

/// The content of an IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// The size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

/// Why bytes are not a valid IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdxError {
    /// Fewer bytes than the header needs.
    #[error("too short for an IDX header: {needed} bytes needed, {found} found")]
    TooShort {
        /// Header length (4, or 4 + 4 * ndims once ndims is known).
        needed: usize,
        /// Length of the input.
        found: usize,
    },
    /// The first two bytes are not zero.
    #[error("not an IDX file: it starts with {0:#04x} {1:#04x} instead of 0x00 0x00")]
    BadMagic(u8, u8),
    /// A type other than unsigned byte.
    #[error(
        "unsupported IDX data type {code:#04x} ({name}); only 0x08 (unsigned byte) is supported"
    )]
    UnsupportedType {
        /// The type byte.
        code: u8,
        /// Its meaning in the IDX format.
        name: &'static str,
    },
    /// Dimensions whose product does not fit in `usize`.
    #[error("IDX dimensions {dims:?} are too large: their product overflows")]
    Overflow {
        /// The sizes read from the header.
        dims: Vec<u32>,
    },
    /// Less data than the dimensions announce.
    #[error("truncated: expected {expected} bytes of data for dimensions {dims:?}, found {found}")]
    Truncated {
        /// The dimensions.
        dims: Vec<usize>,
        /// Their product.
        expected: usize,
        /// Bytes present after the header.
        found: usize,
    },
    /// More data than the dimensions announce.
    #[error("trailing garbage: expected {expected} bytes of data for dimensions {dims:?}, found {found}")]
    TrailingBytes {
        /// The dimensions.
        dims: Vec<usize>,
        /// Their product.
        expected: usize,
        /// Bytes present after the header.
        found: usize,
    },
}

/// The meaning of an IDX type byte.
fn type_name(code: u8) -> &'static str {
    match code {
        0x08 => "unsigned byte",
        0x09 => "signed byte",
        0x0B => "16-bit integer",
        0x0C => "32-bit integer",
        0x0D => "32-bit float",
        0x0E => "64-bit float",
        _ => "not an IDX type",
    }
}

/// Parses an uncompressed IDX array of unsigned bytes.
///
/// Never panics: every malformed input is an [`IdxError`].
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<IdxArray, IdxError> {
    let [z0, z1, code, ndims, ..] = *bytes else {
        return Err(IdxError::TooShort {
            needed: 4,
            found: bytes.len(),
        });
    };
    if (z0, z1) != (0, 0) {
        return Err(IdxError::BadMagic(z0, z1));
    }
    if code != UBYTE {
        return Err(IdxError::UnsupportedType {
            code,
            name: type_name(code),
        });
    }
    let header = 4 + 4 * ndims as usize;
    if bytes.len() < header {
        return Err(IdxError::TooShort {
            needed: header,
            found: bytes.len(),
        });
    }
    let raw_dims: Vec<u32> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // A zero size makes the product zero, however large the other sizes are.
    let expected = if raw_dims.contains(&0) {
        0
    } else {
        raw_dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d as usize))
            .ok_or_else(|| IdxError::Overflow {
                dims: raw_dims.clone(),
            })?
    };
    let dims: Vec<usize> = raw_dims.iter().map(|&d| d as usize).collect();
    let data = &bytes[header..];
    let found = data.len();
    if found < expected {
        return Err(IdxError::Truncated {
            dims,
            expected,
            found,
        });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes {
            dims,
            expected,
            found,
        });
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// Reads an IDX file, raw or gzipped (detected by the magic bytes `1f 8b`).
///
/// Errors name the file: [`Error::Io`] when it cannot be read, [`Error::Format`] with the
/// reason when it is corrupt gzip or not a valid IDX array of unsigned bytes.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let bytes = read_maybe_gzipped(path)?;
    parse_idx(&bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        reason: format!("invalid IDX file: {e}"),
    })
}

/// The bytes of a file, decompressed when they start with the gzip magic bytes.
fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: format!("corrupt gzip data: {e}"),
        })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, UBYTE, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn parses_a_small_array() {
        let a = parse_idx(&encode(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(a.dims, [2, 3]);
        assert_eq!(a.data, [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn malformed_headers_are_explained() {
        let short = parse_idx(&[0, 0, 8]).unwrap_err();
        assert_eq!(
            short,
            IdxError::TooShort {
                needed: 4,
                found: 3
            }
        );
        let dims_cut = parse_idx(&[0, 0, 8, 2, 0, 0, 0, 1]).unwrap_err();
        assert_eq!(
            dims_cut,
            IdxError::TooShort {
                needed: 12,
                found: 8
            }
        );
        assert_eq!(
            parse_idx(&[1, 0, 8, 0]).unwrap_err(),
            IdxError::BadMagic(1, 0)
        );
        let float = parse_idx(&[0, 0, 0x0D, 1, 0, 0, 0, 0]).unwrap_err();
        assert!(float.to_string().contains("0x0d (32-bit float)"), "{float}");
        let huge = encode(&[u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(matches!(
            parse_idx(&huge).unwrap_err(),
            IdxError::Overflow { .. }
        ));
    }

    #[test]
    fn data_length_must_match_the_dimensions() {
        let cut = parse_idx(&encode(&[2, 2], &[1, 2, 3])).unwrap_err();
        assert_eq!(
            cut.to_string(),
            "truncated: expected 4 bytes of data for dimensions [2, 2], found 3"
        );
        let long = parse_idx(&encode(&[2], &[1, 2, 3])).unwrap_err();
        assert_eq!(
            long.to_string(),
            "trailing garbage: expected 2 bytes of data for dimensions [2], found 3"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_idx(&bytes);
        }

        #[test]
        fn arbitrary_headers_never_panic(
            code in prop_oneof![Just(UBYTE), any::<u8>()],
            dims in proptest::collection::vec(prop_oneof![0u32..4, any::<u32>()], 0..5),
            cut in 0usize..8,
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = encode(&dims, &body);
            bytes[2] = code;
            bytes.truncate(bytes.len().saturating_sub(cut));
            let _ = parse_idx(&bytes);
        }

        #[test]
        fn valid_encodings_round_trip(
            dims in proptest::collection::vec(0u32..5, 0..4),
            seed in any::<u8>(),
        ) {
            let n: u32 = dims.iter().product();
            let data: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let a = parse_idx(&encode(&dims, &data)).unwrap();
            prop_assert_eq!(a.dims, dims.iter().map(|&d| d as usize).collect::<Vec<_>>());
            prop_assert_eq!(a.data, data);
        }
    }
}
