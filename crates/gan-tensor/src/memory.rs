//! How much memory a job may use, checked before user input sizes a big allocation.
//!
//! [`available`] is the tightest of: the kernel's `MemAvailable`, the cgroup limit (v2
//! `memory.max` minus `memory.current`, or v1 `memory.limit_in_bytes` minus usage) and the
//! address-space limit (`ulimit -v`, from `/proc/self/limits`). [`check_fits`] turns a size
//! estimate into a clear error before anything is allocated, instead of libtorch failing (or
//! the kernel's OOM killer striking) half-way.
use std::fmt;

use crate::error::{Error, Result};

/// A memory budget and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes that may still be allocated.
    pub bytes: u64,
    /// Which limit it is.
    pub source: &'static str,
}

/// Bytes as a person reads them (`1.5 GB`, decimal units).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    let units = [
        ("PB", 1e15),
        ("TB", 1e12),
        ("GB", 1e9),
        ("MB", 1e6),
        ("kB", 1e3),
    ];
    for (name, size) in units {
        if b >= size {
            return format!("{:.1} {name}", b / size);
        }
    }
    format!("{bytes} bytes")
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn mem_available() -> Option<u64> {
    let text = read("/proc/meminfo")?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

fn cgroup_room() -> Option<u64> {
    let v2 = read("/sys/fs/cgroup/memory.max")
        .and_then(|max| max.trim().parse::<u64>().ok())
        .map(|max| {
            let used = read("/sys/fs/cgroup/memory.current")
                .and_then(|c| c.trim().parse::<u64>().ok())
                .unwrap_or(0);
            max.saturating_sub(used)
        });
    v2.or_else(|| {
        let max: u64 = read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?
            .trim()
            .parse()
            .ok()?;
        // "No limit" is a huge page-aligned number.
        if max >= 1 << 60 {
            return None;
        }
        let used = read("/sys/fs/cgroup/memory/memory.usage_in_bytes")
            .and_then(|c| c.trim().parse::<u64>().ok())
            .unwrap_or(0);
        Some(max.saturating_sub(used))
    })
}

/// The soft address-space limit (`ulimit -v`) minus what the process already maps.
fn address_space_room() -> Option<u64> {
    let limits = read("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line
        .trim_start_matches("Max address space")
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let mapped_kb: u64 = read("/proc/self/status")?
        .lines()
        .find(|l| l.starts_with("VmSize:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(soft.saturating_sub(mapped_kb.saturating_mul(1024)))
}

/// The tightest memory budget this process can find, or `None` where none can be read
/// (not Linux).
pub fn available() -> Option<Budget> {
    [
        (mem_available(), "MemAvailable in /proc/meminfo"),
        (cgroup_room(), "the cgroup memory limit"),
        (address_space_room(), "the address-space limit (ulimit -v)"),
    ]
    .into_iter()
    .filter_map(|(b, source)| b.map(|bytes| Budget { bytes, source }))
    .min_by_key(|b| b.bytes)
}

/// Fails with [`Error::OutOfMemory`] when `bytes` (an estimate of what `what` needs) exceeds
/// the memory [`available`] to the process. `what` names the input that sizes it, e.g.
/// "10000000000 samples (--n)". Passes where no budget can be read.
pub fn check_fits(what: impl fmt::Display, bytes: u64) -> Result<()> {
    check_fits_in(what, bytes, available())
}

/// [`check_fits`] against a given budget (for tests).
pub fn check_fits_in(what: impl fmt::Display, bytes: u64, budget: Option<Budget>) -> Result<()> {
    match budget {
        Some(b) if bytes > b.bytes => Err(Error::OutOfMemory {
            what: what.to_string(),
            needed: bytes,
            available: b.bytes,
            limit: b.source,
        }),
        _ => Ok(()),
    }
}

/// Bytes of `elements` values of `bytes_each`, saturating instead of overflowing.
pub fn bytes_of(elements: u64, bytes_each: u64) -> u64 {
    elements.saturating_mul(bytes_each)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_found_on_linux_and_is_plausible() {
        if !cfg!(target_os = "linux") {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIP a_budget_is_found_on_linux: memory budgets are read from /proc on Linux only"
            );
            return;
        }
        let b = available().expect("MemAvailable is readable on Linux");
        assert!(b.bytes > 1 << 20 && b.bytes < 1 << 50, "{b:?}");
    }

    #[test]
    fn too_big_is_a_clear_error_and_small_passes() {
        let budget = Some(Budget {
            bytes: 16_000_000_000,
            source: "the address-space limit (ulimit -v)",
        });
        check_fits_in("x", 1_000, budget).unwrap();
        let err = check_fits_in("100000000000 samples (--n)", 800_000_000_000, budget)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("100000000000 samples (--n) needs about 800.0 GB")
                && err.contains("16.0 GB")
                && err.contains("ulimit -v"),
            "{err}"
        );
        check_fits_in("x", u64::MAX, None).unwrap();
        assert_eq!(bytes_of(u64::MAX, 4), u64::MAX);
        assert_eq!(human_bytes(1_500_000_000), "1.5 GB");
        assert_eq!(human_bytes(12), "12 bytes");
    }
}
