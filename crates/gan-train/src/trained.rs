//! Loading a trained GAN generator for sampling and evaluation.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gan_data::Mixture2d;
use gan_models::{Generator, TranslationSpec, Translator};
use gan_tensor::seed_all;
use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::checkpoint;
use crate::config::{DataConfig, ModelConfig, TestMode, TrainConfig};
use crate::data::{load_pairs, load_unpaired, DataInfo};
use crate::engine::layout;
use crate::error::{Error, Result};
use crate::family::cyclegan::{domain_tensors, Way};
use crate::family::gan::sample_generator;
use crate::family::pix2pix::{pair_tensors, translate};
use crate::family::{copy_into, sorted_vars};
use crate::run_dir::RunDir;
use crate::scoring::{self, BestRecord};

/// Which checkpoint of a run to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhichCheckpoint {
    /// The newest in `checkpoints/`.
    Latest,
    /// The one `best/best.json` names.
    Best,
    /// A checkpoint folder.
    Dir(PathBuf),
}

impl std::str::FromStr for WhichCheckpoint {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "latest" => WhichCheckpoint::Latest,
            "best" => WhichCheckpoint::Best,
            other => WhichCheckpoint::Dir(checkpoint::parse_name(other)?),
        })
    }
}

/// Loads the checkpoint `which` names in `run`: for `latest`, the newest one that verifies,
/// with the newer ones that fail verification (left where they are: sampling and evaluation
/// change nothing on disk). A named checkpoint that fails is an error saying why.
pub(crate) fn load_checkpoint(
    run: &RunDir,
    which: &WhichCheckpoint,
) -> Result<(checkpoint::Loaded, Vec<checkpoint::Rejected>)> {
    Ok(match which {
        WhichCheckpoint::Latest => {
            let (loaded, rejected) = checkpoint::newest_verified(&run.checkpoints())?;
            let loaded = loaded.ok_or_else(|| match rejected.first() {
                Some(r) => Error::CorruptCheckpoint {
                    path: r.path.clone(),
                    reason: format!(
                        "{} (and no other checkpoint of {} verifies)",
                        r.reason,
                        run.root.display()
                    ),
                },
                None => Error::NoCheckpoint(run.root.clone()),
            })?;
            (loaded, rejected)
        }
        WhichCheckpoint::Best => {
            let best = BestRecord::read(&run.best())?.ok_or_else(|| Error::Config {
                key: "--checkpoint best".into(),
                message: format!(
                    "{} has no best checkpoint (set eval.best in the config)",
                    run.root.display()
                ),
            })?;
            (checkpoint::load(&best.checkpoint)?, Vec::new())
        }
        WhichCheckpoint::Dir(d) => {
            // A folder, or a checkpoint's name under `checkpoints/` (`step-000000600`).
            (
                checkpoint::load(&checkpoint::resolve(&run.checkpoints(), d))?,
                Vec::new(),
            )
        }
    })
}

/// Copies the `prefix.*` tensors of a checkpoint into `vs` after checking that they are
/// exactly its variables (names, shapes, dtypes).
fn load_network(vs: &VarStore, prefix: &str, loaded: &checkpoint::Loaded) -> Result<()> {
    let vars = sorted_vars(vs);
    let expected = layout(
        &vars
            .iter()
            .map(|(n, t)| (format!("{prefix}.{n}"), t.shallow_clone()))
            .collect::<Vec<_>>(),
    );
    let dot = format!("{prefix}.");
    let subset: BTreeMap<String, Tensor> = loaded
        .tensors
        .iter()
        .filter(|(k, _)| k.starts_with(&dot))
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    checkpoint::check_layout(&loaded.path, &expected, &subset)?;
    copy_into(&vars, prefix, &subset)
}

/// A trained EMA generator loaded from a GAN run folder.
#[derive(Debug)]
pub struct TrainedGenerator {
    /// The run's config.
    pub config: TrainConfig,
    /// What the run trained on.
    pub info: DataInfo,
    /// The checkpoint's step.
    pub step: u64,
    /// The checkpoint folder.
    pub checkpoint: PathBuf,
    /// Newer checkpoints that failed verification and were passed over (`latest` only).
    pub rejected: Vec<checkpoint::Rejected>,
    generator: Generator,
    device: Device,
    truncation: f64,
    _vs: VarStore,
}

impl TrainedGenerator {
    /// Loads the EMA generator of the newest checkpoint in `run_dir` onto `device`.
    pub fn load(run_dir: &Path, device: Device) -> Result<Self> {
        Self::load_which(run_dir, &WhichCheckpoint::Latest, device)
    }

    /// Loads the EMA generator of the newest, the best (`eval.best`) or a given checkpoint.
    pub fn load_which(run_dir: &Path, which: &WhichCheckpoint, device: Device) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let config = TrainConfig::from_toml_file(&run.config())?;
        if !config.model.generates_from_latents() {
            return Err(Error::Config {
                key: "model.family".into(),
                message: format!(
                    "{} is a `{}` run, not a generator of latents",
                    run.root.display(),
                    config.model.name()
                ),
            });
        }
        let (loaded, rejected) = load_checkpoint(&run, which)?;
        let ckpt_path = loaded.path.clone();
        let info = DataInfo::read(&run.data_info())?;
        let mut vs = VarStore::new(device);
        let generator = Generator::new(&vs.root(), &config.generator, &info.spec())
            .map_err(crate::error::build_err("generator"))?;
        load_network(&vs, "g_ema", &loaded)?;
        // For inference only: no gradients (and a traced module can hold the weights as
        // constants).
        vs.freeze();
        Ok(TrainedGenerator {
            config,
            info,
            step: loaded.meta.step,
            checkpoint: ckpt_path,
            rejected,
            generator,
            device,
            truncation: 1.0,
            _vs: vs,
        })
    }

    /// Whether samples need class labels.
    pub fn conditional(&self) -> bool {
        self.generator.conditional()
    }

    /// Samples from now on use the truncation trick with `psi` (StyleGAN2: `w` pulled
    /// towards its tracked average, 1 = none, 0 = the average itself). Any other generator
    /// accepts only 1.
    pub fn set_truncation(&mut self, psi: f64) -> Result<()> {
        if !psi.is_finite() {
            return Err(Error::Config {
                key: "--truncation".into(),
                message: format!("{psi} is not a number"),
            });
        }
        if psi != 1.0 && self.generator.as_stylegan2().is_none() {
            return Err(Error::Config {
                key: "--truncation".into(),
                message: format!(
                    "{psi}: the truncation trick needs a StyleGAN2 generator (this run's is \
                     `{}`)",
                    self.config.generator.arch()
                ),
            });
        }
        self.truncation = psi;
        Ok(())
    }

    /// The StyleGAN2 generator, for style mixing and `ws` (None for other generators).
    pub fn stylegan2(&self) -> Option<&gan_models::StyleGan2Generator> {
        self.generator.as_stylegan2()
    }

    /// The device it runs on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// A style-mixing grid (Karras et al. 2019, figure 3; upstream's `style_mixing.py`):
    /// `(rows + 1) x (cols + 1)` images in `[-1, 1]`, row-major. The first row shows `cols`
    /// column sources and the first column `rows` row sources (the corner is white); cell
    /// `(r, c)` is row source `r` with the styles of the layers in `styles` taken from
    /// column source `c`. Latents from `seed`, the generator's constant noise (so that only
    /// the styles differ), the truncation set by [`set_truncation`](Self::set_truncation),
    /// `label` for every image of a conditional model.
    pub fn style_mixing_grid(
        &self,
        rows: i64,
        cols: i64,
        seed: i64,
        styles: std::ops::Range<i64>,
        label: Option<i64>,
    ) -> Result<Tensor> {
        let g = self.stylegan2().ok_or_else(|| Error::Config {
            key: "--run".into(),
            message: format!(
                "style mixing needs a StyleGAN2 generator (this run's is `{}`)",
                self.config.generator.arch()
            ),
        })?;
        let num_ws = g.num_ws();
        if styles.start < 0 || styles.end > num_ws || styles.is_empty() {
            return Err(Error::Config {
                key: "--styles".into(),
                message: format!(
                    "{}-{} is not a range of layers within 0-{} (the generator has {num_ws} \
                     w inputs)",
                    styles.start,
                    styles.end - 1,
                    num_ws - 1
                ),
            });
        }
        if !(1..=64).contains(&rows) || !(1..=64).contains(&cols) {
            return Err(Error::Config {
                key: "--rows/--cols".into(),
                message: format!("{rows} x {cols}: each must be in 1..=64"),
            });
        }
        seed_all(seed);
        let d = self.device;
        let z = Tensor::f_randn([rows + cols, g.latent_dim()], (Kind::Float, Device::Cpu))?
            .to_device(d);
        let y = match (g.conditional(), label) {
            (true, Some(l)) => Some(Tensor::f_full([rows + cols], l, (Kind::Int64, d))?),
            (true, None) => {
                return Err(Error::Config {
                    key: "--class".into(),
                    message: "this generator is class-conditional: say which class".into(),
                })
            }
            (false, _) => None,
        };
        tch::no_grad(|| -> Result<Tensor> {
            let ws = g.ws(&z, y.as_ref(), self.truncation, false)?;
            let (w_rows, w_cols) = (ws.narrow(0, 0, rows), ws.narrow(0, rows, cols));
            let layer = Tensor::f_arange(num_ws, (Kind::Int64, d))?;
            let from_col = layer
                .f_ge(styles.start)?
                .f_logical_and(&layer.f_lt(styles.end)?)?
                .f_reshape([1, 1, num_ws, 1])?;
            // [rows, cols, num_ws, w_dim]: row r's ws with column c's in `styles`.
            let mixed = w_cols
                .f_unsqueeze(0)?
                .f_where_self(&from_col, &w_rows.f_unsqueeze(1)?)?;
            let mixed = mixed.f_reshape([rows * cols, num_ws, -1])?;
            let synth = |w: &Tensor| g.synthesize(w, gan_models::NoiseMode::Const, false);
            let (top, left, cells) = (synth(&w_cols)?, synth(&w_rows)?, synth(&mixed)?);
            let corner = top.f_narrow(0, 0, 1)?.f_ones_like()?;
            let mut images = vec![corner];
            images.extend((0..cols).map(|c| top.narrow(0, c, 1)));
            for r in 0..rows {
                images.push(left.narrow(0, r, 1));
                images.push(cells.narrow(0, r * cols, cols));
            }
            Ok(Tensor::f_cat(&images, 0)?.f_clamp(-1.0, 1.0)?)
        })
    }

    /// Size of the latent vector.
    pub fn latent_dim(&self) -> i64 {
        self.generator.latent_dim()
    }

    /// `n` samples from latents seeded by `seed`; `labels` (`[n]`, any device) for a
    /// conditional generator.
    pub fn sample(&self, n: i64, seed: i64, labels: Option<&Tensor>) -> Result<Tensor> {
        self.check_memory(n)?;
        sample_generator(
            &self.generator,
            n,
            seed,
            labels,
            self.truncation,
            self.device,
        )
    }

    /// Fails clearly, before allocating, when `n` samples (their latents, the float output
    /// and a byte copy) cannot fit in the memory the process may use.
    pub fn check_memory(&self, n: i64) -> Result<()> {
        let numel: u64 = self.info.shape.iter().map(|&d| d.max(1) as u64).product();
        let per_sample = (self.latent_dim().max(1) as u64 + 2 * numel) * 4 + numel;
        gan_tensor::memory::check_fits(
            format!("{n} samples (--n)"),
            gan_tensor::memory::bytes_of(n.max(0) as u64, per_sample),
        )?;
        Ok(())
    }

    /// `n` images in `[-1, 1]` on the CPU, generated in chunks from one latent batch seeded
    /// by `seed` (drawn on the CPU: the same latents on every device); `labels` as above.
    pub fn generate_images(&self, n: i64, seed: i64, labels: Option<&Tensor>) -> Result<Tensor> {
        self.check_memory(n)?;
        scoring::generate_chunked(
            &self.generator,
            n,
            seed,
            labels,
            self.truncation,
            self.device,
        )
    }

    /// Samples for given latents `z` (`[n, latent_dim]`) and labels.
    pub fn generate(&self, z: &Tensor, labels: Option<&Tensor>) -> Result<Tensor> {
        let z = z.to_device(self.device);
        let labels = labels.map(|l| l.to_device(self.device));
        Ok(tch::no_grad(|| {
            self.generator
                .forward_truncated(&z, labels.as_ref(), self.truncation)
        })?)
    }

    /// The generator's tensors by var-store name (weights and batch-norm statistics), on
    /// the CPU: what `gan export --format safetensors` writes.
    pub fn weights(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            ._vs
            .variables()
            .into_iter()
            .map(|(n, t)| (n, t.detach().to_device(Device::Cpu)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The generator in eval mode as a TorchScript module, traced on a batch of `batch`
    /// latents (and labels): `forward(z)` or `forward(z, y)` gives what [`Self::generate`]
    /// gives. Shapes that depend on the batch are written with `-1`, so the module takes any
    /// batch size.
    pub fn trace(&self, batch: i64) -> Result<tch::CModule> {
        let z = Tensor::f_randn([batch, self.latent_dim()], (Kind::Float, self.device))?;
        let mut inputs = vec![z];
        if self.conditional() {
            let k = self.info.class_names.len().max(1) as i64;
            inputs.push(Tensor::arange(batch, (Kind::Int64, self.device)).remainder(k));
        }
        // Once outside the trace, so that an error is an error and not a half-traced module.
        let _ = self.generator.forward_t(&inputs[0], inputs.get(1), false)?;
        let mut failed = None;
        let module = tch::no_grad(|| {
            tch::CModule::create_by_tracing(
                "Generator",
                "forward",
                &inputs,
                &mut |xs: &[Tensor]| match self.generator.forward_t(&xs[0], xs.get(1), false) {
                    Ok(x) => vec![x],
                    Err(e) => {
                        failed = Some(e);
                        vec![xs[0].shallow_clone()]
                    }
                },
            )
        })?;
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(module),
        }
    }

    /// The mixture the run was trained on, for 2D runs.
    pub fn mixture(&self) -> Option<Mixture2d> {
        self.config.data.mixture_kind().map(Mixture2d::new)
    }
}

/// A trained translator loaded from a run folder: `G: A -> B` of a pix2pix run, or either
/// generator of a cyclegan run (`G_A: A -> B`, `G_B: B -> A`).
#[derive(Debug)]
pub struct TrainedTranslator {
    /// The run's config.
    pub config: TrainConfig,
    /// What the run trained on (`input_shape` is A's, `shape` B's).
    pub info: DataInfo,
    /// The checkpoint's step.
    pub step: u64,
    /// The checkpoint folder.
    pub checkpoint: PathBuf,
    /// Newer checkpoints that failed verification and were passed over (`latest` only).
    pub rejected: Vec<checkpoint::Rejected>,
    /// The run's test-time behaviour (`model.test_mode`), the default of [`translate`](Self::translate).
    pub test_mode: TestMode,
    /// Images per forward pass at test time (`model.test_batch`).
    pub test_batch: i64,
    /// Which way it translates.
    pub direction: Way,
    translator: Translator,
    device: Device,
    _vs: VarStore,
}

impl TrainedTranslator {
    /// Loads the A -> B translator of the newest, the best or a given checkpoint of a
    /// pix2pix or cyclegan run.
    pub fn load_which(run_dir: &Path, which: &WhichCheckpoint, device: Device) -> Result<Self> {
        Self::load_direction(run_dir, which, Way::AToB, device)
    }

    /// Loads the translator of `direction` (pix2pix runs have only `a-to-b`).
    pub fn load_direction(
        run_dir: &Path,
        which: &WhichCheckpoint,
        direction: Way,
        device: Device,
    ) -> Result<Self> {
        let run = RunDir::new(run_dir);
        let config = TrainConfig::from_toml_file(&run.config())?;
        let (generator, test_mode, test_batch, prefix) = match (&config.model, direction) {
            (ModelConfig::Pix2pix(p), Way::AToB) => {
                (p.generator.clone(), p.test_mode, p.test_batch, "g")
            }
            (ModelConfig::Pix2pix(_), Way::BToA) => {
                return Err(Error::Config {
                    key: "--direction".into(),
                    message: format!(
                        "b-to-a: {} is a pix2pix run, which learns A -> B only (cyclegan \
                         runs translate both ways)",
                        run.root.display()
                    ),
                })
            }
            (ModelConfig::Cyclegan(c), Way::AToB) => {
                (c.generator.clone(), TestMode::Eval, c.test_batch, "g.a")
            }
            (ModelConfig::Cyclegan(c), Way::BToA) => {
                (c.generator.clone(), TestMode::Eval, c.test_batch, "g.b")
            }
            (other, _) => {
                return Err(Error::Config {
                    key: "model.family".into(),
                    message: format!(
                        "{} is a `{}` run, not a translator (use gan sample)",
                        run.root.display(),
                        other.name()
                    ),
                })
            }
        };
        let (loaded, rejected) = load_checkpoint(&run, which)?;
        let ckpt_path = loaded.path.clone();
        let info = DataInfo::read(&run.data_info())?;
        let (Some(a), [cb, h, w]) = (info.input_shape.as_deref(), info.shape.as_slice()) else {
            return Err(Error::Config {
                key: "data.json".into(),
                message: format!(
                    "{} does not describe paired data",
                    run.data_info().display()
                ),
            });
        };
        let spec = match direction {
            Way::AToB => TranslationSpec::new(a[0], *cb, *h, *w),
            Way::BToA => TranslationSpec::new(*cb, a[0], *h, *w),
        };
        let vs = VarStore::new(device);
        let translator = Translator::new(&vs.root(), &generator, &spec)?;
        load_network(&vs, prefix, &loaded)?;
        Ok(TrainedTranslator {
            config,
            info,
            step: loaded.meta.step,
            checkpoint: ckpt_path,
            rejected,
            test_mode,
            test_batch,
            direction,
            translator,
            device,
            _vs: vs,
        })
    }

    /// `[C, H, W]` of the inputs (A's; B's for `b-to-a`).
    pub fn input_shape(&self) -> Vec<i64> {
        match self.direction {
            Way::AToB => self.info.input_shape.clone().unwrap_or_default(),
            Way::BToA => self.info.shape.clone(),
        }
    }

    /// Whether [`held_out`](Self::held_out)'s second tensor holds the true targets of its
    /// first: paired data, and the built-in `hot` task (whose mapping is known).
    pub fn exact_targets(&self) -> bool {
        self.config.data.is_paired() || matches!(self.config.data, DataConfig::Hot { .. })
    }

    /// `[C, H, W]` of the outputs.
    pub fn output_shape(&self) -> Vec<i64> {
        match self.direction {
            Way::AToB => self.info.shape.clone(),
            Way::BToA => self.info.input_shape.clone().unwrap_or_default(),
        }
    }

    /// Translates `u8` images `[N, Ca, H, W]` (H and W multiples of the U-Net's size unit;
    /// any size it accepts) into `u8` images `[N, Cb, H, W]` on the CPU, `test_batch` at a
    /// time. `mode`'s dropout draws come from torch's generator seeded by `seed`, so the
    /// same call gives the same images.
    pub fn translate(&self, a: &Tensor, mode: TestMode, seed: i64) -> Result<Tensor> {
        let size = a.size();
        let expected_c = self.input_shape().first().copied().unwrap_or(0);
        if size.len() != 4 || size[1] != expected_c || a.kind() != tch::Kind::Uint8 {
            return Err(Error::Config {
                key: "--input".into(),
                message: format!(
                    "expected uint8 images [N, {expected_c}, H, W], got {:?} {size:?}",
                    a.kind()
                ),
            });
        }
        seed_all(seed);
        translate(&self.translator, a, mode, self.test_batch, self.device)
    }

    /// The run's held-out pairs (`u8` A and B, centre-cropped as the run trained, and the
    /// labels), for evaluation: an error naming the key when the data has no test split.
    /// For a cyclegan run: this direction's test inputs, the test images of the target
    /// domain (the exact targets of the inputs when [`exact_targets`](Self::exact_targets)),
    /// and the inputs' labels.
    pub fn held_out(&self) -> Result<(Tensor, Tensor, Option<Vec<i64>>)> {
        let test = self.config.data.with_split(gan_data::Split::Test)?;
        if test.is_unpaired() {
            let (a, b, labels_a, labels_b) =
                domain_tensors(&load_unpaired(&test)?, &self.config.data.jitter());
            return Ok(match self.direction {
                Way::AToB => (a, b, labels_a),
                Way::BToA => (b, a, labels_b),
            });
        }
        Ok(pair_tensors(
            &load_pairs(&test)?,
            &self.config.data.jitter(),
        ))
    }
}
