//! pix2pix's jitter (random crop and horizontal flip, the same for both sides of a pair) and
//! the paired data set on the device.
//!
//! The crop offsets and flips of batch `k` are drawn on the host by SplitMix64 seeded from
//! `(seed, k)` ([`Jitter::params`]), never from torch's generator, so a resumed run replays
//! them; the batch is then cropped and flipped on the device by one gather
//! ([`DevicePairs::batch`]), and the only host-to-device copy per batch is `4 * B` integers
//! (indices, offsets, flips).

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::batcher::{mix, SplitMix64};
use crate::{Error, Result};

/// Random crop and horizontal flip applied identically to the A and B of a pair (pix2pix's
/// `crop` + `flip`, after the resize to `load_size` done at load time). Both are optional;
/// the default (no crop, no flip) leaves the images as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Jitter {
    /// `(height, width)` of a random crop window (uniform over all positions), or none.
    pub crop: Option<(usize, usize)>,
    /// Mirror left-right with probability 1/2.
    pub flip: bool,
}

impl Jitter {
    /// Checks that the crop fits images of `size` `(height, width)` and is not empty.
    pub fn validate(&self, size: (usize, usize)) -> Result<()> {
        if size.0 == 0 || size.1 == 0 {
            return Err(Error::Options(format!(
                "cannot jitter images of {}x{} pixels",
                size.0, size.1
            )));
        }
        if let Some((ch, cw)) = self.crop {
            let (h, w) = size;
            if ch == 0 || cw == 0 || ch > h || cw > w {
                return Err(Error::Options(format!(
                    "crop {ch}x{cw} (height x width) must be at least 1x1 and fit in the \
                     {h}x{w} images"
                )));
            }
        }
        Ok(())
    }

    /// `(height, width)` of the jittered images made from images of `size`.
    pub fn output_size(&self, size: (usize, usize)) -> (usize, usize) {
        self.crop.unwrap_or(size)
    }

    /// The crop offsets and flips of batch `step` (`batch` pairs of `size` `(height,
    /// width)`): a pure function of `(seed, step)` and the arguments.
    ///
    /// For pair `i` of the batch, in order, three SplitMix64 draws give the top offset
    /// (uniform in `0..=H - crop_h`), the left offset (`0..=W - crop_w`) and the flip (the top
    /// bit), whether or not crop and flip are enabled, so enabling one leaves the other's
    /// draws unchanged. Changing this changes the batches of existing runs.
    ///
    /// The same as [`params_stream`](Self::params_stream) with stream 0.
    pub fn params(
        &self,
        seed: u64,
        step: u64,
        batch: usize,
        size: (usize, usize),
    ) -> Result<JitterParams> {
        self.params_stream(seed, step, batch, size, 0)
    }

    /// [`params`](Self::params) on the jitter stream `stream`: a pure function of `(seed,
    /// step, stream)` and the arguments, with draws unrelated to those of other streams (the
    /// generator state is `mix(seed ^ mix(step ^ JITTER) ^ mix(stream))`, and `mix(0) = 0`, so
    /// stream 0 is exactly [`params`](Self::params)). Unpaired data gives each domain its
    /// own stream, so the two domains of a step get independent crops and flips
    /// ([`UnpairedBatcher`](crate::UnpairedBatcher)).
    pub fn params_stream(
        &self,
        seed: u64,
        step: u64,
        batch: usize,
        size: (usize, usize),
        stream: u64,
    ) -> Result<JitterParams> {
        self.validate(size)?;
        let crop = self.output_size(size);
        let (rows, cols) = ((size.0 - crop.0) as u64 + 1, (size.1 - crop.1) as u64 + 1);
        let mut rng = SplitMix64(jitter_seed(seed, step, stream));
        let mut p = JitterParams {
            size,
            crop,
            top: Vec::with_capacity(batch),
            left: Vec::with_capacity(batch),
            flip: Vec::with_capacity(batch),
        };
        for _ in 0..batch {
            p.top.push(rng.below(rows) as i64);
            p.left.push(rng.below(cols) as i64);
            let heads = rng.next() >> 63 == 1;
            p.flip.push(self.flip && heads);
        }
        Ok(p)
    }
}

/// The generator state of one batch's jitter: `(seed, step, stream)` mixed, apart from the
/// epoch shuffle (which uses another constant). Stream 0 adds `mix(0) = 0`: the state of the
/// single stream that existed before streams did.
fn jitter_seed(seed: u64, step: u64, stream: u64) -> u64 {
    const JITTER_STREAM: u64 = 0x6a69_7474_6572_5f5f; // "jitter__"
    mix(seed ^ mix(step ^ JITTER_STREAM) ^ mix(stream))
}

/// The jitter of one batch: for pair `i`, the window of `crop` `(height, width)` whose top
/// left corner is `(top[i], left[i])` in images of `size`, mirrored left-right when
/// `flip[i]`. Made by [`Jitter::params`] or [`JitterParams::none`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterParams {
    /// `(height, width)` of the images it applies to.
    pub size: (usize, usize),
    /// `(height, width)` of the window.
    pub crop: (usize, usize),
    /// Top row of each pair's window.
    pub top: Vec<i64>,
    /// Left column of each pair's window.
    pub left: Vec<i64>,
    /// Whether each pair is mirrored (after the crop).
    pub flip: Vec<bool>,
}

impl JitterParams {
    /// No jitter for `batch` pairs of `size`: the whole image, unflipped.
    pub fn none(batch: usize, size: (usize, usize)) -> Self {
        JitterParams {
            size,
            crop: size,
            top: vec![0; batch],
            left: vec![0; batch],
            flip: vec![false; batch],
        }
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.top.len()
    }

    /// Whether it is for no pair.
    pub fn is_empty(&self) -> bool {
        self.top.is_empty()
    }

    /// Whether it leaves every image as it is.
    pub fn is_identity(&self) -> bool {
        self.crop == self.size && !self.flip.contains(&true)
    }

    /// Why it cannot apply to a batch of `batch` pairs of `size`, if it cannot.
    pub(crate) fn check(
        &self,
        batch: usize,
        size: (usize, usize),
    ) -> std::result::Result<(), String> {
        let (ch, cw) = self.crop;
        if self.size != size {
            return Err(format!(
                "jitter made for {:?} images, used on {size:?}",
                self.size
            ));
        }
        if (self.top.len(), self.left.len(), self.flip.len()) != (batch, batch, batch) {
            return Err(format!(
                "jitter for {}/{}/{} pairs, used on a batch of {batch}",
                self.top.len(),
                self.left.len(),
                self.flip.len()
            ));
        }
        if ch == 0 || cw == 0 || ch > size.0 || cw > size.1 {
            return Err(format!("crop {ch}x{cw} does not fit in {size:?}"));
        }
        let max = ((size.0 - ch) as i64, (size.1 - cw) as i64);
        if let Some(i) = (0..batch)
            .find(|&i| !(0..=max.0).contains(&self.top[i]) || !(0..=max.1).contains(&self.left[i]))
        {
            return Err(format!(
                "crop window of pair {i} at ({}, {}) leaves the image",
                self.top[i], self.left[i]
            ));
        }
        Ok(())
    }
}

/// A paired data set on the device, as `u8`, from
/// [`PairedDataset::to_device`](crate::PairedDataset::to_device).
#[derive(Debug)]
pub struct DevicePairs {
    /// `u8` A images, `[N, Ca, H, W]`.
    pub a: Tensor,
    /// `u8` B images, `[N, Cb, H, W]`.
    pub b: Tensor,
    /// `i64` labels, `[N]`, if the data set has them.
    pub labels: Option<Tensor>,
}

impl DevicePairs {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.a.size().first().map_or(0, |&n| n as usize)
    }

    /// Whether there is no pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the tensors live.
    pub fn device(&self) -> Device {
        self.a.device()
    }

    /// `(height, width)` of both sides.
    pub fn size(&self) -> (usize, usize) {
        match self.a.size()[..] {
            [_, _, h, w] => (h as usize, w as usize),
            _ => (0, 0),
        }
    }

    /// The pairs at `idx`, jittered by `jitter` (the same window and flip for the A and B of
    /// a pair), as floats in `[-1, 1]` (`x / 127.5 - 1`): A `[B, Ca, crop_h, crop_w]`, B
    /// `[B, Cb, crop_h, crop_w]`, and the labels `[B]` if any.
    ///
    /// Everything happens on the device, in one gather per side; the only host-to-device copy
    /// is `idx` and the jitter (`4 * B` integers). With an identity jitter it is a plain
    /// `index_select`, like [`DeviceImages::batch`](crate::DeviceImages::batch).
    ///
    /// # Panics
    /// If an index is outside `0..len()`, or `jitter` was not made for `idx.len()` pairs of
    /// this size (both checked on the host, before anything reaches the device).
    pub fn batch(&self, idx: &[i64], jitter: &JitterParams) -> (Tensor, Tensor, Option<Tensor>) {
        let n = self.len() as i64;
        if let Some(bad) = idx.iter().find(|&&i| !(0..n).contains(&i)) {
            panic!("batch index {bad} is out of range for {n} pairs");
        }
        if let Err(why) = jitter.check(idx.len(), self.size()) {
            panic!("{why}");
        }
        let (idx, [a, b]) = gather_jittered(idx, jitter, [&self.a, &self.b]);
        let labels = self.labels.as_ref().map(|l| l.index_select(0, &idx));
        (a, b, labels)
    }
}

/// The images at `idx` of each of `sides` (`u8`, `[N, C, H, W]`, one device, one `H x W`),
/// cropped and flipped by `jitter` and scaled to `[-1, 1]` (`x / 127.5 - 1`), in one gather
/// per side, and `idx` on the device. The only host-to-device copy is `idx` and the jitter
/// (`4 * B` integers); an identity jitter is a plain `index_select`.
///
/// The caller has checked `idx` and `jitter` (`JitterParams::check`).
pub(crate) fn gather_jittered<const K: usize>(
    idx: &[i64],
    jitter: &JitterParams,
    sides: [&Tensor; K],
) -> (Tensor, [Tensor; K]) {
    let device = sides.first().map_or(Device::Cpu, |t| t.device());
    let scale = |x: Tensor| x.to_kind(Kind::Float) / 127.5 - 1.0;
    if jitter.is_identity() {
        let idx = Tensor::from_slice(idx).to_device(device);
        let out = sides.map(|images| scale(images.index_select(0, &idx)));
        return (idx, out);
    }
    let b = idx.len() as i64;
    let (h, w) = (jitter.size.0 as i64, jitter.size.1 as i64);
    let (ch, cw) = (jitter.crop.0 as i64, jitter.crop.1 as i64);
    // One copy: [idx; top; left; flip].
    let mut host = Vec::with_capacity(4 * idx.len());
    host.extend_from_slice(idx);
    host.extend_from_slice(&jitter.top);
    host.extend_from_slice(&jitter.left);
    host.extend(jitter.flip.iter().map(|&f| i64::from(f)));
    let t = Tensor::from_slice(&host).view([4, b]).to_device(device);
    let (idx, top, left, flip) = (t.get(0), t.get(1), t.get(2), t.get(3));
    let opts = (Kind::Int64, device);
    let i = Tensor::arange(ch, opts).view([1, ch]);
    let j = Tensor::arange(cw, opts).view([1, cw]);
    let rows = top.view([b, 1]) + i; // [B, ch]
                                     // Column j of the window, or cw - 1 - j when mirrored: [B, cw].
    let cols = left.view([b, 1]) + &j + flip.view([b, 1]) * (j * -2 + (cw - 1));
    // Offset of each output pixel within a plane: [B, 1, ch, cw].
    let pixel = rows.view([b, 1, ch, 1]) * w + cols.view([b, 1, 1, cw]);
    let gather = |images: &Tensor| {
        let c = images.size().get(1).copied().unwrap_or(1);
        let plane = h * w;
        let start = idx.view([b, 1, 1, 1]) * (c * plane)
            + Tensor::arange(c, opts).view([1, c, 1, 1]) * plane;
        scale(images.reshape([-1]).take(&(start + &pixel)))
    };
    let out = sides.map(gather);
    (idx, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crops_are_checked() {
        let j = Jitter {
            crop: Some((4, 5)),
            flip: true,
        };
        assert!(j.validate((4, 5)).is_ok());
        assert!(j.validate((5, 4)).is_err());
        assert!(Jitter {
            crop: Some((0, 1)),
            flip: false
        }
        .validate((4, 4))
        .is_err());
        assert!(Jitter::default().validate((1, 1)).is_ok());
        assert!(j.params(0, 0, 3, (3, 9)).is_err());
    }

    #[test]
    fn the_draws_are_pinned() {
        // Resumed runs depend on this exact sequence: change it only on purpose.
        let j = Jitter {
            crop: Some((28, 28)),
            flip: true,
        };
        let p = j.params(42, 7, 6, (32, 30)).unwrap();
        assert_eq!(p.top, [3, 3, 3, 2, 0, 4]);
        assert_eq!(p.left, [1, 2, 2, 1, 1, 0]);
        assert_eq!(p.flip, [false, false, true, false, false, false]);
        assert_eq!((p.size, p.crop), ((32, 30), (28, 28)));
        assert_eq!(j.params_stream(42, 7, 6, (32, 30), 0).unwrap(), p);
        // The streams of the two domains of unpaired data.
        let a = j.params_stream(42, 7, 6, (32, 30), 0xA).unwrap();
        assert_eq!(a.top, [1, 3, 2, 2, 3, 0]);
        assert_eq!(a.left, [1, 1, 1, 1, 2, 0]);
        assert_eq!(a.flip, [false, true, false, false, false, true]);
        let b = j.params_stream(42, 7, 6, (32, 30), 0xB).unwrap();
        assert_eq!(b.top, [2, 4, 4, 1, 1, 0]);
        assert_eq!(b.left, [0, 2, 2, 0, 0, 2]);
        assert_eq!(b.flip, [true, true, false, true, true, true]);
    }

    proptest! {
        #[test]
        fn params_never_panic_and_stay_inside(
            h in 0usize..40, w in 0usize..40, ch in 0usize..40, cw in 0usize..40,
            crop: bool, flip: bool, seed: u64, step: u64, batch in 0usize..9,
        ) {
            let j = Jitter { crop: crop.then_some((ch, cw)), flip };
            if let Ok(p) = j.params(seed, step, batch, (h, w)) {
                prop_assert_eq!(p.len(), batch);
                prop_assert!(p.check(batch, (h, w)).is_ok());
                prop_assert!(flip || !p.flip.contains(&true));
                prop_assert_eq!(&p, &j.params(seed, step, batch, (h, w)).unwrap());
            }
        }
    }
}
