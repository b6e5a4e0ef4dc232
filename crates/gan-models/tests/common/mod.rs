//! Helpers shared by the reference tests: fixtures written by the PyTorch scripts in
//! `scripts/`, strict loading of their weights into var stores, and comparisons.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use tch::{nn, Tensor};

/// The tensors of `tests/fixtures/<name>`, by name.
pub fn fixture(name: &str) -> BTreeMap<String, Tensor> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    Tensor::read_safetensors(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .collect()
}

/// Copies `prefix.*` tensors of the fixture into `vs`, asserting that names and shapes match
/// exactly in both directions (the networks are the same layer for layer).
pub fn load(vs: &nn::VarStore, t: &BTreeMap<String, Tensor>, prefix: &str) {
    let ours = vs.variables();
    let theirs: BTreeMap<&str, &Tensor> = t
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k, v)))
        .collect();
    let mut our_names: Vec<&String> = ours.keys().collect();
    our_names.sort();
    let their_names: Vec<&&str> = theirs.keys().collect();
    assert_eq!(
        our_names.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        their_names.iter().map(|s| **s).collect::<Vec<_>>(),
        "variables of {prefix}*"
    );
    tch::no_grad(|| {
        for (name, var) in &ours {
            let src = theirs[name.as_str()];
            assert_eq!(var.size(), src.size(), "{name}");
            var.shallow_clone().copy_(src);
        }
    });
}

/// The largest absolute difference between two tensors of the same shape.
pub fn max_diff(ours: &Tensor, theirs: &Tensor, what: &str) -> f64 {
    assert_eq!(ours.size(), theirs.size(), "{what}");
    (ours - theirs).abs().max().double_value(&[])
}

/// Asserts `ours` is within 2e-5 of `theirs` everywhere; returns the largest difference.
pub fn assert_close(ours: &Tensor, theirs: &Tensor, what: &str) -> f64 {
    let diff = max_diff(ours, theirs, what);
    assert!(diff < 2e-5, "{what}: max |diff| = {diff}");
    diff
}
