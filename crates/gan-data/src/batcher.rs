//! Seeded epoch shuffling that a resumed run replays exactly.

use crate::{Error, Result};

/// The batches of training, as indices into a data set of `n` samples.
///
/// Batch `step` (counted from the start of training) is batch `step % batches_per_epoch()`
/// of epoch `step / batches_per_epoch()`; each epoch is its own permutation of `0..n`, made on
/// the host by a Fisher-Yates shuffle driven by SplitMix64 seeded from `(seed, epoch)`. The
/// last `n % batch` samples of each epoch's permutation are dropped, so every batch is full.
///
/// [`indices`](Self::indices) is a pure function of `(n, batch, seed, stream, step)`: a run
/// resumed at step `k` sees the same batches as one that never stopped. The shuffle is part
/// of that contract: changing it changes the batches of existing runs.
///
/// `stream` ([`with_stream`](Self::with_stream)) gives independent orders from one seed, e.g.
/// one per domain of unpaired data ([`UnpairedBatcher`](crate::UnpairedBatcher)); stream 0 is
/// the order of [`new`](Self::new).
#[derive(Debug, Clone)]
pub struct EpochBatcher {
    n: usize,
    batch: usize,
    seed: u64,
    stream: u64,
    /// The permutation of the epoch last asked for.
    cached: Option<(u64, Vec<i64>)>,
}

impl EpochBatcher {
    /// Batches of `batch` indices into `0..n`, shuffled from `seed`.
    ///
    /// Fails unless `1 <= batch <= n`. The same as [`with_stream`](Self::with_stream) with
    /// stream 0.
    pub fn new(n: usize, batch: usize, seed: u64) -> Result<Self> {
        EpochBatcher::with_stream(n, batch, seed, 0)
    }

    /// Batches of `batch` indices into `0..n`, shuffled from `(seed, stream)`: different
    /// streams of one seed give unrelated orders (epoch `e`'s generator state is
    /// `mix(seed ^ mix(e ^ DATA) ^ mix(stream))`, and `mix(0) = 0`, so stream 0 is exactly
    /// the order of [`new`](Self::new)).
    ///
    /// Fails unless `1 <= batch <= n`.
    pub fn with_stream(n: usize, batch: usize, seed: u64, stream: u64) -> Result<Self> {
        if batch == 0 || batch > n {
            return Err(Error::BatchSize { n, batch });
        }
        Ok(EpochBatcher {
            n,
            batch,
            seed,
            stream,
            cached: None,
        })
    }

    /// Number of samples.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stream (0 for [`new`](Self::new)).
    pub fn stream(&self) -> u64 {
        self.stream
    }

    /// `n / batch`: the remainder is dropped each epoch.
    pub fn batches_per_epoch(&self) -> u64 {
        (self.n / self.batch) as u64
    }

    /// The epoch (0-based) that batch `step` belongs to.
    pub fn epoch(&self, step: u64) -> u64 {
        step / self.batches_per_epoch()
    }

    /// The indices of batch `step` counted from the start of training.
    ///
    /// The epoch's permutation is kept, so consecutive steps of one epoch shuffle once.
    pub fn indices(&mut self, step: u64) -> Vec<i64> {
        let bpe = self.batches_per_epoch();
        let (epoch, pos) = (step / bpe, (step % bpe) as usize);
        let perm = match self.cached.take() {
            Some((e, perm)) if e == epoch => perm,
            _ => self.permutation(epoch),
        };
        let batch = perm[pos * self.batch..(pos + 1) * self.batch].to_vec();
        self.cached = Some((epoch, perm));
        batch
    }

    /// The full permutation of `0..n` of `epoch` (before the remainder is dropped).
    pub fn permutation(&self, epoch: u64) -> Vec<i64> {
        let mut perm: Vec<i64> = (0..self.n as i64).collect();
        let mut rng = SplitMix64(epoch_seed(self.seed, epoch, self.stream));
        for i in (1..perm.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            perm.swap(i, j);
        }
        perm
    }
}

/// The generator state of one epoch: `(seed, epoch, stream)` mixed so that neighbouring
/// epochs, seeds and streams get unrelated sequences. Stream 0 adds `mix(0) = 0`: the state
/// of the single stream that existed before streams did.
fn epoch_seed(seed: u64, epoch: u64, stream: u64) -> u64 {
    // An arbitrary constant, so that (seed, epoch) streams differ from other uses of `seed`.
    const DATA_STREAM: u64 = 0x6461_7461_5f65_706f; // "data_epo"
    mix(seed ^ mix(epoch ^ DATA_STREAM) ^ mix(stream))
}

/// The SplitMix64 finaliser (Steele, Lea and Flood, 2014).
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The SplitMix64 generator.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A number in `0..bound` (`bound > 0`) by multiply-high (Lemire), without rejection:
    /// the bias is below `bound / 2^64`, far below anything measurable here.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        ((self.next() as u128 * bound as u128) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_reference() {
        // First outputs of the reference SplitMix64 seeded with 1234567.
        let mut rng = SplitMix64(1234567);
        let got: Vec<u64> = (0..3).map(|_| rng.next()).collect();
        assert_eq!(
            got,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
    }

    #[test]
    fn bad_batch_sizes_are_errors() {
        assert!(matches!(
            EpochBatcher::new(3, 4, 0),
            Err(Error::BatchSize { n: 3, batch: 4 })
        ));
        assert!(EpochBatcher::new(3, 0, 0).is_err());
        assert!(EpochBatcher::new(0, 0, 0).is_err());
        let one = EpochBatcher::new(4, 4, 0).unwrap();
        assert_eq!(one.batches_per_epoch(), 1);
    }

    #[test]
    fn the_shuffle_is_pinned() {
        // Resumed runs depend on this exact sequence: change it only on purpose.
        let b = EpochBatcher::new(10, 3, 42).unwrap();
        assert_eq!(b.permutation(0), [1, 6, 8, 3, 0, 2, 4, 9, 7, 5]);
    }

    #[test]
    fn stream_zero_is_the_old_order_and_streams_differ() {
        assert_eq!(mix(0), 0);
        let old = EpochBatcher::new(10, 3, 42).unwrap();
        let zero = EpochBatcher::with_stream(10, 3, 42, 0).unwrap();
        let (a, b) = (
            EpochBatcher::with_stream(10, 3, 42, 0xA).unwrap(),
            EpochBatcher::with_stream(10, 3, 42, 0xB).unwrap(),
        );
        for epoch in 0..4 {
            assert_eq!(zero.permutation(epoch), old.permutation(epoch));
            assert_ne!(a.permutation(epoch), b.permutation(epoch), "epoch {epoch}");
            assert_ne!(
                a.permutation(epoch),
                old.permutation(epoch),
                "epoch {epoch}"
            );
        }
        // Pinned, like the stream-0 shuffle above.
        assert_eq!((a.stream(), b.stream()), (0xA, 0xB));
        assert_eq!(a.permutation(0), [5, 1, 4, 2, 9, 8, 0, 3, 7, 6]);
        assert_eq!(b.permutation(0), [2, 4, 6, 3, 1, 0, 9, 5, 7, 8]);
    }
}
