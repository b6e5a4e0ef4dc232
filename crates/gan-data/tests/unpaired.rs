//! Unpaired data sets (CycleGAN): the `trainA`/`trainB` folder layout written into a
//! temporary folder, the `hot` task on synthetic IDX files and on the real Fashion-MNIST when
//! it is installed, and the per-domain batching and jitter on the device.

use std::io::Write;
use std::path::{Path, PathBuf};

use gan_data::unpaired::{STREAM_A, STREAM_B};
use gan_data::{
    hot_map, hot_pixel, hot_tensor, EpochBatcher, Error, ImageDataset, Jitter, JitterParams, Split,
    UnpairedBatcher, UnpairedDataset, UnpairedOptions,
};
use image::{GrayImage, Luma, Rgb, RgbImage};
use tch::{Device, Tensor};
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

fn save_rgb(path: &Path, img: &RgbImage) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
    path.to_path_buf()
}

fn save_grey(path: &Path, img: &GrayImage) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save(path).unwrap();
    path.to_path_buf()
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.reshape([-1])).unwrap()
}

fn opts(height: usize, width: usize, channels_a: usize, channels_b: usize) -> UnpairedOptions {
    UnpairedOptions {
        height,
        width,
        channels_a,
        channels_b,
    }
}

/// The colour of `b/dogs/d0.png` (4x6, the load size) at `(x, y)`.
fn d0(x: u32, y: u32) -> [u8; 3] {
    [10 * x as u8 + y as u8, 200 - 7 * y as u8, 3 * x as u8]
}

/// CycleGAN's layout for both splits: `trainA` holds 3 grey images directly (unlabelled,
/// one at the load size 4x6 with value `10 x + y`, two flat of other sizes); `trainB` holds
/// 5 RGB images in class sub-folders `cats` (2) and `dogs` (3, one nested deeper, one a
/// JPEG); `testA` and `testB` hold one image each.
fn cyclegan_root() -> TempDir {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    save_grey(
        &root.join("trainA/a0.png"),
        &GrayImage::from_fn(6, 4, |x, y| Luma([(10 * x + y) as u8])),
    );
    save_grey(
        &root.join("trainA/a1.png"),
        &GrayImage::from_pixel(13, 9, Luma([77])),
    );
    // An RGB file in the grey domain is converted to luma.
    save_rgb(
        &root.join("trainA/a2.png"),
        &RgbImage::from_pixel(3, 2, Rgb([90, 90, 90])),
    );
    save_rgb(
        &root.join("trainB/cats/c0.png"),
        &RgbImage::from_pixel(8, 8, Rgb([200, 100, 0])),
    );
    save_rgb(
        &root.join("trainB/cats/c1.png"),
        &RgbImage::from_pixel(5, 7, Rgb([1, 2, 3])),
    );
    save_rgb(
        &root.join("trainB/dogs/d0.png"),
        &RgbImage::from_fn(6, 4, |x, y| Rgb(d0(x, y))),
    );
    save_rgb(
        &root.join("trainB/dogs/deep/d1.png"),
        &RgbImage::from_pixel(12, 8, Rgb([0, 255, 0])),
    );
    let jpeg = root.join("trainB/dogs/d2.jpg");
    RgbImage::from_pixel(16, 16, Rgb([128, 128, 128]))
        .save(&jpeg)
        .unwrap();
    // Not an image: ignored.
    write(&root.join("trainB/dogs/notes.txt"), b"not an image");
    save_grey(
        &root.join("testA/t.png"),
        &GrayImage::from_pixel(4, 4, Luma([5])),
    );
    save_rgb(
        &root.join("testB/t.png"),
        &RgbImage::from_pixel(4, 4, Rgb([6, 7, 8])),
    );
    dir
}

#[test]
fn folders_load_both_domains_at_the_load_size() {
    let dir = cyclegan_root();
    let d = UnpairedDataset::folders(dir.path(), Split::Train, &opts(4, 6, 1, 3)).unwrap();
    assert_eq!((d.len_a(), d.len_b()), (3, 5));
    assert_eq!((d.size(), d.channels()), ((4, 6), (1, 3)));
    assert_eq!((d.channels_a(), d.channels_b()), (1, 3));
    assert_eq!(d.bytes(), 3 * 24 + 5 * 72 + 8 * 8);
    // A is unlabelled (images directly in trainA), B labelled by sub-folder, in sorted path
    // order: cats/c0, cats/c1, dogs/d0, dogs/d2.jpg, dogs/deep/d1.
    assert_eq!(d.labels_a(), None);
    assert_eq!(d.labels_b(), Some(&[0, 0, 1, 1, 1][..]));
    assert_eq!(d.side_b().class_names, ["cats", "dogs"]);
    // The two domains share no class names: none to report.
    assert_eq!((d.class_names(), d.n_classes()), (Vec::<String>::new(), 0));
    assert!(
        d.source.contains("trainA") && d.source.contains("trainB"),
        "{}",
        d.source
    );

    // a0 is at the load size: copied exactly. Flat images stay flat when stretched.
    let a = &d.side_a().images;
    let a0: Vec<u8> = (0..4)
        .flat_map(|y| (0..6).map(move |x| 10 * x + y))
        .collect();
    assert_eq!(a[..24], a0[..]);
    assert!(a[24..48].iter().all(|&v| v == 77));
    assert!(a[48..].iter().all(|&v| v == 90));
    let b = &d.side_b().images;
    let plane = |img: usize, k: usize| &b[img * 72 + k * 24..img * 72 + (k + 1) * 24];
    for (k, v) in [200, 100, 0].into_iter().enumerate() {
        assert!(plane(0, k).iter().all(|&p| p == v), "c0 channel {k}");
    }
    for k in 0..3 {
        let want: Vec<u8> = (0..4)
            .flat_map(|y| (0..6).map(move |x| d0(x, y)[k]))
            .collect();
        assert_eq!(plane(2, k), &want[..], "d0 channel {k}");
    }
    for (k, v) in [0, 255, 0].into_iter().enumerate() {
        assert!(plane(4, k).iter().all(|&p| p == v), "d1 channel {k}");
    }
    // The JPEG decodes to about its grey.
    assert!(plane(3, 0).iter().all(|&p| p.abs_diff(128) <= 2));

    // RGB A and grey B are fine too, and the test split reads testA / testB.
    let t = UnpairedDataset::folders(dir.path(), Split::Test, &opts(2, 2, 3, 1)).unwrap();
    assert_eq!((t.len_a(), t.len_b(), t.channels()), (1, 1, (3, 1)));
    assert_eq!(t.side_a().images, [5; 12]);
    // Luma of (6, 7, 8): 0.2126 * 6 + 0.7152 * 7 + 0.0722 * 8 = 6.8.
    assert!(
        t.side_b().images.iter().all(|&v| v == 7),
        "{:?}",
        t.side_b().images
    );
}

#[test]
fn missing_and_empty_domain_folders_are_named() {
    let dir = TempDir::new().unwrap();
    save_grey(
        &dir.path().join("trainA/a.png"),
        &GrayImage::from_pixel(2, 2, Luma([1])),
    );
    let e = UnpairedDataset::folders(dir.path(), Split::Train, &opts(2, 2, 1, 1)).unwrap_err();
    let msg = chain(&e);
    let train_b = dir.path().join("trainB");
    assert!(
        matches!(&e, Error::NoImages { path, .. } if *path == train_b),
        "{msg}"
    );
    assert!(msg.contains(&train_b.display().to_string()), "{msg}");
    assert!(msg.contains("no such folder"), "{msg}");

    // testA exists but holds no image (only a text file and an empty sub-folder).
    write(&dir.path().join("testA/readme.txt"), b"nothing here");
    std::fs::create_dir_all(dir.path().join("testA/empty")).unwrap();
    save_grey(
        &dir.path().join("testB/b.png"),
        &GrayImage::from_pixel(2, 2, Luma([1])),
    );
    let e = UnpairedDataset::folders(dir.path(), Split::Test, &opts(2, 2, 1, 1)).unwrap_err();
    let msg = chain(&e);
    let test_a = dir.path().join("testA");
    assert!(
        matches!(&e, Error::NoImages { path, .. } if *path == test_a),
        "{msg}"
    );
    assert!(msg.contains(&test_a.display().to_string()), "{msg}");

    // Bad options are refused before any file is read.
    assert!(matches!(
        UnpairedDataset::folders(dir.path(), Split::Test, &opts(0, 2, 1, 1)),
        Err(Error::Options(_))
    ));
}

#[test]
fn an_undecodable_file_is_named() {
    let dir = cyclegan_root();
    let bad = write(
        &dir.path().join("trainB/dogs/broken.png"),
        b"\x89PNG not really",
    );
    let e = UnpairedDataset::folders(dir.path(), Split::Train, &opts(4, 6, 1, 3)).unwrap_err();
    let msg = chain(&e);
    assert!(
        matches!(&e, Error::Decode { path, .. } if *path == bad),
        "{msg}"
    );
    assert!(msg.contains(&bad.display().to_string()), "{msg}");
}

#[test]
fn the_hot_map_is_exact_for_every_value() {
    // One 16x16 image holding every value, labelled.
    let grey: Vec<u8> = (0..=255).collect();
    let data = ImageDataset::from_parts(
        grey.clone(),
        vec![1],
        [1, 16, 16],
        vec!["x".into(); 2],
        "all",
    )
    .unwrap();
    let hot = hot_map(&data).unwrap();
    assert_eq!((hot.channels, hot.height, hot.width), (3, 16, 16));
    assert_eq!(
        (hot.labels.clone(), hot.class_names.clone()),
        (vec![1], data.class_names.clone())
    );
    for (i, &p) in grey.iter().enumerate() {
        // The float definition, literally: g = p / 255, clamp(3g - k, 0, 1), round(255 v).
        let g = f64::from(p) / 255.0;
        for k in 0..3 {
            let want = (255.0 * (3.0 * g - k as f64).clamp(0.0, 1.0)).round();
            assert_eq!(
                f64::from(hot.images[k * 256 + i]),
                want,
                "p = {p}, channel {k}"
            );
            assert_eq!(hot.images[k * 256 + i], hot_pixel(p)[k]);
        }
    }
    let t = hot_tensor(&Tensor::from_slice(&grey).view([1, 1, 16, 16])).unwrap();
    assert_eq!(Vec::<u8>::try_from(t.reshape([-1])).unwrap(), hot.images);
}

/// Fashion-MNIST-like IDX files in a folder: `n` train images and `m` test images of 2x3,
/// image `i` filled with `i + 1` (train) or `100 + i` (test), labels `i % 3`.
fn fake_mnist(n: u8, m: u8) -> TempDir {
    let dir = TempDir::new().unwrap();
    for (prefix, count, base) in [("train", n, 1u8), ("t10k", m, 100)] {
        let pixels: Vec<u8> = (0..count).flat_map(|i| [base + i; 6]).collect();
        let labels: Vec<u8> = (0..count).map(|i| i % 3).collect();
        write(
            &dir.path().join(format!("{prefix}-images-idx3-ubyte")),
            &idx_bytes(&[count as u32, 2, 3], &pixels),
        );
        write(
            &dir.path().join(format!("{prefix}-labels-idx1-ubyte")),
            &idx_bytes(&[count as u32], &labels),
        );
    }
    dir
}

#[test]
fn hot_train_split_takes_disjoint_halves_and_test_split_pairs() {
    let dir = fake_mnist(7, 4);
    let train = UnpairedDataset::hot_dir(dir.path(), Split::Train).unwrap();
    // 7 images: A = 0..3, B = hot maps of 3..7; padded by 2 to 6x7.
    assert_eq!((train.len_a(), train.len_b()), (3, 4));
    assert_eq!((train.size(), train.channels()), ((6, 7), (1, 3)));
    let plane = 42;
    for (i, img) in train.side_a().images.chunks(plane).enumerate() {
        assert_eq!(img.iter().filter(|&&v| v != 0).count(), 6);
        assert!(img.iter().all(|&v| v == 0 || v == i as u8 + 1), "A[{i}]");
    }
    for (i, img) in train.side_b().images.chunks(3 * plane).enumerate() {
        let want = hot_pixel(i as u8 + 4);
        for (k, ch) in img.chunks(plane).enumerate() {
            // The padding ring maps to black; the image to its hot colour.
            assert_eq!(ch[2 * 7 + 2], want[k], "B[{i}] channel {k}");
            assert_eq!(ch[0], 0);
        }
    }
    assert_eq!(train.labels_a(), Some(&[0, 1, 2][..]));
    assert_eq!(train.labels_b(), Some(&[0, 1, 2, 0][..]));
    assert_eq!(
        (train.n_classes(), train.class_names()),
        (3, vec!["0".to_string(), "1".into(), "2".into()])
    );
    assert!(
        train.source.contains("0..3") && train.source.contains("3..7"),
        "{}",
        train.source
    );

    let test = UnpairedDataset::hot_dir(dir.path(), Split::Test).unwrap();
    assert_eq!((test.len_a(), test.len_b()), (4, 4));
    assert_eq!(test.labels_a(), test.labels_b());
    assert_eq!(hot_map(test.side_a()).unwrap().images, test.side_b().images);
    assert!(test.side_a().images.iter().all(|&v| v == 0 || v >= 100));
}

#[test]
fn real_fashion_mnist_hot() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.is_dir() {
        // Straight to stderr, past the test harness's capture, so the skip shows.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP real_fashion_mnist_hot: {} is absent (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let grey = ImageDataset::mnist_dir(dir, Split::Train).unwrap().pad(2);
    let train = UnpairedDataset::hot_dir(dir, Split::Train).unwrap();
    assert_eq!((train.len_a(), train.len_b()), (30000, 30000));
    assert_eq!((train.size(), train.channels()), ((32, 32), (1, 3)));
    assert_eq!(train.bytes(), 30000 * 1024 * 4 + 60000 * 8);
    assert_eq!(train.n_classes(), 10);
    let img = |d: &ImageDataset, i: usize| {
        let chw = d.channels * 1024;
        d.images[i * chw..(i + 1) * chw].to_vec()
    };
    // A = train images 0..=29,999; B = the hot maps of 30,000..=59,999.
    assert_eq!(img(train.side_a(), 0), img(&grey, 0));
    assert_eq!(img(train.side_a(), 29999), img(&grey, 29999));
    let b0 = img(train.side_b(), 0);
    let g30000 = img(&grey, 30000);
    for (j, &p) in g30000.iter().enumerate() {
        let g = f64::from(p) / 255.0;
        for k in 0..3 {
            let want = (255.0 * (3.0 * g - k as f64).clamp(0.0, 1.0)).round();
            assert_eq!(
                f64::from(b0[k * 1024 + j]),
                want,
                "pixel {j} = {p}, channel {k}"
            );
        }
    }
    assert_eq!(
        img(train.side_b(), 29999),
        hot_map(
            &ImageDataset::from_parts(
                img(&grey, 59999),
                vec![0],
                [1, 32, 32],
                vec!["".into()],
                "x"
            )
            .unwrap()
        )
        .unwrap()
        .images
    );
    assert_eq!(train.labels_a().unwrap(), &grey.labels[..30000]);
    assert_eq!(train.labels_b().unwrap(), &grey.labels[30000..]);
    // Real images use the whole range of the map.
    assert!(train.side_b().images.contains(&255));

    let test = UnpairedDataset::hot_dir(dir, Split::Test).unwrap();
    assert_eq!((test.len_a(), test.len_b()), (10000, 10000));
    assert_eq!(test.labels_a(), test.labels_b());
    let (a, b) = test.to_tensors();
    assert_eq!(
        (a.size(), b.size()),
        (vec![10000, 1, 32, 32], vec![10000, 3, 32, 32])
    );
    assert!(hot_tensor(&a).unwrap().equal(&b));

    // One training step of each domain on the CPU.
    let jitter = Jitter {
        crop: Some((28, 28)),
        flip: true,
    };
    let on_device = train.to_device(Device::Cpu);
    let mut batcher = UnpairedBatcher::new(30000, 30000, 64, 0, jitter, (32, 32)).unwrap();
    let (x, y) = on_device.batches(&batcher.step(0).unwrap());
    assert_eq!(
        (x.size(), y.size()),
        (vec![64, 1, 28, 28], vec![64, 3, 28, 28])
    );
}

/// Two domains of different lengths and channels: A = 6 grey 4x5 images, image `i` with
/// pixel `(y, x)` = `40 i + 5 y + x` (so every A pixel names its image and position), B = 9
/// RGB images with pixel `(y, x)` of channel `k` of image `i` = `min(255 - (20 i + 5 y + x) + k,
/// 255)`.
fn small_domains() -> UnpairedDataset {
    let a: Vec<u8> = (0..6u8)
        .flat_map(|i| (0..20u8).map(move |p| 40 * i + p))
        .collect();
    let b: Vec<u8> = (0..9u16)
        .flat_map(|i| (0..3u16).flat_map(move |k| (0..20u16).map(move |p| 255 - (20 * i + p) + k)))
        .map(|v| v.min(255) as u8)
        .collect();
    let a = ImageDataset::from_parts(a, vec![0; 6], [1, 4, 5], vec!["".into()], "a").unwrap();
    let b = ImageDataset::from_parts(b, vec![0; 9], [3, 4, 5], vec!["".into()], "b").unwrap();
    UnpairedDataset::from_sides(a, b, "small").unwrap()
}

/// The jittered batch computed on the host, pixel by pixel, scaled to `[-1, 1]`.
fn host_jitter(
    pixels: &[u8],
    c: usize,
    size: (usize, usize),
    idx: &[i64],
    p: &JitterParams,
) -> Vec<f32> {
    let ((h, w), (ch, cw)) = (size, p.crop);
    let mut out = Vec::new();
    for (n, &i) in idx.iter().enumerate() {
        for k in 0..c {
            for y in 0..ch {
                for x in 0..cw {
                    let xx = if p.flip[n] { cw - 1 - x } else { x };
                    let (row, col) = (p.top[n] as usize + y, p.left[n] as usize + xx);
                    let v = pixels[((i as usize * c + k) * h + row) * w + col];
                    out.push(v as f32 / 127.5 - 1.0);
                }
            }
        }
    }
    out
}

#[test]
fn each_domain_gets_its_own_order_and_jitter_from_seed_and_step() {
    let d = small_domains();
    let jitter = Jitter {
        crop: Some((3, 3)),
        flip: true,
    };
    let mut batcher = UnpairedBatcher::new(d.len_a(), d.len_b(), 3, 11, jitter, d.size()).unwrap();
    assert_eq!(batcher.batcher_a().batches_per_epoch(), 2);
    assert_eq!(batcher.batcher_b().batches_per_epoch(), 3);
    let steps: Vec<_> = (0..12).map(|s| batcher.step(s).unwrap()).collect();
    for (s, st) in steps.iter().enumerate() {
        let s = s as u64;
        // The pieces, by hand: one stream per domain.
        let want_a = EpochBatcher::with_stream(6, 3, 11, STREAM_A)
            .unwrap()
            .indices(s);
        let want_b = EpochBatcher::with_stream(9, 3, 11, STREAM_B)
            .unwrap()
            .indices(s);
        assert_eq!((&st.idx_a, &st.idx_b), (&want_a, &want_b), "step {s}");
        assert_eq!(
            st.jitter_a,
            jitter.params_stream(11, s, 3, (4, 5), STREAM_A).unwrap()
        );
        assert_eq!(
            st.jitter_b,
            jitter.params_stream(11, s, 3, (4, 5), STREAM_B).unwrap()
        );
        // A's and B's crops and flips differ, and neither is the paired (stream 0) jitter.
        let draws = |p: &JitterParams| (p.top.clone(), p.left.clone(), p.flip.clone());
        assert_ne!(draws(&st.jitter_a), draws(&st.jitter_b), "step {s}");
        let paired = jitter.params(11, s, 3, (4, 5)).unwrap();
        assert_ne!(draws(&st.jitter_a), draws(&paired), "step {s}");
        // A resumed run, starting at step s, sees the same step.
        let mut resumed = UnpairedBatcher::new(6, 9, 3, 11, jitter, (4, 5)).unwrap();
        assert_eq!(&resumed.step(s).unwrap(), st, "step {s}");
    }
    // Each domain goes through its epochs at its own pace: every A image once per 2 steps,
    // every B image once per 3 steps.
    let mut seen_a: Vec<i64> = steps[..2].iter().flat_map(|s| s.idx_a.clone()).collect();
    seen_a.sort();
    assert_eq!(seen_a, (0..6).collect::<Vec<_>>());
    let mut seen_b: Vec<i64> = steps[3..6].iter().flat_map(|s| s.idx_b.clone()).collect();
    seen_b.sort();
    assert_eq!(seen_b, (0..9).collect::<Vec<_>>());
    // Another seed, other batches.
    let other = UnpairedBatcher::new(6, 9, 3, 12, jitter, (4, 5))
        .unwrap()
        .step(0)
        .unwrap();
    assert_ne!(other, steps[0]);
    // Batch sizes and crops are checked.
    assert!(UnpairedBatcher::new(6, 2, 3, 0, jitter, (4, 5)).is_err());
    assert!(UnpairedBatcher::new(6, 9, 3, 0, jitter, (2, 5)).is_err());
}

#[test]
fn device_batches_are_cropped_flipped_and_scaled_per_domain() {
    let d = small_domains();
    let on_device = d.to_device(Device::Cpu);
    assert_eq!(
        (on_device.len_a(), on_device.len_b(), on_device.size()),
        (6, 9, (4, 5))
    );
    let jitter = Jitter {
        crop: Some((3, 4)),
        flip: true,
    };
    let mut batcher = UnpairedBatcher::new(6, 9, 4, 5, jitter, (4, 5)).unwrap();
    let mut flipped = (false, false);
    for s in 0..6 {
        let st = batcher.step(s).unwrap();
        let (x, y) = on_device.batches(&st);
        assert_eq!((x.size(), y.size()), (vec![4, 1, 3, 4], vec![4, 3, 3, 4]));
        assert_eq!(
            values(&x),
            host_jitter(&d.side_a().images, 1, (4, 5), &st.idx_a, &st.jitter_a)
        );
        assert_eq!(
            values(&y),
            host_jitter(&d.side_b().images, 3, (4, 5), &st.idx_b, &st.jitter_b)
        );
        assert!(values(&x)
            .iter()
            .chain(&values(&y))
            .all(|v| (-1.0..=1.0).contains(v)));
        flipped.0 |= st.jitter_a.flip.contains(&true);
        flipped.1 |= st.jitter_b.flip.contains(&true);
    }
    assert_eq!(
        flipped,
        (true, true),
        "no flip drawn: the test checks nothing of it"
    );

    // No jitter: the images as they are, x / 127.5 - 1, with 0 and 255 at the ends.
    let grey = ImageDataset::from_parts(
        vec![0, 255, 51, 204],
        vec![0],
        [1, 2, 2],
        vec!["".into()],
        "e",
    )
    .unwrap();
    let rgb = ImageDataset::from_parts(
        (0..12).map(|v| v * 20).collect(),
        vec![0],
        [3, 2, 2],
        vec!["".into()],
        "f",
    )
    .unwrap();
    let ends = UnpairedDataset::from_sides(grey, rgb, "ends")
        .unwrap()
        .to_device(Device::Cpu);
    let x = ends.batch_a(&[0], &JitterParams::none(1, (2, 2)));
    assert_eq!(
        values(&x),
        [-1.0, 1.0, 51.0 / 127.5 - 1.0, 204.0 / 127.5 - 1.0]
    );
    let y = ends.batch_b(&[0, 0], &JitterParams::none(2, (2, 2)));
    let want: Vec<f32> = (0..12).map(|v| (v * 20) as f32 / 127.5 - 1.0).collect();
    assert_eq!(values(&y), [want.clone(), want].concat());
}

#[test]
#[should_panic(expected = "out of range for the 9 images of domain B")]
fn a_bad_index_panics_before_the_device() {
    let on_device = small_domains().to_device(Device::Cpu);
    let _ = on_device.batch_b(&[9], &JitterParams::none(1, (4, 5)));
}
