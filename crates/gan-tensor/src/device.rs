use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Cuda, Device};

use crate::{Error, Result};

/// Which device to run on, as a user writes it: `auto`, `cpu`, `cuda` or `cuda:N`.
///
/// `auto` picks the first CUDA device when one is visible, else the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// CUDA device 0 when available, else the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// A CUDA device (`None`: device 0).
    Cuda(Option<usize>),
}

impl DeviceSpec {
    /// Resolves to a tch device, failing when CUDA is requested and absent.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Auto => Ok(if Cuda::is_available() {
                Device::Cuda(0)
            } else {
                Device::Cpu
            }),
            DeviceSpec::Cuda(index) => {
                let count = Cuda::device_count().max(0) as usize;
                if !Cuda::is_available() || count == 0 {
                    let reason = if tch::utils::has_cuda() {
                        "libtorch was built with CUDA but finds no GPU or driver".to_string()
                    } else {
                        "this libtorch has no CUDA support, or libtorch_cuda was not linked"
                            .to_string()
                    };
                    return Err(Error::CudaUnavailable {
                        requested: self.to_string(),
                        reason,
                    });
                }
                let index = index.unwrap_or(0);
                if index >= count {
                    return Err(Error::CudaIndex { index, count });
                }
                Ok(Device::Cuda(index))
            }
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(None) => f.write_str("cuda"),
            DeviceSpec::Cuda(Some(i)) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(None)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .map(|n| DeviceSpec::Cuda(Some(n)))
                .ok_or_else(|| Error::InvalidDevice(s.to_string())),
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_form() {
        for s in ["auto", "cpu", "cuda", "cuda:0", "cuda:3"] {
            assert_eq!(s.parse::<DeviceSpec>().unwrap().to_string(), s);
        }
        for bad in ["gpu", "cuda:", "cuda:-1", "cuda:x", ""] {
            let err = bad.parse::<DeviceSpec>().unwrap_err();
            assert!(err.to_string().contains("invalid device"), "{err}");
        }
    }

    #[test]
    fn cpu_and_auto_always_resolve() {
        assert_eq!(DeviceSpec::Cpu.resolve().unwrap(), Device::Cpu);
        let auto = DeviceSpec::Auto.resolve().unwrap();
        assert_eq!(auto.is_cuda(), Cuda::is_available());
    }

    #[test]
    fn cuda_without_gpu_is_a_clear_error() {
        if Cuda::is_available() {
            // On a GPU machine: an out-of-range ordinal must still fail.
            let err = DeviceSpec::Cuda(Some(1000)).resolve().unwrap_err();
            assert!(matches!(err, Error::CudaIndex { index: 1000, .. }));
        } else {
            let err = DeviceSpec::Cuda(None).resolve().unwrap_err();
            assert!(err.to_string().contains("CUDA is not available"), "{err}");
        }
    }
}
