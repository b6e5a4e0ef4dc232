//! `cargo xtask data fashion-mnist|mnist|cifar10|facades|horse2zebra`: puts a data set where `gan train` looks
//! (`$GAN_DATA_DIR/<name>`, else `<root>/data/<name>`).
//!
//! Fashion-MNIST comes from the Debian/Ubuntu package `dataset-fashion-mnist` when it is
//! installed (`/usr/share/datasets/fashion-mnist`; the package recompresses the files, so
//! their MD5 differs from upstream's, and they are copied as they are). Otherwise every data
//! set is downloaded from its canonical source with `curl` and checked against the MD5 that
//! torchvision uses; where nothing can be downloaded, the error says which files to place by
//! hand and where.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use md5::{Digest, Md5};

use crate::libtorch::project_root;

/// The data sets `gan` reads.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Name {
    /// Fashion-MNIST (Xiao et al. 2017), 70k 28x28 grey images, 10 classes.
    FashionMnist,
    /// MNIST, 70k 28x28 grey digits.
    Mnist,
    /// CIFAR-10 (binary version), 60k 32x32 RGB images, 10 classes.
    Cifar10,
    /// pix2pix's facades (CMP Facade Database, Tylecek & Sara 2013): 400 train, 100 val and
    /// 106 test pairs, 256x256 label map | photo side by side.
    Facades,
    /// CycleGAN's horse2zebra (ImageNet photos, Zhu et al. 2017): trainA/ 1067 horses,
    /// trainB/ 1334 zebras, testA/ 120, testB/ 140, 256x256 JPEGs.
    Horse2zebra,
}

#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// Which data set.
    #[arg(value_enum)]
    name: Name,
    /// Data root (default: $GAN_DATA_DIR, else <project>/data); the set goes into <root>/<name>.
    #[arg(long)]
    root: Option<PathBuf>,
}

const FASHION_URL: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
const MNIST_URL: &str = "https://ossci-datasets.s3.amazonaws.com/mnist/";
const CIFAR_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
const CIFAR_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
const FACADES_URL: &str = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz";
/// Pairs per split of the official archive (no checksum is published; the counts are checked).
const FACADES_SPLITS: [(&str, usize); 3] = [("train", 400), ("val", 100), ("test", 106)];
const HORSE2ZEBRA_URL: &str =
    "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip";
/// Images per domain folder of the official archive (no checksum is published).
const HORSE2ZEBRA_SPLITS: [(&str, usize); 4] = [
    ("trainA", 1067),
    ("trainB", 1334),
    ("testA", 120),
    ("testB", 140),
];
const DEBIAN_FASHION: &str = "/usr/share/datasets/fashion-mnist";

const FASHION_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "25c81989df183df01b3e8a0aad5dffbe",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "bef4ecab320f06d8554ea6380940ec79",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
];
const MNIST_FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ),
    (
        "train-labels-idx1-ubyte.gz",
        "d53e105ee54ea40749a09fcbcd1e9432",
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        "9fb629c4189551a2d022fa330f9573f3",
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
];
const CIFAR_FILES: [&str; 7] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
    "batches.meta.txt",
];

fn folder_name(name: Name) -> &'static str {
    match name {
        Name::FashionMnist => "fashion-mnist",
        Name::Mnist => "mnist",
        Name::Cifar10 => "cifar10",
        Name::Facades => "facades",
        Name::Horse2zebra => "horse2zebra",
    }
}

/// MD5 of a file, hex.
pub fn md5_file(path: &Path) -> Result<String> {
    hash_file::<Md5>(path)
}

/// A digest (MD5, SHA-256, ...) of a file, hex, read 1 MiB at a time.
pub fn hash_file<D: Digest>(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = D::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Downloads `url` to `dest` (through a temporary file) and checks its MD5.
fn download(url: &str, dest: &Path, md5: &str) -> Result<()> {
    if dest.exists() && md5_file(dest)? == md5 {
        eprintln!("  {} already present (MD5 ok)", dest.display());
        return Ok(());
    }
    let tmp = dest.with_extension("part");
    eprintln!("  downloading {url}");
    curl(url, &tmp, false)?;
    let got = md5_file(&tmp)?;
    if got != md5 {
        let _ = fs::remove_file(&tmp);
        bail!("{url}: MD5 {got}, expected {md5}; the download is corrupt or not the official file");
    }
    fs::rename(&tmp, dest).with_context(|| format!("cannot move into {}", dest.display()))
}

/// Downloads `url` into `dest` with curl (2 retries, 20 s connect timeout; a progress bar
/// with `progress`); on failure the partial file is removed and the error names the URL.
pub fn curl(url: &str, dest: &Path, progress: bool) -> Result<()> {
    let status = Command::new("curl")
        .args([if progress { "-fSL" } else { "-fsSL" }])
        .args(progress.then_some("--progress-bar"))
        .args(["--retry", "2", "--connect-timeout", "20", "-o"])
        .arg(dest)
        .arg(url)
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => {
            let _ = fs::remove_file(dest);
            bail!("curl could not download {url} ({s})")
        }
        Err(e) => bail!("cannot run curl to download {url}: {e}"),
    }
}

fn by_hand(name: Name, dir: &Path, err: anyhow::Error) -> anyhow::Error {
    let files = match name {
        Name::FashionMnist => FASHION_FILES
            .iter()
            .map(|(f, m)| format!("    {f}  (MD5 {m}) from {FASHION_URL}{f}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Name::Mnist => MNIST_FILES
            .iter()
            .map(|(f, m)| format!("    {f}  (MD5 {m}) from {MNIST_URL}{f}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Name::Facades => format!(
            "    the contents of facades.tar.gz from {FACADES_URL}: {}",
            FACADES_SPLITS
                .iter()
                .map(|(s, n)| format!("{s}/ ({n} .jpg pairs)"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Name::Horse2zebra => format!(
            "    the contents of horse2zebra/ in horse2zebra.zip from {HORSE2ZEBRA_URL}: {}",
            HORSE2ZEBRA_SPLITS
                .iter()
                .map(|(s, n)| format!("{s}/ ({n} .jpg images)"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Name::Cifar10 => format!(
            "    the contents of cifar-10-batches-bin/ ({}) from {CIFAR_URL} (MD5 {CIFAR_MD5})",
            CIFAR_FILES.join(", ")
        ),
    };
    let extra = if name == Name::FashionMnist {
        "\nor install the Debian/Ubuntu package: apt-get install dataset-fashion-mnist"
    } else {
        ""
    };
    err.context(format!(
        "cannot fetch {}. Place these files by hand in {}:\n{files}{extra}",
        folder_name(name),
        dir.display()
    ))
}

pub fn handle_command(args: DataArgs) -> Result<()> {
    let root = args
        .root
        .clone()
        .or_else(|| std::env::var_os("GAN_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| project_root().join("data"));
    let dir = root.join(folder_name(args.name));
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!("{} -> {}", folder_name(args.name), dir.display());
    let result = match args.name {
        Name::FashionMnist if Path::new(DEBIAN_FASHION).is_dir() => copy_debian(&dir),
        Name::FashionMnist => idx_set(FASHION_URL, &FASHION_FILES, &dir),
        Name::Mnist => idx_set(MNIST_URL, &MNIST_FILES, &dir),
        Name::Cifar10 => cifar(&dir),
        Name::Facades => facades(&dir),
        Name::Horse2zebra => horse2zebra(&dir),
    };
    result.map_err(|e| by_hand(args.name, &dir, e))?;
    eprintln!("ready: {}", dir.display());
    Ok(())
}

fn copy_debian(dir: &Path) -> Result<()> {
    eprintln!("  copying from the Debian package (dataset-fashion-mnist) in {DEBIAN_FASHION}");
    for (file, _) in FASHION_FILES {
        let src = Path::new(DEBIAN_FASHION).join(file);
        let dest = dir.join(file);
        if !src.exists() {
            bail!("{} is missing from the package", src.display());
        }
        fs::copy(&src, &dest)
            .with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
    }
    Ok(())
}

fn idx_set(base: &str, files: &[(&str, &str)], dir: &Path) -> Result<()> {
    for (file, md5) in files {
        download(&format!("{base}{file}"), &dir.join(file), md5)?;
    }
    Ok(())
}

fn cifar(dir: &Path) -> Result<()> {
    if CIFAR_FILES.iter().all(|f| dir.join(f).exists()) {
        eprintln!("  already present");
        return Ok(());
    }
    let archive = dir.join("cifar-10-binary.tar.gz");
    download(CIFAR_URL, &archive, CIFAR_MD5)?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .arg("--strip-components=1")
        .status()
        .context("cannot run tar")?;
    if !status.success() {
        bail!("tar could not unpack {} ({status})", archive.display());
    }
    if let Err(e) = fs::remove_file(&archive) {
        eprintln!("  note: could not remove {}: {e}", archive.display());
    }
    Ok(())
}

/// `.jpg` files directly in `dir` (0 when it does not exist).
fn count_jpgs(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "jpg"))
            .count()
    })
}

fn horse2zebra(dir: &Path) -> Result<()> {
    let complete = |dir: &Path| {
        HORSE2ZEBRA_SPLITS
            .iter()
            .all(|(split, n)| count_jpgs(&dir.join(split)) == *n)
    };
    if complete(dir) {
        eprintln!("  already present");
        return Ok(());
    }
    let archive = dir.join("horse2zebra.zip.part");
    eprintln!("  downloading {HORSE2ZEBRA_URL}");
    curl(HORSE2ZEBRA_URL, &archive, true)?;
    // The archive's top folder is `horse2zebra/`: unpack beside `dir`, into it.
    let parent = dir.parent().unwrap_or(dir);
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&archive)
        .arg(parent)
        .status()
        .context("cannot run python3 -m zipfile")?;
    let _ = fs::remove_file(&archive);
    if !status.success() {
        bail!("python3 -m zipfile could not unpack the horse2zebra archive ({status})");
    }
    if !complete(dir) {
        let found: Vec<String> = HORSE2ZEBRA_SPLITS
            .iter()
            .map(|(s, n)| format!("{s}/: {} of {n}", count_jpgs(&dir.join(s))))
            .collect();
        bail!(
            "the archive from {HORSE2ZEBRA_URL} does not hold the expected images ({})",
            found.join(", ")
        );
    }
    Ok(())
}

fn facades(dir: &Path) -> Result<()> {
    let complete = |dir: &Path| {
        FACADES_SPLITS
            .iter()
            .all(|(split, n)| count_jpgs(&dir.join(split)) == *n)
    };
    if complete(dir) {
        eprintln!("  already present");
        return Ok(());
    }
    let archive = dir.join("facades.tar.gz.part");
    eprintln!("  downloading {FACADES_URL}");
    curl(FACADES_URL, &archive, true)?;
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .arg("--strip-components=1")
        .status()
        .context("cannot run tar")?;
    let _ = fs::remove_file(&archive);
    if !status.success() {
        bail!("tar could not unpack the facades archive ({status})");
    }
    if !complete(dir) {
        let found: Vec<String> = FACADES_SPLITS
            .iter()
            .map(|(s, n)| format!("{s}/: {} of {n}", count_jpgs(&dir.join(s))))
            .collect();
        bail!(
            "the archive from {FACADES_URL} does not hold the expected pairs ({})",
            found.join(", ")
        );
    }
    Ok(())
}
