//! Every shipped config parses and validates.
#[test]
fn shipped_configs_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            gan_train::TrainConfig::from_toml_file(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 2, "expected the shipped configs in {}", dir.display());
}

/// `[data] classes` and `subset` on Fashion-MNIST: the fine-tuning experiment's selection
/// (sandals and bags, 100 of each), and the test split the scores use (the same classes,
/// no subset). Skipped visibly without the data.
#[test]
fn classes_and_a_balanced_subset_select_the_training_images() {
    use std::io::Write;
    let text = "[data]\nkind = 'fashion-mnist'\npad = 2\nclasses = [5, 8]\nsubset = 200\n";
    let cfg = gan_train::TrainConfig::from_toml_str(text, std::path::Path::new("t.toml")).unwrap();
    let train = match gan_train::load_images(&cfg.data) {
        Ok(ds) => ds,
        Err(gan_train::Error::DataNotFound { .. }) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIP classes_and_a_balanced_subset_select_the_training_images: no Fashion-MNIST \
                 (cargo xtask data fashion-mnist)"
            );
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(train.len(), 200);
    assert_eq!(train.class_counts(), vec![100, 100]);
    assert_eq!(train.class_names, vec!["Sandal", "Bag"]);
    assert_eq!((train.height, train.width), (32, 32));
    let test =
        gan_train::load_images(&cfg.data.with_split(gan_data::Split::Test).unwrap()).unwrap();
    assert_eq!(test.class_counts(), vec![1000, 1000]);
    // The subset is a function of subset_seed alone.
    let again = gan_train::load_images(&cfg.data).unwrap();
    assert_eq!(again.images, train.images);
    let bad = "[data]\nkind = 'fashion-mnist'\nclasses = [5, 8]\nsubset = 20000\n";
    let cfg = gan_train::TrainConfig::from_toml_str(bad, std::path::Path::new("t.toml")).unwrap();
    let err = gan_train::load_images(&cfg.data).unwrap_err().to_string();
    assert!(err.contains("data.subset"), "{err}");
}
