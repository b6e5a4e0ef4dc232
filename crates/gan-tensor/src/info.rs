use serde::Serialize;
use tch::Cuda;

/// What libtorch reports about this process (`gan doctor`).
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    /// libtorch version found at build time (`build-version` or the wheel's `version.py`).
    pub libtorch_version: String,
    /// The folder the running process loaded libtorch from (read from `/proc/self/maps`;
    /// where it was at build time when that cannot be read).
    pub libtorch_dir: String,
    /// libtorch was built with CUDA and `libtorch_cuda` is linked.
    pub cuda_built: bool,
    /// A CUDA device is usable now.
    pub cuda_available: bool,
    /// cuDNN is usable.
    pub cudnn_available: bool,
    /// Number of CUDA devices.
    pub cuda_device_count: i64,
    /// cuDNN version (0 without CUDA).
    pub cudnn_version: i64,
    /// Intra-op CPU threads.
    pub threads: i32,
    /// MKL is available.
    pub mkl: bool,
    /// OpenMP is available.
    pub openmp: bool,
}

/// The folder of the `libtorch_cpu.so` mapped into this process (Linux).
fn loaded_libtorch_dir() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let lib = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))?;
    let dir = std::path::Path::new(lib).parent()?;
    Some(dir.display().to_string())
}

impl RuntimeInfo {
    /// Queries libtorch.
    pub fn query() -> Self {
        let cuda_available = Cuda::is_available();
        RuntimeInfo {
            libtorch_version: env!("GAN_LIBTORCH_VERSION").to_string(),
            libtorch_dir: loaded_libtorch_dir().unwrap_or_else(|| env!("GAN_LIBTORCH_DIR").into()),
            cuda_built: tch::utils::has_cuda(),
            cuda_available,
            cudnn_available: Cuda::cudnn_is_available(),
            cuda_device_count: Cuda::device_count(),
            cudnn_version: if cuda_available {
                tch::utils::version_cudnn()
            } else {
                0
            },
            threads: tch::get_num_threads(),
            mkl: tch::utils::has_mkl(),
            openmp: tch::utils::has_openmp(),
        }
    }
}
