//! Image data sets on synthetic files written into a temporary folder, and on the real
//! Fashion-MNIST when it is installed.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use gan_data::{EpochBatcher, Error, FolderOptions, ImageDataset, Split};
use image::{GrayImage, Luma, Rgb, RgbImage};
use tch::{Device, Kind};
use tempfile::TempDir;

/// The message of an error and of all its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s += &format!(": {c}");
        cur = c.source();
    }
    s
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

/// 3 images of 2x4, pixel values 0..24, labels 2, 0, 1.
fn small_idx() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..24).collect();
    (idx_bytes(&[3, 2, 4], &pixels), idx_bytes(&[3], &[2, 0, 1]))
}

#[test]
fn idx_raw_and_gzipped_round_trip() {
    let dir = TempDir::new().unwrap();
    let (images, labels) = small_idx();
    let raw = ImageDataset::idx(
        write(&dir.path().join("img"), &images),
        write(&dir.path().join("lab"), &labels),
    )
    .unwrap();
    assert_eq!(
        (raw.len(), raw.channels, raw.height, raw.width),
        (3, 1, 2, 4)
    );
    assert_eq!(raw.images, (0..24).collect::<Vec<u8>>());
    assert_eq!(raw.labels, [2, 0, 1]);
    assert_eq!(raw.class_names, ["0", "1", "2"]);
    assert_eq!(raw.bytes(), 24 + 3 * 8);

    // Gzip is recognised by its magic bytes, not by the name.
    let gz = ImageDataset::idx(
        write(&dir.path().join("img.idx"), &gzip(&images)),
        write(&dir.path().join("lab.gz"), &gzip(&labels)),
    )
    .unwrap();
    assert_eq!((&gz.images, &gz.labels), (&raw.images, &raw.labels));

    let (x, y) = raw.to_tensors(Device::Cpu);
    assert_eq!((x.size(), x.kind()), (vec![3, 1, 2, 4], Kind::Uint8));
    assert_eq!((y.size(), y.kind()), (vec![3], Kind::Int64));
    assert_eq!(x.int64_value(&[2, 0, 1, 3]), 23);
}

#[test]
fn truncated_idx_names_the_file() {
    let dir = TempDir::new().unwrap();
    let (mut images, labels) = small_idx();
    images.truncate(images.len() - 5);
    let img = write(&dir.path().join("cut-images"), &images);
    let lab = write(&dir.path().join("labels"), &labels);
    let e = ImageDataset::idx(&img, &lab).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(msg.contains(&img.display().to_string()), "{msg}");
    assert!(
        msg.contains("truncated: expected 24 bytes of data for dimensions [3, 2, 4], found 19"),
        "{msg}"
    );

    // Corrupt gzip too.
    let mut bad_gz = gzip(&small_idx().0);
    bad_gz.truncate(bad_gz.len() - 4);
    let img = write(&dir.path().join("cut.gz"), &bad_gz);
    let msg = ImageDataset::idx(&img, &lab).unwrap_err().to_string();
    assert!(
        msg.contains("cut.gz") && msg.contains("corrupt gzip"),
        "{msg}"
    );

    // A missing file is an I/O error naming it.
    let e = ImageDataset::idx(dir.path().join("nope"), &lab).unwrap_err();
    assert!(
        matches!(e, Error::Io { .. }) && e.to_string().contains("nope"),
        "{e}"
    );
}

#[test]
fn idx_shapes_and_counts_are_checked() {
    let dir = TempDir::new().unwrap();
    let (images, _) = small_idx();
    let img = write(&dir.path().join("images"), &images);
    let two = write(&dir.path().join("two-labels"), &idx_bytes(&[2], &[0, 1]));
    let e = ImageDataset::idx(&img, &two).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Mismatch {
                n_images: 3,
                n_labels: 2,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&img.display().to_string()) && msg.contains(&two.display().to_string()),
        "{msg}"
    );

    let flat = write(&dir.path().join("flat"), &idx_bytes(&[3, 8], &[0; 24]));
    let e = ImageDataset::idx(&flat, &two).unwrap_err().to_string();
    assert!(
        e.contains("flat") && e.contains("expected 3-D images"),
        "{e}"
    );
    let e = ImageDataset::idx(&img, &img).unwrap_err().to_string();
    assert!(e.contains("expected 1-D labels"), "{e}");
}

#[test]
fn mnist_dir_finds_raw_or_gzipped_files() {
    let dir = TempDir::new().unwrap();
    let e = ImageDataset::mnist_dir(dir.path(), Split::Train).unwrap_err();
    let msg = e.to_string();
    for part in [
        "train-images-idx3-ubyte (or train-images-idx3-ubyte.gz)",
        "train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz)",
        "cargo xtask data fashion-mnist",
    ] {
        assert!(msg.contains(part), "{msg}");
    }
    let (images, labels) = small_idx();
    write(
        &dir.path().join("t10k-images-idx3-ubyte.gz"),
        &gzip(&images),
    );
    write(&dir.path().join("t10k-labels-idx1-ubyte"), &labels);
    let test = ImageDataset::mnist_dir(dir.path(), Split::Test).unwrap();
    assert_eq!(test.len(), 3);
    assert!(test.source.ends_with("(test)"), "{}", test.source);
}

/// One CIFAR record: `label`, then the planes filled with `r`, `g`, `b`.
fn cifar_record(label: u8, r: u8, g: u8, b: u8) -> Vec<u8> {
    let mut rec = vec![label];
    for v in [r, g, b] {
        rec.extend(std::iter::repeat_n(v, 1024));
    }
    rec
}

#[test]
fn cifar_batches_round_trip() {
    let dir = TempDir::new().unwrap();
    for k in 1..=5u8 {
        let mut bytes = cifar_record(k, k, 10 * k, 100 + k);
        bytes.extend(cifar_record(9, 0, 1, 2));
        write(&dir.path().join(format!("data_batch_{k}.bin")), &bytes);
    }
    let mut test = cifar_record(0, 255, 128, 0);
    // Pixel (row 31, column 31) of the blue plane: the record's last byte.
    *test.last_mut().unwrap() = 77;
    write(&dir.path().join("test_batch.bin"), &test);

    // No batches.meta.txt: the classes are "0".."9".
    let t = ImageDataset::cifar10_dir(dir.path(), Split::Test).unwrap();
    assert_eq!((t.len(), t.channels, t.height, t.width), (1, 3, 32, 32));
    assert_eq!(
        t.class_names,
        (0..10).map(|k| k.to_string()).collect::<Vec<_>>()
    );
    let (x, _) = t.to_tensors(Device::Cpu);
    assert_eq!(x.int64_value(&[0, 0, 5, 7]), 255);
    assert_eq!(x.int64_value(&[0, 1, 0, 0]), 128);
    assert_eq!(x.int64_value(&[0, 2, 31, 31]), 77);

    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    write(&dir.path().join("batches.meta.txt"), names.as_bytes());
    let train = ImageDataset::cifar10_dir(dir.path(), Split::Train).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!(train.labels, [1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    assert_eq!(train.class_names[9], "truck");
    assert_eq!(train.images[2 * 3072 + 1024], 20); // batch 2, first record, green
    assert_eq!(train.class_counts(), [0, 1, 1, 1, 1, 1, 0, 0, 0, 5]);
}

#[test]
fn cifar_errors_name_the_file() {
    let dir = TempDir::new().unwrap();
    let e = ImageDataset::cifar10_dir(dir.path(), Split::Test).unwrap_err();
    assert!(
        matches!(e, Error::MissingFiles { .. }) && e.to_string().contains("test_batch.bin"),
        "{e}"
    );

    let mut bytes = cifar_record(1, 0, 0, 0);
    bytes.push(0);
    let bad = write(&dir.path().join("test_batch.bin"), &bytes);
    let msg = ImageDataset::cifar10_dir(dir.path(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains(&bad.display().to_string()) && msg.contains("length 3074"),
        "{msg}"
    );

    let mut bytes = cifar_record(1, 0, 0, 0);
    bytes.extend(cifar_record(12, 0, 0, 0));
    write(&bad, &bytes);
    let msg = ImageDataset::cifar10_dir(dir.path(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("test_batch.bin") && msg.contains("record 1 has label 12"),
        "{msg}"
    );

    write(&dir.path().join("batches.meta.txt"), b"cat\ndog\n");
    let msg = ImageDataset::cifar10_dir(dir.path(), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("batches.meta.txt") && msg.contains("found 2"),
        "{msg}"
    );
}

fn save_rgb(path: &Path, img: &RgbImage) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
}

/// A labelled folder: cats/{a,b}.png, dogs/d.jpg, dogs/sub/c.PNG, of different sizes, and a
/// file that is not an image.
fn labelled_folder() -> TempDir {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    // 60x24 (W x H): red = 4 * column, green = row, blue = 9. Covers 40x24 at scale 1.
    let a = RgbImage::from_fn(60, 24, |x, y| Rgb([4 * x as u8, y as u8, 9]));
    save_rgb(&root.join("cats/a.png"), &a);
    // 80x48, left half black, right half 200: scale 0.5 -> 40x24, no crop.
    let b = RgbImage::from_fn(80, 48, |x, _| Rgb([if x < 40 { 0 } else { 200 }; 3]));
    save_rgb(&root.join("cats/b.png"), &b);
    save_rgb(
        &root.join("dogs/sub/c.PNG"),
        &RgbImage::from_pixel(7, 5, Rgb([10, 20, 30])),
    );
    save_rgb(
        &root.join("dogs/d.jpg"),
        &RgbImage::from_pixel(100, 100, Rgb([128, 128, 128])),
    );
    write(&root.join("dogs/notes.txt"), b"not an image");
    std::fs::create_dir_all(root.join("empty-class")).unwrap();
    dir
}

fn opts(height: usize, width: usize) -> FolderOptions {
    FolderOptions {
        height,
        width,
        ..FolderOptions::default()
    }
}

#[test]
fn folder_labels_order_and_size() {
    let dir = labelled_folder();
    let listing = gan_data::folder::list_images(dir.path()).unwrap();
    let rel: Vec<String> = listing
        .files
        .iter()
        .map(|(p, _)| {
            p.strip_prefix(dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        rel,
        ["cats/a.png", "cats/b.png", "dogs/d.jpg", "dogs/sub/c.PNG"]
    );

    let data = ImageDataset::folder(dir.path(), &opts(24, 40)).unwrap();
    assert_eq!(data.class_names, ["cats", "dogs"]);
    assert_eq!(data.labels, [0, 0, 1, 1]);
    assert_eq!((data.channels, data.height, data.width), (3, 24, 40));
    assert_eq!(data.images.len(), 4 * 3 * 24 * 40);
    assert!(data.skipped.is_empty());
    let plane = 24 * 40;
    let img =
        |i: usize, c: usize, y: usize, x: usize| data.images[(i * 3 + c) * plane + y * 40 + x];

    // a.png is only cropped: columns 10..50 of 60, every row.
    for y in 0..24 {
        for x in 0..40 {
            assert_eq!(img(0, 0, y, x), 4 * (x as u8 + 10), "red at ({x}, {y})");
            assert_eq!(img(0, 1, y, x), y as u8, "green at ({x}, {y})");
            assert_eq!(img(0, 2, y, x), 9);
        }
    }
    // b.png is halved: black on the left, 200 on the right, blended only near the middle.
    for y in 0..24 {
        for x in (0..18).chain(22..40) {
            let want = if x < 20 { 0 } else { 200 };
            assert_eq!(img(1, 1, y, x), want, "({x}, {y})");
        }
    }
    // c.PNG (7x5) is scaled up to cover 40x24; a flat colour stays flat.
    assert!((0..plane).all(|p| data.images[3 * 3 * plane + p] == 10));
    assert!((0..plane).all(|p| data.images[(3 * 3 + 2) * plane + p] == 30));

    let grey = ImageDataset::folder(
        dir.path(),
        &FolderOptions {
            channels: 1,
            ..opts(8, 8)
        },
    )
    .unwrap();
    assert_eq!((grey.channels, grey.images.len()), (1, 4 * 64));
}

#[test]
fn unlabelled_and_mixed_folders() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    for (i, name) in ["b.png", "a.png"].iter().enumerate() {
        GrayImage::from_pixel(4, 4, Luma([i as u8 * 100]))
            .save(root.join(name))
            .unwrap();
    }
    std::fs::create_dir_all(root.join("no-images")).unwrap();
    let data = ImageDataset::folder(
        root,
        &FolderOptions {
            channels: 1,
            ..opts(4, 4)
        },
    )
    .unwrap();
    assert_eq!(data.class_names, [""]);
    assert_eq!(data.labels, [0, 0]);
    assert_eq!(data.n_classes(), 1);
    assert_eq!(&data.images[..16], &[100; 16]); // a.png first
    assert_eq!(&data.images[16..], &[0; 16]);

    save_rgb(
        &root.join("class/x.png"),
        &RgbImage::from_pixel(4, 4, Rgb([1, 2, 3])),
    );
    let e = ImageDataset::folder(root, &opts(4, 4)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("mixed layout") && msg.contains("a.png") && msg.contains("class/"),
        "{msg}"
    );

    let empty = TempDir::new().unwrap();
    let e = ImageDataset::folder(empty.path(), &opts(4, 4)).unwrap_err();
    assert!(matches!(e, Error::NoImages { .. }), "{e}");
    let e = ImageDataset::folder(empty.path().join("missing"), &opts(4, 4)).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

#[test]
fn undecodable_images_fail_or_are_skipped() {
    let dir = labelled_folder();
    let bad = write(
        &dir.path().join("cats/broken.png"),
        b"\x89PNG\r\n\x1a\nnot really",
    );
    let e = ImageDataset::folder(dir.path(), &opts(8, 8)).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let msg = chain(&e);
    assert!(msg.contains(&bad.display().to_string()), "{msg}");
    assert!(
        msg.len() > e.to_string().len() + 5,
        "no decoder reason: {msg}"
    );

    let data = ImageDataset::folder(
        dir.path(),
        &FolderOptions {
            skip_bad: true,
            ..opts(8, 8)
        },
    )
    .unwrap();
    assert_eq!(data.len(), 4);
    assert_eq!(data.labels, [0, 0, 1, 1]);
    assert_eq!(data.skipped.len(), 1);
    assert_eq!(data.skipped[0].0, bad);
    // The images after the skipped one moved up: the first dog is the flat grey JPEG.
    let first_dog = &data.images[2 * 3 * 64..3 * 3 * 64];
    assert!(
        first_dog.iter().all(|&v| v.abs_diff(128) <= 2),
        "{first_dog:?}"
    );

    let only_bad = TempDir::new().unwrap();
    write(&only_bad.path().join("x.jpg"), b"garbage");
    let e = ImageDataset::folder(
        only_bad.path(),
        &FolderOptions {
            skip_bad: true,
            ..opts(8, 8)
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::NoImages { .. }) && e.to_string().contains("x.jpg"),
        "{e}"
    );
}

#[test]
fn epochs_are_permutations_minus_the_remainder() {
    let (n, batch) = (103, 10);
    let mut b = EpochBatcher::new(n, batch, 5).unwrap();
    assert_eq!(b.batches_per_epoch(), 10);
    let bpe = b.batches_per_epoch();
    let mut epochs = Vec::new();
    for epoch in 0..3 {
        let mut seen = Vec::new();
        for pos in 0..bpe {
            let idx = b.indices(epoch * bpe + pos);
            assert_eq!(idx.len(), batch);
            seen.extend(idx);
        }
        let set: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(set.len(), 100, "repeats within epoch {epoch}");
        assert!(set.iter().all(|i| (0..n as i64).contains(i)));
        assert_eq!(seen, b.permutation(epoch)[..100]);
        epochs.push(seen);
    }
    assert_ne!(epochs[0], epochs[1]);
    assert_ne!(epochs[1], epochs[2]);
    let other_seed = EpochBatcher::new(n, batch, 6).unwrap().permutation(0);
    assert_ne!(other_seed[..100], epochs[0]);
}

#[test]
fn resuming_gives_the_same_batches() {
    let mut running = EpochBatcher::new(37, 8, 11).unwrap();
    let run: Vec<Vec<i64>> = (0..30).map(|k| running.indices(k)).collect();
    for (k, batch) in run.iter().enumerate() {
        let mut fresh = EpochBatcher::new(37, 8, 11).unwrap();
        assert_eq!(&fresh.indices(k as u64), batch, "step {k}");
    }
    // Resumed at step 13 and run on.
    let mut resumed = EpochBatcher::new(37, 8, 11).unwrap();
    for (k, batch) in run.iter().enumerate().skip(13) {
        assert_eq!(&resumed.indices(k as u64), batch, "step {k}");
    }
    // Going back to an earlier epoch is fine too.
    assert_eq!(resumed.indices(2), run[2]);
}

#[test]
fn device_batches_are_scaled_and_gathered() {
    let images: Vec<u8> = vec![0, 255, 51, 102, 127, 128];
    let data = ImageDataset::from_parts(
        images,
        vec![0, 1, 2],
        [1, 1, 2],
        vec!["a".into(), "b".into(), "c".into()],
        "test",
    )
    .unwrap();
    let on_device = data.to_device(Device::Cpu);
    assert_eq!(on_device.len(), 3);
    let (x, y) = on_device.batch(&[2, 0, 0]);
    assert_eq!((x.size(), x.kind()), (vec![3, 1, 1, 2], Kind::Float));
    let got = Vec::<f32>::try_from(x.view([-1])).unwrap();
    let want: Vec<f32> = [127u8, 128, 0, 255, 0, 255]
        .iter()
        .map(|&v| v as f32 / 127.5 - 1.0)
        .collect();
    assert_eq!(got, want);
    assert_eq!(Vec::<i64>::try_from(&y).unwrap(), [2, 0, 0]);

    let bad = ImageDataset::from_parts(vec![0; 5], vec![0, 0, 0], [1, 1, 2], vec!["a".into()], "x");
    assert!(matches!(bad, Err(Error::Options(_))));
    let bad = ImageDataset::from_parts(vec![0; 2], vec![1], [1, 1, 2], vec!["a".into()], "x");
    assert!(matches!(bad, Err(Error::Options(_))));
}

#[test]
fn options_and_splits_deserialize() {
    let split: Split = serde_json::from_str("\"train\"").unwrap();
    assert_eq!(
        (split, Split::Test.to_string()),
        (Split::Train, "test".to_string())
    );
    assert_eq!(serde_json::to_string(&Split::Test).unwrap(), "\"test\"");
    let o: FolderOptions = serde_json::from_str(r#"{"height": 24, "skip_bad": true}"#).unwrap();
    assert_eq!(
        (o.height, o.width, o.channels, o.skip_bad),
        (24, 64, 3, true)
    );
    assert!(serde_json::from_str::<FolderOptions>(r#"{"heigth": 24}"#).is_err());
}

#[test]
fn real_fashion_mnist() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.is_dir() {
        use std::io::Write as _;
        // Written past the test harness's capture, so that CI's log shows it.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP real_fashion_mnist: {} is absent (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let train = ImageDataset::mnist_dir(dir, Split::Train).unwrap();
    assert_eq!(
        (train.len(), train.channels, train.height, train.width),
        (60000, 1, 28, 28)
    );
    assert_eq!(train.n_classes(), 10);
    assert!(train.labels.iter().all(|l| (0..10).contains(l)));
    assert_eq!(train.class_counts(), [6000; 10]);
    assert_eq!(train.images.len(), 60000 * 28 * 28);
    let test = ImageDataset::mnist_dir(dir, Split::Test).unwrap();
    assert_eq!((test.len(), test.n_classes()), (10000, 10));
}

#[test]
fn padding_surrounds_each_image_with_black() {
    // Two 1-channel 2x3 images.
    let pixels: Vec<u8> = (1..=12).collect();
    let ds = ImageDataset::from_parts(
        pixels,
        vec![0, 1],
        [1, 2, 3],
        vec!["a".into(), "b".into()],
        "t",
    )
    .unwrap()
    .pad(1);
    assert_eq!((ds.height, ds.width), (4, 5));
    #[rustfmt::skip]
    let first = [
        0, 0, 0, 0, 0,
        0, 1, 2, 3, 0,
        0, 4, 5, 6, 0,
        0, 0, 0, 0, 0,
    ];
    assert_eq!(&ds.images[..20], &first);
    assert_eq!(&ds.images[26..29], &[7, 8, 9]);
    assert_eq!(ds.images.len(), 40);
    assert_eq!(ds.labels, vec![0, 1]);
}

#[test]
fn stacked_images_are_three_base_images_and_labels_encode_their_classes() {
    let base = ImageDataset::synthetic(40, [1, 10, 4], 10, 3).unwrap();
    let st = ImageDataset::stacked(&base, 500, 7).unwrap();
    assert_eq!(
        (st.len(), st.channels, st.height, st.width),
        (500, 3, 10, 4)
    );
    assert_eq!(st.n_classes(), 1000);
    let plane = 40;
    for i in 0..st.len() {
        let mut label = 0;
        for ch in 0..3 {
            let px = &st.images[(3 * i + ch) * plane..(3 * i + ch + 1) * plane];
            // Each channel is one of the base images; its class is the label's digit.
            let j = (0..base.len())
                .find(|&j| &base.images[j * plane..(j + 1) * plane] == px)
                .expect("channel is a base image");
            label = label * 10 + base.labels[j];
        }
        assert_eq!(st.labels[i], label);
    }
    // Many of the 1000 modes are present, and the draw is a function of the seed.
    let mut seen = st.labels.clone();
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 300, "{}", seen.len());
    assert_eq!(
        ImageDataset::stacked(&base, 500, 7).unwrap().images,
        st.images
    );
    assert_ne!(
        ImageDataset::stacked(&base, 500, 8).unwrap().images,
        st.images
    );
    let rgb = ImageDataset::synthetic(4, [3, 10, 4], 10, 3).unwrap();
    assert!(ImageDataset::stacked(&rgb, 5, 0).is_err());
    assert!(ImageDataset::stacked(&base, 0, 0).is_err());
}
