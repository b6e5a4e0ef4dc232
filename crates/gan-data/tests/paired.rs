//! Paired data sets (pix2pix): aligned A|B files and paired folders written into a temporary
//! folder, the jitter on the device, the Sobel `edges` task on hand-computed examples and on
//! the real Fashion-MNIST when it is installed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gan_data::{
    Direction, EpochBatcher, Error, ImageDataset, Jitter, JitterParams, PairedDataset,
    PairedOptions, Split,
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

fn opts(load_size: (usize, usize), channels_a: usize, channels_b: usize) -> PairedOptions {
    PairedOptions {
        load_size,
        channels_a,
        channels_b,
        direction: Direction::AToB,
    }
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.reshape([-1])).unwrap()
}

fn scaled(v: u8) -> f32 {
    v as f32 / 127.5 - 1.0
}

/// The colour of the right half of `p1.png` at `(x, y)`.
fn p1_right(x: u32, y: u32) -> [u8; 3] {
    [100 + 10 * x as u8 + y as u8, 7 * y as u8, 250 - x as u8]
}

/// An unlabelled aligned folder: `p0.png` (16x6, flat halves, stretched to 4x3) and
/// `p1.png` (8x3: a grey left half with value `10 x + y`, an RGB right half).
fn aligned_folder() -> TempDir {
    let dir = TempDir::new().unwrap();
    let p0 = RgbImage::from_fn(16, 6, |x, _| {
        if x < 8 {
            Rgb([50; 3])
        } else {
            Rgb([200, 100, 0])
        }
    });
    save_rgb(&dir.path().join("p0.png"), &p0);
    let p1 = RgbImage::from_fn(8, 3, |x, y| {
        if x < 4 {
            Rgb([(10 * x + y) as u8; 3])
        } else {
            Rgb(p1_right(x - 4, y))
        }
    });
    save_rgb(&dir.path().join("p1.png"), &p1);
    dir
}

#[test]
fn aligned_files_split_at_half_the_width() {
    let dir = aligned_folder();
    let data = PairedDataset::aligned(dir.path(), &opts((3, 4), 1, 3)).unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(
        (data.channels_a, data.channels_b, data.height, data.width),
        (1, 3, 3, 4)
    );
    assert_eq!(data.labels, None);
    assert!(data.class_names.is_empty());
    assert!(data.source.contains("aligned, a-to-b"), "{}", data.source);
    assert_eq!(data.bytes(), 2 * 12 + 2 * 36);
    // p0: flat halves stay flat after the stretch.
    assert_eq!(&data.a[..12], &[50; 12]);
    assert_eq!(&data.b[..12], &[200; 12]);
    assert_eq!(&data.b[12..24], &[100; 12]);
    assert_eq!(&data.b[24..36], &[0; 12]);
    // p1: already 4x3 per half, copied exactly; grey stays grey as luma.
    let (a1, b1) = (&data.a[12..], &data.b[36..]);
    for y in 0..3 {
        for x in 0..4 {
            let p = (y * 4 + x) as usize;
            assert_eq!(a1[p], (10 * x + y) as u8, "A at ({x}, {y})");
            let want = p1_right(x, y);
            for (c, &v) in want.iter().enumerate() {
                assert_eq!(b1[c * 12 + p], v, "B channel {c} at ({x}, {y})");
            }
        }
    }

    // b-to-a: the right half is A now; the channels follow the returned sides.
    let swapped = PairedDataset::aligned(
        dir.path(),
        &PairedOptions {
            direction: Direction::BToA,
            ..opts((3, 4), 3, 1)
        },
    )
    .unwrap();
    assert_eq!((swapped.channels_a, swapped.channels_b), (3, 1));
    assert_eq!((&swapped.a, &swapped.b), (&data.b, &data.a));
    assert!(swapped.source.contains("b-to-a"), "{}", swapped.source);
    let back = swapped.swapped();
    assert_eq!((&back.a, &back.b), (&data.a, &data.b));

    // On the device, with no jitter, a batch is just the images.
    let on_device = data.to_device(Device::Cpu);
    assert_eq!((on_device.len(), on_device.size()), (2, (3, 4)));
    let (x, y, labels) = on_device.batch(&[1, 0], &JitterParams::none(2, (3, 4)));
    assert_eq!((x.size(), y.size()), (vec![2, 1, 3, 4], vec![2, 3, 3, 4]));
    assert!(labels.is_none());
    let want: Vec<f32> = a1.iter().chain(&data.a[..12]).map(|&v| scaled(v)).collect();
    assert_eq!(values(&x), want);
}

#[test]
fn aligned_class_folders_give_labels_and_other_sizes_are_stretched() {
    let dir = TempDir::new().unwrap();
    // 2 classes; one 12x2 image (two 6x2 halves) stretched to 3x5.
    for (class, v) in [("boots", 10u8), ("shirts", 20), ("shirts/more", 30)] {
        let img = GrayImage::from_fn(12, 2, |x, _| Luma([if x < 6 { v } else { 255 - v }]));
        save_grey(&dir.path().join(class).join("img.png"), &img);
    }
    let data = PairedDataset::aligned(dir.path(), &opts((3, 5), 1, 3)).unwrap();
    assert_eq!(data.labels, Some(vec![0, 1, 1]));
    assert_eq!(data.class_names, ["boots", "shirts"]);
    assert_eq!(data.n_classes(), 2);
    assert_eq!(data.size(), (3, 5));
    for (i, v) in [10u8, 20, 30].into_iter().enumerate() {
        assert!(
            data.a[i * 15..(i + 1) * 15].iter().all(|&p| p == v),
            "A {i}"
        );
        assert!(
            data.b[i * 45..(i + 1) * 45].iter().all(|&p| p == 255 - v),
            "B {i}"
        );
    }
    let side = data.side_b().unwrap();
    assert_eq!(
        (side.len(), side.channels, side.labels.clone()),
        (3, 3, vec![0, 1, 1])
    );
    let (_, _, labels) = data
        .to_device(Device::Cpu)
        .batch(&[2, 0], &JitterParams::none(2, (3, 5)));
    assert_eq!(Vec::<i64>::try_from(labels.unwrap()).unwrap(), [1, 0]);
}

#[test]
fn aligned_errors_name_the_file() {
    let dir = aligned_folder();
    let odd = save_rgb(
        &dir.path().join("p2-odd.png"),
        &RgbImage::from_pixel(7, 3, Rgb([1, 2, 3])),
    );
    let e = PairedDataset::aligned(dir.path(), &opts((3, 4), 3, 3)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(
        msg.contains(&odd.display().to_string()) && msg.contains("width 7 is odd"),
        "{msg}"
    );
    std::fs::remove_file(&odd).unwrap();

    let bad = dir.path().join("p3-broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let e = PairedDataset::aligned(dir.path(), &opts((3, 4), 3, 3)).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let msg = chain(&e);
    assert!(msg.contains(&bad.display().to_string()), "{msg}");
    assert!(
        msg.len() > e.to_string().len() + 5,
        "no decoder reason: {msg}"
    );

    let empty = TempDir::new().unwrap();
    std::fs::write(empty.path().join("notes.txt"), b"no images").unwrap();
    let e = PairedDataset::aligned(empty.path(), &opts((3, 4), 3, 3)).unwrap_err();
    assert!(matches!(e, Error::NoImages { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&empty.path().display().to_string()),
        "{e}"
    );

    let e = PairedDataset::aligned(dir.path(), &opts((3, 4), 2, 3)).unwrap_err();
    assert!(matches!(e, Error::Options(_)), "{e:?}");
}

/// `A/{cats/x.png, cats/y.png, dogs/z.png}` and `B/` with the same names (x as a JPEG, z at
/// another size); image `k` is flat `40 k + 20` in A and `255 - that` in B.
fn paired_folders() -> TempDir {
    let dir = TempDir::new().unwrap();
    let (a, b) = (dir.path().join("A"), dir.path().join("B"));
    for (k, (name, ext_b, size_b)) in [
        ("cats/x", "jpg", 4),
        ("cats/y", "png", 4),
        ("dogs/z", "png", 9),
    ]
    .into_iter()
    .enumerate()
    {
        let v = 40 * k as u8 + 20;
        save_grey(
            &a.join(format!("{name}.png")),
            &GrayImage::from_pixel(4, 4, Luma([v])),
        );
        save_rgb(
            &b.join(format!("{name}.{ext_b}")),
            &RgbImage::from_pixel(size_b, size_b, Rgb([255 - v; 3])),
        );
    }
    dir
}

#[test]
fn folders_pair_by_name() {
    let dir = paired_folders();
    let (a, b) = (dir.path().join("A"), dir.path().join("B"));
    let data = PairedDataset::folders(&a, &b, &opts((2, 3), 1, 3)).unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data.labels, Some(vec![0, 0, 1]));
    assert_eq!(data.class_names, ["cats", "dogs"]);
    assert!(data.source.contains("paired by name"), "{}", data.source);
    for k in 0..3 {
        let v = 40 * k as u8 + 20;
        assert!(data.a[k * 6..(k + 1) * 6].iter().all(|&p| p == v), "A {k}");
        // The JPEG is only close to flat.
        assert!(
            data.b[k * 18..(k + 1) * 18]
                .iter()
                .all(|&p| p.abs_diff(255 - v) <= 2),
            "B {k}: {:?}",
            &data.b[k * 18..(k + 1) * 18]
        );
    }
    let swapped = PairedDataset::folders(
        &a,
        &b,
        &PairedOptions {
            direction: Direction::BToA,
            ..opts((2, 3), 3, 1)
        },
    )
    .unwrap();
    assert_eq!((&swapped.a, &swapped.b), (&data.b, &data.a));
    assert_eq!(swapped.labels, data.labels);

    // Unlabelled folders.
    let flat = TempDir::new().unwrap();
    let (fa, fb) = (flat.path().join("a"), flat.path().join("b"));
    for (name, v) in [("2", 2u8), ("1", 1)] {
        save_grey(
            &fa.join(format!("{name}.png")),
            &GrayImage::from_pixel(3, 2, Luma([v])),
        );
        save_grey(
            &fb.join(format!("{name}.jpeg")),
            &GrayImage::from_pixel(3, 2, Luma([v * 100])),
        );
    }
    let data = PairedDataset::folders(&fa, &fb, &opts((2, 3), 1, 1)).unwrap();
    assert_eq!(data.labels, None);
    assert_eq!(&data.a[..6], &[1; 6]);
    assert!(
        data.b[..6].iter().all(|p| p.abs_diff(100) <= 2),
        "{:?}",
        data.b
    );
}

#[test]
fn folder_pair_errors_name_the_file_and_folder() {
    let dir = paired_folders();
    let (a, b) = (dir.path().join("A"), dir.path().join("B"));
    let o = opts((2, 2), 3, 3);

    let extra = save_grey(&a.join("dogs/w.png"), &GrayImage::new(2, 2));
    let e = PairedDataset::folders(&a, &b, &o).unwrap_err();
    assert!(
        matches!(&e, Error::Unpaired { file, name, missing_in }
            if file == &extra && name == "dogs/w" && missing_in == &b),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&extra.display().to_string()) && msg.contains(&b.display().to_string()),
        "{msg}"
    );
    std::fs::remove_file(&extra).unwrap();

    let extra = save_grey(&b.join("cats/v.jpg"), &GrayImage::new(2, 2));
    let e = PairedDataset::folders(&a, &b, &o).unwrap_err();
    assert!(
        matches!(&e, Error::Unpaired { file, missing_in, .. } if file == &extra && missing_in == &a),
        "{e:?}"
    );
    assert!(e.to_string().contains("cats/v"), "{e}");
    std::fs::remove_file(&extra).unwrap();

    // Two images of one name on one side.
    let twin = save_grey(&b.join("cats/y.jpeg"), &GrayImage::new(2, 2));
    let e = PairedDataset::folders(&a, &b, &o).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert!(
        msg.contains(&twin.display().to_string()) && msg.contains("y.png"),
        "{msg}"
    );
    std::fs::remove_file(&twin).unwrap();

    let bad = b.join("dogs/z.png");
    std::fs::write(&bad, b"garbage").unwrap();
    let e = PairedDataset::folders(&a, &b, &o).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    assert!(
        chain(&e).contains(&bad.display().to_string()),
        "{}",
        chain(&e)
    );

    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = PairedDataset::folders(&a, &empty, &o).unwrap_err();
    assert!(
        matches!(e, Error::NoImages { .. }) && e.to_string().contains(&empty.display().to_string()),
        "{e}"
    );
    let e = PairedDataset::folders(&empty, &b, &o).unwrap_err();
    assert!(matches!(e, Error::NoImages { .. }), "{e}");
}

/// 8 pairs of 6x10 (non-square): A grey with a different value at every position of an
/// image, B RGB = (255 - A, A / 2, A ^ 0x55), so every output pixel of B is a function of A's.
fn related_pairs() -> PairedDataset {
    let (n, h, w) = (8usize, 6usize, 10usize);
    let a: Vec<u8> = (0..n * h * w)
        .map(|p| ((p % (h * w)) * 4 + p / (h * w)) as u8)
        .collect();
    let mut b = Vec::with_capacity(3 * a.len());
    for img in a.chunks(h * w) {
        b.extend(img.iter().map(|&v| 255 - v));
        b.extend(img.iter().map(|&v| v / 2));
        b.extend(img.iter().map(|&v| v ^ 0x55));
    }
    let labels = (0..n as i64).map(|i| i % 3).collect();
    let names = vec!["a".into(), "b".into(), "c".into()];
    PairedDataset::from_parts(a, [1, h, w], b, [3, h, w], Some(labels), names, "related").unwrap()
}

#[test]
fn jitter_is_the_same_on_both_sides_of_a_pair() {
    let data = related_pairs();
    let on_device = data.to_device(Device::Cpu);
    let (h, w) = data.size();
    let jitter = Jitter {
        crop: Some((4, 7)),
        flip: true,
    };
    assert_eq!(jitter.output_size((h, w)), (4, 7));
    let (ch, cw) = (4, 7);
    let mut batcher = EpochBatcher::new(data.len(), 5, 3).unwrap();
    let (mut flipped, mut kept, mut windows) = (0, 0, std::collections::HashSet::new());
    for step in 0..12 {
        let idx = batcher.indices(step);
        let p = jitter.params(3, step, idx.len(), (h, w)).unwrap();
        let (x, y, labels) = on_device.batch(&idx, &p);
        assert_eq!(x.size(), [5, 1, 4, 7]);
        assert_eq!(y.size(), [5, 3, 4, 7]);
        let want_labels: Vec<i64> = idx.iter().map(|i| i % 3).collect();
        assert_eq!(Vec::<i64>::try_from(labels.unwrap()).unwrap(), want_labels);
        let (xs, ys) = (values(&x), values(&y));
        for (k, &i) in idx.iter().enumerate() {
            let (top, left, flip) = (p.top[k] as usize, p.left[k] as usize, p.flip[k]);
            windows.insert((top, left));
            if flip {
                flipped += 1
            } else {
                kept += 1
            }
            for r in 0..ch {
                for q in 0..cw {
                    let col = left + if flip { cw - 1 - q } else { q };
                    let src = data.a[i as usize * h * w + (top + r) * w + col];
                    let out = (k * ch + r) * cw + q;
                    assert_eq!(xs[out], scaled(src), "step {step} pair {k} A ({r}, {q})");
                    // B's channels, from A's output pixel: the relation survives.
                    let plane = ch * cw;
                    let b_at = |c: usize| ys[(k * 3 + c) * plane + r * cw + q];
                    assert_eq!(b_at(0), scaled(255 - src));
                    assert_eq!(b_at(1), scaled(src / 2));
                    assert_eq!(b_at(2), scaled(src ^ 0x55));
                }
            }
        }
    }
    assert!(flipped > 10 && kept > 10, "{flipped} flipped, {kept} kept");
    assert!(windows.len() > 10, "only {} windows", windows.len());

    // The relation also holds as tensors: B0 = -A in [-1, 1] (up to float rounding).
    let idx = batcher.indices(99);
    let p = jitter.params(3, 99, idx.len(), (h, w)).unwrap();
    let (x, y, _) = on_device.batch(&idx, &p);
    assert!((y.narrow(1, 0, 1) + x).abs().max().double_value(&[]) < 1e-6);
}

#[test]
fn jitter_of_batch_k_is_reproducible_and_differs_between_k() {
    let jitter = Jitter {
        crop: Some((28, 30)),
        flip: true,
    };
    let size = (32, 36);
    let p = |seed, k| jitter.params(seed, k, 16, size).unwrap();
    for k in 0..20 {
        assert_eq!(p(5, k), p(5, k), "step {k}");
        assert_ne!(p(5, k), p(5, k + 1), "steps {k} and {}", k + 1);
        assert_ne!(p(5, k), p(6, k), "seeds at step {k}");
        let q = p(5, k);
        assert!(q.top.iter().all(|t| (0..=4).contains(t)));
        assert!(q.left.iter().all(|l| (0..=6).contains(l)));
    }
    // Crop and flip are drawn independently: turning one off leaves the other's draws.
    let crop_only = Jitter {
        flip: false,
        ..jitter
    };
    let flip_only = Jitter {
        crop: None,
        ..jitter
    };
    let (both, c, f) = (
        p(5, 3),
        crop_only.params(5, 3, 16, size).unwrap(),
        flip_only.params(5, 3, 16, size).unwrap(),
    );
    assert_eq!((&c.top, &c.left), (&both.top, &both.left));
    assert!(!c.flip.contains(&true));
    assert_eq!(f.flip, both.flip);
    assert_eq!((f.crop, f.top.iter().sum::<i64>()), (size, 0));

    // No crop, no flip: the batch is the images.
    let data = related_pairs();
    let on_device = data.to_device(Device::Cpu);
    let none = Jitter::default().params(1, 2, 3, data.size()).unwrap();
    assert!(none.is_identity());
    assert_eq!(none, JitterParams::none(3, data.size()));
    let (x, _, _) = on_device.batch(&[7, 0, 3], &none);
    let want: Vec<f32> = [7usize, 0, 3]
        .iter()
        .flat_map(|&i| data.a[i * 60..(i + 1) * 60].iter().map(|&v| scaled(v)))
        .collect();
    assert_eq!(values(&x), want);
    // Flip only: each row reversed or not.
    let f = flip_only.params(1, 2, 3, data.size()).unwrap();
    let (x, _, _) = on_device.batch(&[7, 0, 3], &f);
    let xs = values(&x);
    for (k, &i) in [7usize, 0, 3].iter().enumerate() {
        for r in 0..6 {
            for q in 0..10 {
                let col = if f.flip[k] { 9 - q } else { q };
                assert_eq!(
                    xs[k * 60 + r * 10 + q],
                    scaled(data.a[i * 60 + r * 10 + col])
                );
            }
        }
    }

    // Crops that do not fit are errors, not panics.
    let e = Jitter {
        crop: Some((7, 4)),
        flip: false,
    }
    .params(0, 0, 2, data.size())
    .unwrap_err();
    assert!(
        matches!(e, Error::Options(_)) && e.to_string().contains("7x4"),
        "{e}"
    );
}

#[test]
#[should_panic(expected = "out of range")]
fn bad_indices_panic_before_reaching_the_device() {
    let on_device = related_pairs().to_device(Device::Cpu);
    let _ = on_device.batch(&[8], &JitterParams::none(1, (6, 10)));
}

#[test]
fn sobel_edges_of_a_single_bright_pixel() {
    // Two 3x3 images: a single pixel of 255 (then 100) in the middle.
    let mut pixels = vec![0u8; 18];
    pixels[4] = 255;
    pixels[9 + 4] = 100;
    let grey = ImageDataset::from_parts(
        pixels,
        vec![1, 0],
        [1, 3, 3],
        vec!["t-shirt".into(), "trouser".into()],
        "tiny",
    )
    .unwrap();
    let edges = PairedDataset::edges(grey).unwrap();
    assert_eq!(edges.len(), 2);
    assert_eq!(
        (
            edges.channels_a,
            edges.channels_b,
            edges.height,
            edges.width
        ),
        (1, 1, 7, 7)
    );
    assert_eq!(edges.labels, Some(vec![1, 0]));
    assert_eq!(edges.class_names, ["t-shirt", "trouser"]);
    assert!(edges.source.contains("edges of tiny"), "{}", edges.source);
    // B: the image padded by 2, the bright pixel at (3, 3).
    let mut b0 = [0u8; 49];
    b0[3 * 7 + 3] = 255;
    assert_eq!(&edges.b[..49], &b0);

    // By hand, with v the pixel / 255 (1 then 100/255) and the kernels' weights:
    // - the 4 diagonal neighbours see it at a corner: |gx| = |gy| = v, so
    //   A = round(255 sqrt(2) v / 4): 255 -> round(90.156) = 90, 100 -> round(35.355) = 35;
    // - the 4 side neighbours see it with weight 2 on one axis: A = round(255 * 2v / 4):
    //   255 -> round(127.5) = 128 (halves round up), 100 -> round(50) = 50;
    // - the pixel itself and everything further away: 0.
    for (img, diag, side) in [(0, 90, 128), (1, 35, 50)] {
        #[rustfmt::skip]
        let mid = [
            diag, side, diag,
            side, 0,    side,
            diag, side, diag,
        ];
        let mut want = [0u8; 49];
        for r in 0..3 {
            for c in 0..3 {
                want[(2 + r) * 7 + 2 + c] = mid[r * 3 + c];
            }
        }
        assert_eq!(&edges.a[img * 49..(img + 1) * 49], &want, "image {img}");
    }
}

#[test]
fn sobel_edges_of_a_step_and_the_clamp() {
    // One 1x4 image: 0 0 255 255, padded to 5x8; the interesting row is row 2.
    let grey = ImageDataset::from_parts(
        vec![0, 0, 255, 255],
        vec![0],
        [1, 1, 4],
        vec!["".into()],
        "step",
    )
    .unwrap();
    let edges = PairedDataset::edges(grey).unwrap();
    assert_eq!(edges.size(), (5, 8));
    let row = |r: usize| &edges.a[r * 8..(r + 1) * 8];
    // Row 2 (the image row), column c sees its left/right neighbours with weight 2 only
    // (rows 1 and 3 are black): gx = 2 (x[c+1] - x[c-1]), gy = 0.
    // Padded row: x = 0 0 0 0 1 1 0 0, so 2 |x[c+1] - x[c-1]| = 0 0 0 2 2 2 2 0 and
    // A = round(255 * that / 4) = round(127.5) = 128 (halves round up) there.
    assert_eq!(row(2), &[0, 0, 0, 128, 128, 128, 128, 0]);
    // Rows 1 and 3 see row 2 with weights 1 (corners) and 2 (middle):
    // gx = x[c+1] - x[c-1] = 0 0 0 1 1 -1 -1 0,
    // gy = ±(x[c-1] + 2 x[c] + x[c+1]) = 0 0 0 1 3 3 1 0;
    // A = round(255 sqrt(gx^2 + gy^2) / 4): sqrt(2) -> round(90.16) = 90,
    // sqrt(10) -> round(201.60) = 202.
    let edge_row = [0, 0, 0, 90, 202, 202, 90, 0];
    assert_eq!(row(1), &edge_row);
    assert_eq!(row(3), &edge_row);
    assert_eq!(row(0), &[0; 8]);

    // A bright 3x3 square, padded to 7x7 (rows and columns 2..=4 are 1).
    let square =
        ImageDataset::from_parts(vec![255; 9], vec![0], [1, 3, 3], vec!["".into()], "sq").unwrap();
    let edges = PairedDataset::edges(square).unwrap();
    let at = |r: usize, c: usize| edges.a[r * 7 + c];
    // The centre: every neighbour is 1, gx = gy = 0.
    assert_eq!(at(3, 3), 0);
    // Above the top middle: the row below is 1 1 1, gy = 1 + 2 + 1 = 4, gx = 0:
    // 255 * 4 / 4 = 255 exactly, the top of the range.
    assert_eq!(at(1, 3), 255);
    // Above the top-left corner: the row below is 0 1 1, gy = 2 + 1 = 3, gx = 1 - 0 = 1:
    // round(255 sqrt(10) / 4) = 202.
    assert_eq!(at(1, 2), 202);
    // The outer diagonal of the corner: one pixel at a corner, gx = gy = 1 -> 90.
    assert_eq!(at(1, 1), 90);
    // The square's corner: gx = gy = 2 + 1 = 3, 255 sqrt(18) / 4 = 270.4, clamped to 255.
    assert_eq!(at(2, 2), 255);

    let rgb = ImageDataset::synthetic(2, [3, 4, 4], 1, 0).unwrap();
    assert!(matches!(PairedDataset::edges(rgb), Err(Error::Options(_))));
}

#[test]
fn options_deserialize() {
    let o: PairedOptions =
        serde_json::from_str(r#"{"load_size": [32, 48], "channels_a": 1, "direction": "b-to-a"}"#)
            .unwrap();
    assert_eq!(
        o,
        PairedOptions {
            load_size: (32, 48),
            channels_a: 1,
            channels_b: 3,
            direction: Direction::BToA,
        }
    );
    assert_eq!(Direction::default().to_string(), "a-to-b");
    assert!(serde_json::from_str::<PairedOptions>(r#"{"load": [1, 2]}"#).is_err());
    let j: Jitter = serde_json::from_str(r#"{"crop": [28, 28], "flip": true}"#).unwrap();
    assert_eq!(
        j,
        Jitter {
            crop: Some((28, 28)),
            flip: true
        }
    );
    assert_eq!(
        serde_json::from_str::<Jitter>("{}").unwrap(),
        Jitter::default()
    );
}

#[test]
fn real_fashion_mnist_edges() {
    let dir = Path::new("/usr/share/datasets/fashion-mnist");
    if !dir.is_dir() {
        // Straight to stderr, past the test harness's capture, so the skip shows.
        let _ = writeln!(
            std::io::stderr(),
            "SKIP real_fashion_mnist_edges: {} is absent (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    for (split, n) in [(Split::Train, 60000), (Split::Test, 10000)] {
        let grey = ImageDataset::mnist_dir(dir, split).unwrap();
        let start = Instant::now();
        let edges = PairedDataset::edges(grey).unwrap();
        eprintln!(
            "edges of {n} ({split}): {:.3} s",
            start.elapsed().as_secs_f64()
        );
        assert_eq!(edges.len(), n);
        assert_eq!(
            (
                edges.channels_a,
                edges.channels_b,
                edges.height,
                edges.width
            ),
            (1, 1, 32, 32)
        );
        let labels = edges.labels.as_ref().unwrap();
        assert!(labels.iter().all(|l| (0..10).contains(l)));
        assert_eq!(edges.n_classes(), 10);
        assert_eq!(edges.bytes(), n * 2 * 1024 + n * 8);
        // The outer ring of A is black (2 pixels of padding), and images have edges.
        for img in edges.a.chunks(1024).take(100) {
            assert!(img[..32].iter().all(|&v| v == 0));
            assert!(img.iter().any(|&v| v > 100));
        }
        let on_device = edges.to_device(Device::Cpu);
        let jitter = Jitter {
            crop: Some((28, 28)),
            flip: true,
        };
        let p = jitter.params(0, 0, 64, edges.size()).unwrap();
        let idx = EpochBatcher::new(n, 64, 0).unwrap().indices(0);
        let (x, y, l) = on_device.batch(&idx, &p);
        assert_eq!(
            (x.size(), y.size()),
            (vec![64, 1, 28, 28], vec![64, 1, 28, 28])
        );
        assert_eq!(l.unwrap().size(), [64]);
    }
    let e = PairedDataset::edges_dir(dir, Split::Test).unwrap();
    assert_eq!(e.len(), 10000);
    assert!(e.source.contains("(test)"), "{}", e.source);
}

/// The jittered batch computed on the host, pixel by pixel: `[B, C, crop_h, crop_w]` of one
/// side with `c` channels.
fn host_jitter(
    pixels: &[u8],
    c: usize,
    size: (usize, usize),
    idx: &[i64],
    p: &JitterParams,
) -> Vec<f32> {
    let ((h, w), (ch, cw)) = (size, p.crop);
    let mut out = Vec::new();
    for (k, &i) in idx.iter().enumerate() {
        for channel in 0..c {
            for r in 0..ch {
                for q in 0..cw {
                    let col = p.left[k] as usize + if p.flip[k] { cw - 1 - q } else { q };
                    let row = p.top[k] as usize + r;
                    out.push(scaled(
                        pixels[((i as usize * c + channel) * h + row) * w + col],
                    ));
                }
            }
        }
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn device_jitter_matches_the_host(
        n in 1usize..5, h in 1usize..7, w in 1usize..7, ca_rgb: bool, cb_rgb: bool,
        crop in proptest::option::of((1usize..7, 1usize..7)), flip: bool,
        seed: u64, step in 0u64..1000, batch in 1usize..6,
    ) {
        let (ca, cb) = (if ca_rgb { 3 } else { 1 }, if cb_rgb { 3 } else { 1 });
        let a: Vec<u8> = (0..n * ca * h * w).map(|v| (v * 7 % 256) as u8).collect();
        let b: Vec<u8> = (0..n * cb * h * w).map(|v| (v * 11 % 256) as u8).collect();
        let data = PairedDataset::from_parts(a, [ca, h, w], b, [cb, h, w], None, vec![], "p").unwrap();
        let jitter = Jitter { crop, flip };
        let Ok(p) = jitter.params(seed, step, batch, (h, w)) else {
            // Only crops that do not fit are refused.
            let (ch, cw) = crop.unwrap();
            proptest::prop_assert!(ch > h || cw > w);
            return Ok(());
        };
        let idx: Vec<i64> = (0..batch).map(|k| ((k as u64 * 31 + step) % n as u64) as i64).collect();
        let (x, y, _) = data.to_device(Device::Cpu).batch(&idx, &p);
        let (ch, cw) = jitter.output_size((h, w));
        proptest::prop_assert_eq!(x.size(), vec![batch as i64, ca as i64, ch as i64, cw as i64]);
        proptest::prop_assert_eq!(values(&x), host_jitter(&data.a, ca, (h, w), &idx, &p));
        proptest::prop_assert_eq!(values(&y), host_jitter(&data.b, cb, (h, w), &idx, &p));
    }
}
