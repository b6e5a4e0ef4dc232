use serde::Serialize;
use tch::Cuda;

/// What libtorch reports about this process (`gan doctor`).
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    /// libtorch version found at build time (`build-version` or the wheel's `version.py`).
    pub libtorch_version: String,
    /// Where libtorch was at build time (the binary's rpath points there).
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

impl RuntimeInfo {
    /// Queries libtorch.
    pub fn query() -> Self {
        let cuda_available = Cuda::is_available();
        RuntimeInfo {
            libtorch_version: env!("GAN_LIBTORCH_VERSION").to_string(),
            libtorch_dir: env!("GAN_LIBTORCH_DIR").to_string(),
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
