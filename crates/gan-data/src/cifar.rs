//! CIFAR-10 binary batches (`cifar-10-binary.tar.gz`).
//!
//! A batch file is a sequence of records of [`RECORD_BYTES`] bytes: one label byte in `0..=9`,
//! then a 32x32 image as 1024 red, 1024 green and 1024 blue bytes, each plane row-major, which
//! is already the `[C, H, W]` layout of [`ImageDataset`](crate::ImageDataset).
//! `data_batch_1.bin` to `data_batch_5.bin` form the train split, `test_batch.bin` the test
//! split, and `batches.meta.txt` names the classes, one per line.

use std::path::Path;

use thiserror::Error;

use crate::error::io_err;
use crate::{Error, Result};

/// Bytes of one image: 3 planes of 32x32.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;
/// Bytes of one record: a label byte and an image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Number of classes of CIFAR-10.
pub const N_CLASSES: usize = 10;

/// The records of one batch file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarBatch {
    /// The images, `[N, 3, 32, 32]` row-major.
    pub images: Vec<u8>,
    /// The labels, in `0..=9`.
    pub labels: Vec<i64>,
}

/// Why bytes are not a CIFAR-10 batch.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CifarError {
    /// A length that is not a positive multiple of [`RECORD_BYTES`].
    #[error(
        "length {len} is not a positive multiple of {RECORD_BYTES} bytes \
         (a CIFAR-10 record is 1 label byte + {IMAGE_BYTES} pixel bytes; CIFAR-100 is not supported)"
    )]
    BadLength {
        /// Length of the input.
        len: usize,
    },
    /// A label outside `0..=9`.
    #[error("record {record} has label {label}; CIFAR-10 labels are 0..=9")]
    BadLabel {
        /// Index of the record (0-based).
        record: usize,
        /// The label byte.
        label: u8,
    },
}

/// Parses the records of one CIFAR-10 batch file.
///
/// Never panics: every malformed input is a [`CifarError`].
pub fn parse_batch(bytes: &[u8]) -> std::result::Result<CifarBatch, CifarError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(CifarError::BadLength { len: bytes.len() });
    }
    let n = bytes.len() / RECORD_BYTES;
    let mut images = Vec::with_capacity(n * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(n);
    for (record, chunk) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let label = chunk[0];
        if label as usize >= N_CLASSES {
            return Err(CifarError::BadLabel { record, label });
        }
        labels.push(label as i64);
        images.extend_from_slice(&chunk[1..]);
    }
    Ok(CifarBatch { images, labels })
}

/// Reads one batch file; errors name the file and the reason.
pub fn read_batch(path: &Path) -> Result<CifarBatch> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    parse_batch(&bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        reason: format!("invalid CIFAR-10 batch: {e}"),
    })
}

/// The class names of `batches.meta.txt` in `dir`, or `"0"`..`"9"` when it is absent.
pub fn read_class_names(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join("batches.meta.txt");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((0..N_CLASSES).map(|k| k.to_string()).collect());
        }
        Err(e) => return Err(io_err(&path)(e)),
    };
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != N_CLASSES {
        return Err(Error::Format {
            path,
            reason: format!(
                "expected {N_CLASSES} class names (one per line), found {}",
                names.len()
            ),
        });
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_lengths_and_labels_are_explained() {
        assert_eq!(
            parse_batch(&[]).unwrap_err(),
            CifarError::BadLength { len: 0 }
        );
        let e = parse_batch(&vec![0u8; RECORD_BYTES + 1]).unwrap_err();
        assert!(e.to_string().starts_with("length 3074 is not"), "{e}");
        let mut two = vec![3u8; 2 * RECORD_BYTES];
        two[RECORD_BYTES] = 10;
        assert_eq!(
            parse_batch(&two).unwrap_err(),
            CifarError::BadLabel {
                record: 1,
                label: 10
            }
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in (0usize..3, prop_oneof![Just(0usize), 0usize..10])
                .prop_flat_map(|(r, e)| proptest::collection::vec(any::<u8>(), r * RECORD_BYTES + e)),
            label in 0u8..12,
        ) {
            let _ = parse_batch(&bytes);
            let mut labelled = bytes;
            for record in labelled.chunks_mut(RECORD_BYTES) {
                record[0] = label;
            }
            let _ = parse_batch(&labelled);
        }

        #[test]
        fn short_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert!(parse_batch(&bytes).is_err());
        }

        #[test]
        fn valid_records_round_trip(labels in proptest::collection::vec(0u8..10, 1..4), seed in any::<u8>()) {
            let mut bytes = Vec::new();
            let mut images = Vec::new();
            for (i, &l) in labels.iter().enumerate() {
                bytes.push(l);
                let img: Vec<u8> = (0..IMAGE_BYTES).map(|p| (p as u8) ^ seed ^ (i as u8)).collect();
                bytes.extend_from_slice(&img);
                images.extend_from_slice(&img);
            }
            let batch = parse_batch(&bytes).unwrap();
            prop_assert_eq!(batch.labels, labels.iter().map(|&l| l as i64).collect::<Vec<_>>());
            prop_assert_eq!(batch.images, images);
        }
    }
}
