//! One file per subcommand, each with `Args` and `handle_command`.
pub mod bench;
pub mod classifier;
pub mod completions;
pub mod configs;
pub mod doctor;
pub mod eval;
pub mod eval_images;
pub mod interpolate;
pub mod sample;
pub mod train;
pub mod translate;

/// Says which newer checkpoints were passed over because they failed verification.
pub fn warn_rejected(rejected: &[gan_train::checkpoint::Rejected]) {
    for r in rejected {
        eprintln!(
            "warning: skipped checkpoint {}: {}{}",
            r.path.display(),
            r.reason,
            r.moved_to
                .as_ref()
                .map(|p| format!(" (moved to {}, kept for inspection)", p.display()))
                .unwrap_or_default()
        );
    }
}
