//! One file per subcommand, each with `Args` and `handle_command`.
pub mod bench;
pub mod classifier;
pub mod completions;
pub mod configs;
pub mod doctor;
pub mod eval;
pub mod eval_images;
pub mod export;
pub mod interpolate;
pub mod mix;
pub mod report;
pub mod sample;
pub mod train;
pub mod translate;

/// Fails when `--out`'s folder does not exist, before any work is done for it.
pub fn check_out_dir(out: &std::path::Path) -> anyhow::Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    if !parent.is_dir() {
        anyhow::bail!(
            "--out {}: the folder {} does not exist",
            out.display(),
            parent.display()
        );
    }
    Ok(())
}

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
