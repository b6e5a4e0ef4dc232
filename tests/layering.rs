//! Workspace invariants, read from `cargo metadata` and the sources:
//! * crates depend only down the stack (gan-tensor <- {gan-models, gan-losses, gan-data}
//!   <- gan-eval (models and data only) <- gan-train <- gan-cli), for every kind of dependency;
//! * gan-losses stands alone (no internal dependency), so other projects can use it;
//! * tch is pinned once (`=0.24.0`, libtorch 2.11.0) and anyhow/clap stay in binaries;
//! * every crate root starts with a `//!` summary.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Internal crates each crate may depend on.
fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let set = |v: &[&'static str]| v.iter().copied().collect::<BTreeSet<_>>();
    BTreeMap::from([
        ("gan-tensor", set(&[])),
        ("gan-losses", set(&[])),
        ("gan-models", set(&["gan-tensor"])),
        ("gan-data", set(&["gan-tensor"])),
        ("gan-eval", set(&["gan-tensor", "gan-models", "gan-data"])),
        (
            "gan-train",
            set(&[
                "gan-tensor",
                "gan-models",
                "gan-losses",
                "gan-data",
                "gan-eval",
            ]),
        ),
        (
            "gan-cli",
            set(&[
                "gan-tensor",
                "gan-models",
                "gan-losses",
                "gan-data",
                "gan-eval",
                "gan-train",
            ]),
        ),
        ("xtask", set(&[])),
    ])
}

#[test]
fn dependencies_point_down_the_stack() {
    let meta = metadata();
    let allowed = allowed();
    let mut seen = BTreeSet::new();
    let mut violations = Vec::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        seen.insert(name.to_string());
        let Some(ok) = allowed.get(name) else {
            violations.push(format!("{name}: a workspace crate missing from the layering table (add it to tests/layering.rs and ARCHITECTURE.md)"));
            continue;
        };
        for dep in pkg["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if allowed.contains_key(dep_name) && !ok.contains(dep_name) {
                let kind = dep["kind"].as_str().unwrap_or("normal");
                violations.push(format!(
                    "{name} -> {dep_name} ({kind} dependency) breaks the layering"
                ));
            }
            if dep_name == "tch" {
                let req = dep["req"].as_str().unwrap();
                if req != "=0.24.0" {
                    violations.push(format!(
                        "{name}: tch requirement {req}, expected the workspace pin =0.24.0"
                    ));
                }
            }
            let binary = name == "gan-cli" || name == "xtask";
            if (dep_name == "anyhow" || dep_name == "clap") && !binary && dep["kind"].is_null() {
                violations.push(format!("{name}: library crates return thiserror errors; {dep_name} belongs to binaries"));
            }
        }
    }
    for name in allowed.keys() {
        assert!(
            seen.contains(*name),
            "{name} is in the layering table but not in the workspace"
        );
    }
    assert!(
        violations.is_empty(),
        "layering violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn every_crate_root_has_a_summary() {
    let meta = metadata();
    for pkg in meta["packages"].as_array().unwrap() {
        for target in pkg["targets"].as_array().unwrap() {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            if !(kinds.contains(&"lib") || kinds.contains(&"bin")) {
                continue;
            }
            let src = target["src_path"].as_str().unwrap();
            let text = std::fs::read_to_string(src).unwrap();
            assert!(
                text.trim_start().starts_with("//!"),
                "{src} must start with a `//!` summary"
            );
        }
    }
}
