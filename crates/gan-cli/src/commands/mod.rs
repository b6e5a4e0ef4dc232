//! One file per subcommand, each with `Args` and `handle_command`.
pub mod bench;
pub mod classifier;
pub mod doctor;
pub mod eval;
pub mod eval_images;
pub mod interpolate;
pub mod sample;
pub mod train;
pub mod translate;
