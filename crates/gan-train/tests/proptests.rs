//! Property tests of the fault suite: config text and checkpoint bytes from outside never
//! panic, and every failure is an error that says where.
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{run, tiny};
use gan_train::{checkpoint, plan::Plan, Error, TrainConfig, Trainer};
use proptest::prelude::*;

const PRESET: &str = include_str!("../../../configs/ring.toml");

/// Values of every type and of absurd sizes, as TOML text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        prop_oneof![Just(0i64), Just(-1), Just(1), Just(65536), Just(1 << 40)]
            .prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        prop_oneof![
            Just("nan"),
            Just("inf"),
            Just("-inf"),
            Just("1e308"),
            Just("-0.0")
        ]
        .prop_map(str::to_string),
        "[a-z-]{0,12}".prop_map(|s| format!("{s:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        prop::collection::vec(0i64..10, 0..4).prop_map(|v| format!("{v:?}")),
        Just("{ a = 1 }".to_string()),
        Just("\"\\u0000\"".to_string()),
    ]
}

/// The error names a line of the file (or says the key is at its default).
fn assert_placed(err: &Error, text: &str) {
    let lines = text.lines().count() + 1;
    match err {
        Error::ConfigParse {
            line, key, path, ..
        } => {
            assert!(*line >= 1 && *line <= lines, "{err}");
            assert_eq!(path, Path::new("fuzz.toml"));
            if let Some(key) = key {
                let last = key.rsplit('.').next().unwrap();
                assert!(text.contains(last), "`{key}` is not in the text: {err}");
            }
        }
        Error::ConfigValue { place, path, .. } => {
            assert_eq!(path, Path::new("fuzz.toml"));
            if let Some((line, _)) = place {
                assert!(*line >= 1 && *line <= lines, "{err}");
            }
        }
        // Rules that span several keys and data errors carry their own message.
        _ => assert!(!err.to_string().is_empty()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text: an error (or a config), never a panic.
    #[test]
    fn arbitrary_config_text_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = TrainConfig::from_toml_str(&text, Path::new("fuzz.toml")) {
            assert_placed(&e, &text);
        }
    }

    /// The shipped preset with one value replaced by anything: a config that resolves into a
    /// plan, or an error that names a line of the file.
    #[test]
    fn one_bad_value_in_a_preset_is_placed(line in 0usize..200, v in value()) {
        let lines: Vec<&str> = PRESET.lines().collect();
        let i = line % lines.len();
        let Some((key, _)) = lines[i].split_once(" = ") else {
            return Ok(());
        };
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited[i] = format!("{key} = {v}");
        let text = edited.join("\n");
        match TrainConfig::from_toml_str(&text, Path::new("fuzz.toml")) {
            Ok(cfg) => {
                // Resolving what the config asks for never panics either.
                let _ = Plan::resolve(&cfg);
            }
            Err(e) => assert_placed(&e, &text),
        }
    }
}

/// One real checkpoint of a tiny run, made once for every case.
fn original() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let _rng = common::torch_rng_lock();
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::create(tiny(10), dir.path().join("run")).unwrap();
        run(&mut t, None);
        let ckpt = dir
            .path()
            .join("run/checkpoints")
            .join(checkpoint::dir_name(10));
        checkpoint::load(&ckpt).expect("the original loads");
        (dir, ckpt)
    })
    .1
}

/// A copy of the original checkpoint, as `step-000000010` in a fresh folder.
fn copy(into: &Path) -> PathBuf {
    let to = into.join(checkpoint::dir_name(10));
    fs::create_dir_all(&to).unwrap();
    for e in fs::read_dir(original()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

#[derive(Debug, Clone)]
enum Damage {
    /// XOR these (position, mask) pairs into the tensor file.
    Flip(Vec<(usize, u8)>),
    /// Keep only this fraction of the tensor file.
    Truncate(f64),
    /// Replace the tensor file with these bytes.
    Replace(Vec<u8>),
    /// Replace meta.json with these bytes.
    Meta(Vec<u8>),
    /// Make meta.json a format-1 record (no checksums), so that the bytes below reach the
    /// safetensors reader itself: a header of this JSON, then these data bytes.
    LegacyWith(String, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    let header = (
        prop_oneof![
            Just("F32"),
            Just("F64"),
            Just("I64"),
            Just("U8"),
            Just("BOGUS")
        ],
        prop::collection::vec(
            prop_oneof![0u64..5, Just(u64::MAX / 2), Just(1 << 40)],
            0..4,
        ),
        0u64..64,
        0u64..64,
    )
        .prop_map(|(dtype, shape, a, b)| {
            format!(r#"{{"w":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[{a},{b}]}}}}"#)
        });
    prop_oneof![
        prop::collection::vec((any::<usize>(), 1u8..=255), 1..8).prop_map(Damage::Flip),
        (0.0f64..1.0).prop_map(Damage::Truncate),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(Damage::Replace),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(Damage::Meta),
        (header, prop::collection::vec(any::<u8>(), 0..80))
            .prop_map(|(h, d)| Damage::LegacyWith(h, d)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Damaged checkpoint bytes are always an error that names the checkpoint, never a panic
    /// and never a checkpoint that loads.
    #[test]
    fn damaged_checkpoints_are_errors_never_panics(d in damage()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = copy(tmp.path());
        let state = dir.join(checkpoint::STATE_FILE);
        let meta = dir.join(checkpoint::META_FILE);
        match &d {
            Damage::Flip(flips) => {
                let before = fs::read(&state).unwrap();
                let mut b = before.clone();
                let n = b.len();
                for (at, mask) in flips {
                    b[at % n] ^= mask;
                }
                if b == before {
                    // Flips that cancelled out: nothing was damaged.
                    return Ok(());
                }
                fs::write(&state, b).unwrap();
            }
            Damage::Truncate(f) => {
                let b = fs::read(&state).unwrap();
                fs::write(&state, &b[..(b.len() as f64 * f) as usize]).unwrap();
            }
            Damage::Replace(bytes) => fs::write(&state, bytes).unwrap(),
            Damage::Meta(bytes) => fs::write(&meta, bytes).unwrap(),
            Damage::LegacyWith(header, data) => {
                fs::write(&meta, r#"{"format_version":1,"step":10,"seed":7,"tensors":1}"#)
                    .unwrap();
                let mut b = (header.len() as u64).to_le_bytes().to_vec();
                b.extend_from_slice(header.as_bytes());
                b.extend_from_slice(data);
                fs::write(&state, b).unwrap();
            }
        }
        match checkpoint::load(&dir) {
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.contains(&dir.display().to_string()), "{text}");
            }
            Ok(loaded) => {
                // Only a legacy record with a well-formed single tensor can load; the model's
                // layout check then refuses it (one tensor `w`, not the model's).
                prop_assert!(matches!(d, Damage::LegacyWith(..)), "{d:?} loaded");
                prop_assert!(!loaded.verified);
                prop_assert_eq!(loaded.tensors.len(), 1);
            }
        }
        // Verification alone (what resume's scan runs) agrees wherever checksums are kept.
        if !matches!(d, Damage::LegacyWith(..)) {
            prop_assert!(checkpoint::verify(&dir).is_err());
        }
    }
}
