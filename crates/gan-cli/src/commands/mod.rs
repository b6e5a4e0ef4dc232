//! One file per subcommand, each with `Args` and `handle_command`.
pub mod bench;
pub mod doctor;
pub mod eval;
pub mod sample;
pub mod train;
