//! NumPy `.npy` files (format version 1.0), the interchange format of `gan sample`: `u8`
//! images `(N, C, H, W)` and `int64` labels `(N,)`, readable with `numpy.load`.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{io_err, Error, Result};

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
    let tmp = path.with_extension("npy.tmp");
    let mut f = fs::File::create(&tmp).map_err(io_err("cannot create", &tmp))?;
    f.write_all(&header)
        .and_then(|_| f.write_all(data))
        .and_then(|_| f.sync_all())
        .map_err(io_err("cannot write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("cannot replace", path))
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

fn check(path: &Path, shape: &[usize], len: usize) -> Result<()> {
    if shape.iter().product::<usize>() != len {
        return Err(Error::Config {
            key: path.display().to_string(),
            message: format!("{len} values do not fill an array of shape {shape:?}"),
        });
    }
    Ok(())
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
    }
}
