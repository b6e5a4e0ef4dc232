//! NumPy `.npy` files, the interchange format of `gan sample` and `gan eval --samples`: `u8`
//! images `(N, C, H, W)`, `int64` labels `(N,)` and `float32` latents or raw outputs, as `numpy.save` writes and `numpy.load`
//! reads them (written as format version 1.0; read in versions 1 to 3).

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + dict + '\n' is padded to a multiple of 64.
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

fn write(path: &Path, header: Vec<u8>, data: &[u8]) -> Result<()> {
    Ok(gan_tensor::write_atomic_with(path, |tmp| {
        let mut f = fs::File::create(tmp)?;
        f.write_all(&header).and_then(|_| f.write_all(data))
    })?)
}

/// Writes `u8` values of `shape` (C order) to `path` (atomically: temporary file, rename).
pub fn write_u8(path: &Path, shape: &[usize], data: &[u8]) -> Result<()> {
    check(path, shape, data.len())?;
    write(path, header("|u1", shape), data)
}

/// Writes little-endian `int64` values of `shape` to `path`.
pub fn write_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<()> {
    check(path, shape, data.len())?;
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write(path, header("<i8", shape), &bytes)
}

/// Writes little-endian `float32` values of `shape` to `path`.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    check(path, shape, data.len())?;
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    write(path, header("<f4", shape), &bytes)
}

fn check(path: &Path, shape: &[usize], len: usize) -> Result<()> {
    if shape.iter().product::<usize>() != len {
        return Err(Error::Format {
            path: path.to_path_buf(),
            reason: format!("{len} values do not fill an array of shape {shape:?}"),
        });
    }
    Ok(())
}

/// An array read from a `.npy` file: its shape and values.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray<T> {
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// Values, C order.
    pub data: Vec<T>,
}

/// Parses a `.npy` file's bytes: returns the dtype descriptor, the shape and the data bytes.
/// Only C-order arrays of version 1.0, 2.0 or 3.0 files are supported.
pub fn parse(bytes: &[u8]) -> std::result::Result<(String, Vec<usize>, &[u8]), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (no \\x93NUMPY magic)".into());
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or("truncated header")?;
    let dict = std::str::from_utf8(&bytes[start..end]).map_err(|_| "header is not text")?;
    let field = |key: &str| -> std::result::Result<&str, String> {
        let at = dict
            .find(&format!("'{key}':"))
            .ok_or(format!("header has no '{key}'"))?;
        Ok(dict[at + key.len() + 3..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or("bad 'descr'")?
        .to_string();
    if !field("fortran_order")?.starts_with("False") {
        return Err("Fortran-order arrays are not supported".into());
    }
    let shape_text = field("shape")?;
    let close = shape_text.find(')').ok_or("bad 'shape'")?;
    let shape = shape_text[..close]
        .trim_start_matches('(')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension {s:?}"))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((descr, shape, &bytes[end..]))
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Decodes the file `path` whose contents are `bytes`, accepting the dtypes `descrs` of
/// `size` bytes per value.
fn read_typed<T>(
    path: &Path,
    bytes: &[u8],
    descrs: &[&str],
    size: usize,
    decode: impl Fn(&[u8]) -> T,
) -> Result<NpyArray<T>> {
    let fail = |reason: String| Error::Format {
        path: path.to_path_buf(),
        reason,
    };
    let (descr, shape, data) = parse(bytes).map_err(fail)?;
    if !descrs.contains(&descr.as_str()) {
        return Err(fail(format!("dtype {descr:?}; expected one of {descrs:?}")));
    }
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| fail(format!("shape {shape:?} overflows")))?;
    if data.len() != n * size {
        return Err(fail(format!(
            "expected {} bytes of data for shape {shape:?}, found {}",
            n * size,
            data.len()
        )));
    }
    Ok(NpyArray {
        shape,
        data: data.chunks_exact(size).map(decode).collect(),
    })
}

/// Reads a `uint8` array.
pub fn read_u8(path: &Path) -> Result<NpyArray<u8>> {
    read_typed(path, &read_bytes(path)?, &["|u1", "<u1"], 1, |b| b[0])
}

/// Reads a `float32` array (also accepts `float64`, NumPy's default, converted).
pub fn read_f32(path: &Path) -> Result<NpyArray<f32>> {
    let bytes = read_bytes(path)?;
    let is_f64 = parse(&bytes).is_ok_and(|(d, _, _)| d == "<f8");
    if is_f64 {
        read_typed(path, &bytes, &["<f8"], 8, |b| {
            f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32
        })
    } else {
        read_typed(path, &bytes, &["<f4"], 4, |b| {
            f32::from_le_bytes(b.try_into().expect("4 bytes"))
        })
    }
}

/// Reads an `int64` array (also accepts `int32`, as labels often come).
pub fn read_i64(path: &Path) -> Result<NpyArray<i64>> {
    let bytes = read_bytes(path)?;
    let is_i32 = parse(&bytes).is_ok_and(|(d, _, _)| d == "<i4");
    if is_i32 {
        read_typed(path, &bytes, &["<i4"], 4, |b| {
            i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64
        })
    } else {
        read_typed(path, &bytes, &["<i8"], 8, |b| {
            i64::from_le_bytes(b.try_into().expect("8 bytes"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_aligned_and_parse_as_numpy_writes_them() {
        let h = header("|u1", &[2, 1, 3, 3]);
        assert_eq!(h.len() % 64, 0);
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(
            text.starts_with("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 3, 3), }")
        );
        assert!(text.ends_with('\n'));
        assert_eq!(u16::from_le_bytes([h[8], h[9]]) as usize, h.len() - 10);
        let h = header("<i8", &[5]);
        assert!(std::str::from_utf8(&h[10..])
            .unwrap()
            .contains("'shape': (5,)"));
    }

    #[test]
    fn files_hold_header_then_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.npy");
        write_i64(&p, &[3], &[0, 1, -2]).unwrap();
        let bytes = fs::read(&p).unwrap();
        let start = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!(start % 64, 0);
        assert_eq!(bytes.len(), start + 24);
        assert_eq!(&bytes[start..start + 8], &0i64.to_le_bytes());
        assert_eq!(&bytes[start + 16..], &(-2i64).to_le_bytes());
        assert!(write_u8(&p, &[2, 2], &[1, 2, 3]).is_err());
        assert_eq!(read_i64(&p).unwrap().data, vec![0, 1, -2]);
        let f = dir.path().join("z.npy");
        write_f32(&f, &[2, 2], &[0.5, -1.25, 3.0, f32::MIN_POSITIVE]).unwrap();
        let back = read_f32(&f).unwrap();
        assert_eq!(back.shape, vec![2, 2]);
        assert_eq!(back.data, vec![0.5, -1.25, 3.0, f32::MIN_POSITIVE]);
        assert!(read_f32(&p).is_err(), "int64 is not float");
    }

    #[test]
    fn round_trips_and_rejects_other_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npy");
        let data: Vec<u8> = (0..24).collect();
        write_u8(&p, &[2, 3, 2, 2], &data).unwrap();
        let back = read_u8(&p).unwrap();
        assert_eq!(back.shape, vec![2, 3, 2, 2]);
        assert_eq!(back.data, data);
        let err = read_i64(&p).unwrap_err().to_string();
        assert!(err.contains("x.npy"), "{err}");
        fs::write(&p, &fs::read(&p).unwrap()[..70]).unwrap();
        assert!(read_u8(&p).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse(&bytes);
        }
    }
}
