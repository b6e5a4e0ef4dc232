//! The shipped presets (`configs/*.toml`), built into the binary: `gan train --config NAME`
//! and `gan configs`.

use std::path::Path;

/// Every file of `configs/`, by name (a test keeps the list in step with the folder).
pub const PRESETS: &[(&str, &str)] = &[
    ("bench-2d", include_str!("../../../configs/bench-2d.toml")),
    (
        "bench-cyclegan32",
        include_str!("../../../configs/bench-cyclegan32.toml"),
    ),
    (
        "bench-dcgan32",
        include_str!("../../../configs/bench-dcgan32.toml"),
    ),
    (
        "bench-dcgan64",
        include_str!("../../../configs/bench-dcgan64.toml"),
    ),
    (
        "bench-pix2pix32",
        include_str!("../../../configs/bench-pix2pix32.toml"),
    ),
    (
        "bench-stylegan2-32",
        include_str!("../../../configs/bench-stylegan2-32.toml"),
    ),
    (
        "cgan-fashion-mnist",
        include_str!("../../../configs/cgan-fashion-mnist.toml"),
    ),
    (
        "cyclegan-horse2zebra",
        include_str!("../../../configs/cyclegan-horse2zebra.toml"),
    ),
    (
        "cyclegan-hot-fashion-mnist",
        include_str!("../../../configs/cyclegan-hot-fashion-mnist.toml"),
    ),
    (
        "dcgan-fashion-mnist",
        include_str!("../../../configs/dcgan-fashion-mnist.toml"),
    ),
    (
        "dcgan-stacked-fashion-mnist",
        include_str!("../../../configs/dcgan-stacked-fashion-mnist.toml"),
    ),
    (
        "dcgan64-folder",
        include_str!("../../../configs/dcgan64-folder.toml"),
    ),
    ("grid", include_str!("../../../configs/grid.toml")),
    (
        "pix2pix-edges-fashion-mnist",
        include_str!("../../../configs/pix2pix-edges-fashion-mnist.toml"),
    ),
    (
        "pix2pix-facades",
        include_str!("../../../configs/pix2pix-facades.toml"),
    ),
    ("ring", include_str!("../../../configs/ring.toml")),
    (
        "sngan-cifar10",
        include_str!("../../../configs/sngan-cifar10.toml"),
    ),
    (
        "stylegan2-fashion-mnist",
        include_str!("../../../configs/stylegan2-fashion-mnist.toml"),
    ),
    (
        "stylegan2-folder-256",
        include_str!("../../../configs/stylegan2-folder-256.toml"),
    ),
];

/// The preset called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static str> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// A preset's one-line description: the first sentence of its leading comment (not ended by
/// "et al." or "e.g."), cut at a clause boundary or a word when it is longer than a line.
pub fn summary(text: &str) -> String {
    const MAX: usize = 100;
    let comment: Vec<&str> = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    let joined = comment.join(" ").replace("- ", "-");
    let ends_sentence = |i: usize| {
        let before = &joined[..i];
        let word = before.rsplit([' ', '(']).next().unwrap_or("");
        let next = joined[i + 1..].trim_start().chars().next();
        !matches!(word, "al" | "e.g" | "i.e" | "vs" | "cf")
            && word.chars().count() > 1
            && next.is_none_or(|c| c.is_uppercase() || c == '`')
    };
    let end = joined
        .match_indices('.')
        .map(|(i, _)| i)
        .find(|&i| {
            ends_sentence(i) && joined[i + 1..].starts_with([' ', '\n']) || i + 1 == joined.len()
        })
        .map_or(joined.len(), |i| i + 1);
    let sentence = joined[..end].trim();
    if sentence.chars().count() <= MAX {
        return sentence.to_string();
    }
    // Too long for a list: up to the first clause mark that keeps enough, else a word.
    let cut: String = sentence.chars().take(MAX).collect();
    let at = cut
        .rfind([':', ';'])
        .filter(|&i| i >= 30)
        .or_else(|| cut.rfind(' '))
        .unwrap_or(cut.len());
    format!("{}...", cut[..at].trim_end_matches([',', ' ', '(']))
}

/// Reads `--config ARG`: the file if there is one, else the preset of that name (`ring`,
/// `configs/ring.toml` or `ring.toml` on a machine without the file). An error names the file
/// and lists the presets.
pub fn load(arg: &Path) -> anyhow::Result<gan_train::TrainConfig> {
    if arg.exists() {
        return Ok(gan_train::TrainConfig::from_toml_file(arg)?);
    }
    let name = arg.to_str().unwrap_or("");
    let name = name.strip_suffix(".toml").unwrap_or(name);
    let name = name.strip_prefix("configs/").unwrap_or(name);
    match find(name) {
        Some(text) => {
            let origin = format!("configs/{name}.toml (the built-in preset)");
            Ok(gan_train::TrainConfig::from_toml_str(
                text,
                Path::new(&origin),
            )?)
        }
        None => {
            let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            let err = match gan_train::TrainConfig::from_toml_file(arg) {
                Ok(cfg) => return Ok(cfg), // it appeared meanwhile
                Err(e) => e,
            };
            Err(anyhow::Error::new(err).context(format!(
                "no config file {} and no preset of that name (presets: {}; `gan configs` \
                 describes them)",
                arg.display(),
                names.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_every_file_in_configs() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".toml").map(str::to_string)
            })
            .collect();
        on_disk.sort();
        let listed: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        assert_eq!(listed, on_disk, "add the new preset to PRESETS");
        for (name, text) in PRESETS {
            let file = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
            assert_eq!(*text, file);
            let s = summary(text);
            assert!(s.len() > 20 && !s.contains('#'), "{name}: {s}");
        }
    }

    #[test]
    fn summaries_are_the_first_sentence() {
        assert_eq!(
            summary("# A thing on 2 CPU cores. More here.\n# And here.\nname = 1\n"),
            "A thing on 2 CPU cores."
        );
        assert_eq!(
            summary("# CycleGAN (Zhu et al. 2017) on x, e.g. yes. Then more.\n"),
            "CycleGAN (Zhu et al. 2017) on x, e.g. yes."
        );
        let long = summary(&format!("# A preset: {}.\n", "word ".repeat(40)));
        assert!(long.len() <= 103 && long.ends_with("..."), "{long}");
        assert!(find("ring").is_some() && find("nope").is_none());
    }
}
