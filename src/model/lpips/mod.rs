//! LPIPS v0.1 (Zhang et al.): scaling layer → ImageNet trunk (AlexNet or VGG16) → per-tap unit
//! normalization over channels → squared difference → learned 1×1 head → spatial mean → sum.
//! Also the multi-scale form FSE trains with (the image and its 2× and 4× halvings).

mod trunk;

pub use trunk::{Trunk, TrunkKind};

use burn::module::{Module, Param};
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use rayon::prelude::*;

use super::cpu_tensor::{is_cpu_inference, with_values};
use super::loader::{Loader, tensor_from_vec};
use crate::model::resample::downscale_half;
use crate::weights::{StoredTensor, TensorStore, WeightsError};

const SHIFT: [f32; 3] = [-0.030, -0.088, -0.188];
const SCALE: [f32; 3] = [0.458, 0.448, 0.450];

#[derive(Module, Debug)]
pub struct Lpips {
    pub trunk: Trunk,
    /// `lin{k}.model.1.weight`, `[1, C_k, 1, 1]`.
    pub lins: Vec<Param<Tensor<4>>>,
    shift: Tensor<4>,
    scale: Tensor<4>,
}

/// Per-sample distances, total and per tap.
#[derive(Debug, Clone)]
pub struct LpipsDistance {
    /// `[B]`.
    pub total: Tensor<1>,
    /// Five `[B]` terms that sum to `total`.
    pub per_layer: Vec<Tensor<1>>,
}

/// One tap's term for each of `b` pairs, from the features of both batches `[2b, C, n]`
/// (first batch, then second) and the head's weights `[C]`: the mean over the `n` positions
/// of `Σ_c w_c · (f0/‖f0‖ − f1/‖f1‖)²`, the norms over channels (+1e-10), as `distance`
/// computes it with burn's ops.
fn head_distances(features: &[f32], w: &[f32], b: usize, n: usize) -> Vec<f32> {
    let c = w.len();
    let (first, second) = features.split_at(b * c * n);
    // ‖f‖ per position, the squares summed over the channels in order (channel planes read
    // whole: the positions of one channel are contiguous)
    let norms = |image: &[f32]| -> Vec<f32> {
        let mut squares = vec![0f32; n];
        for plane in image.chunks_exact(n) {
            squares.iter_mut().zip(plane).for_each(|(s, v)| *s += v * v);
        }
        squares.into_iter().map(|s| s.sqrt() + 1e-10).collect()
    };
    first
        .chunks_exact(c * n)
        .zip(second.chunks_exact(c * n))
        .map(|(f0, f1)| {
            let (n0, n1) = (norms(f0), norms(f1));
            let mut total = 0f32;
            for ((&wk, p0), p1) in w.iter().zip(f0.chunks_exact(n)).zip(f1.chunks_exact(n)) {
                for p in 0..n {
                    let d = p0[p] / n0[p] - p1[p] / n1[p];
                    total += wk * d * d;
                }
            }
            total / n as f32
        })
        .collect()
}

/// Brings LPIPS keys of any published layout to torchvision's `features.{i}` for the trunk and
/// `lin{k}.model.1.weight` for the heads: the LPIPS module state dict (`net.slice{n}.{i}.*`,
/// `lins.{k}.*`), torchvision checkpoints (`features.*`), a `prefix` such as `alex.`.
pub fn normalize_keys(trunk: &TensorStore, lin: &TensorStore, prefix: &str) -> TensorStore {
    let mut out = TensorStore::new(trunk.path());
    let mut put = |k: String, t: &StoredTensor| {
        out.tensors.entry(k).or_insert_with(|| t.clone());
    };
    for st in [trunk, lin] {
        for (key, t) in &st.tensors {
            let Some(key) = key.strip_prefix(prefix) else {
                continue;
            };
            if let Some(rest) = key.strip_prefix("net.slice") {
                // net.slice{n}.{idx}.weight → features.{idx}.weight
                if let Some((_, tail)) = rest.split_once('.') {
                    put(format!("features.{tail}"), t);
                }
            } else if let Some(rest) = key.strip_prefix("lins.") {
                put(format!("lin{rest}"), t);
            } else if key.starts_with("features.") || key.starts_with("lin") {
                put(key.to_string(), t);
            }
        }
    }
    out
}

impl Lpips {
    /// Builds LPIPS from a store with `features.*` and `lin{k}.model.1.weight` keys
    /// (see [`normalize_keys`]).
    pub fn load(
        store: &TensorStore,
        kind: TrunkKind,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let l = Loader::new(store, device);
        let trunk = Trunk::load(&l, kind)?;
        let lins = trunk
            .tap_channels()
            .iter()
            .enumerate()
            .map(|(k, &c)| {
                l.at(format!("lin{k}.model.1"))
                    .param("weight", [1, c, 1, 1])
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            trunk,
            lins,
            shift: tensor_from_vec(SHIFT.to_vec(), [1, 3, 1, 1], device),
            scale: tensor_from_vec(SCALE.to_vec(), [1, 3, 1, 1], device),
        })
    }

    fn features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        self.trunk
            .forward((x - self.shift.clone()) / self.scale.clone())
    }

    /// LPIPS between image batches `[B,3,H,W]` in [-1, 1].
    pub fn distance(&self, x0: Tensor<4>, x1: Tensor<4>) -> LpipsDistance {
        let b = x0.dims()[0];
        // on the CPU both batches go through the trunk together (its late layers have few
        // positions per image: one product for all images reads the filters once), and the
        // head runs on the values (a few dozen burn ops on small maps otherwise)
        let per_layer: Vec<Tensor<1>> = if is_cpu_inference(&x0.device()) && x0.dims() == x1.dims()
        {
            let device = x0.device();
            let features = self.features(Tensor::cat(vec![x0, x1], 0));
            // the five taps' heads on the pool's threads
            features
                .par_iter()
                .zip(&self.lins)
                .map(|(f, lin)| {
                    let values = with_values(f, |f| {
                        with_values(&lin.val(), |w| {
                            head_distances(f, w, b, f.len() / (2 * b * w.len()))
                        })
                    });
                    tensor_from_vec(values, [b], &device)
                })
                .collect()
        } else {
            let unit = |f: Tensor<4>| {
                let norm = f.clone().square().sum_dim(1).sqrt().add_scalar(1e-10);
                f / norm
            };
            self.features(x0)
                .into_iter()
                .zip(self.features(x1))
                .zip(&self.lins)
                .map(|((f0, f1), lin)| {
                    let d = (unit(f0) - unit(f1)).square();
                    conv2d(
                        d,
                        lin.val(),
                        None,
                        ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
                    )
                    .mean_dims(&[2, 3])
                    .reshape([b])
                })
                .collect()
        };
        let total = per_layer
            .iter()
            .cloned()
            .reduce(|a, c| a + c)
            .expect("five taps");
        LpipsDistance { total, per_layer }
    }

    /// The FSE training form: LPIPS of the images plus of their 2× and 4× halvings, `[B]`.
    /// AlexNet needs at least 31 pixels at the smallest scale (its two 3×3 max-pools).
    pub fn multiscale(&self, x0: Tensor<4>, x1: Tensor<4>) -> Tensor<1> {
        let (mut a, mut b) = (x0, x1);
        let mut total = self.distance(a.clone(), b.clone()).total;
        for _ in 0..2 {
            a = downscale_half(a);
            b = downscale_half(b);
            total = total + self.distance(a.clone(), b.clone()).total;
        }
        total
    }
}
