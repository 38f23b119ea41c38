//! Inference-mode BatchNorm (running statistics) and per-channel PReLU of the IResNet trunk.

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use crate::model::cpu_conv::{ChannelAffine, ChannelEpilogue};
use crate::model::cpu_tensor::{MIN_PARALLEL, is_cpu_inference, unfilled, with_values};
use crate::model::loader::{Loader, tensor_from_vec, tensor_to_vec};
use crate::weights::WeightsError;
use rayon::prelude::*;

/// `(x − mean) / sqrt(var + eps) · γ + β` per channel, with the stored running statistics.
#[derive(Module, Debug)]
pub struct BatchNorm {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub running_mean: Tensor<1>,
    pub running_var: Tensor<1>,
    #[module(skip)]
    pub eps: f64,
}

impl BatchNorm {
    pub fn load(l: &Loader, channels: usize, eps: f64) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: l.param("weight", [channels])?,
            bias: l.param("bias", [channels])?,
            running_mean: l.tensor("running_mean", [channels])?,
            running_var: l.tensor("running_var", [channels])?,
            eps,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if is_cpu_inference(&x.device()) {
            // one pass from the input into the output
            let [b, c, h, w] = x.dims();
            let (scale, shift) = self.affine_values();
            // every value written below
            let mut out = unfilled(b * c * h * w);
            with_values(&x, |x| {
                out.par_chunks_exact_mut(h * w)
                    .zip(x.par_chunks_exact(h * w))
                    .enumerate()
                    .with_min_len((MIN_PARALLEL / (h * w).max(1)).max(1))
                    .for_each(|(row, (y, x))| {
                        let (a, t) = (scale[row % c], shift[row % c]);
                        y.iter_mut().zip(x).for_each(|(y, x)| *y = x * a + t);
                    })
            });
            return tensor_from_vec(out, [b, c, h, w], &x.device());
        }
        let c = self.running_mean.dims()[0];
        let (scale, shift) = self.affine();
        x * scale.reshape([1, c, 1, 1]) + shift.reshape([1, c, 1, 1])
    }

    /// The per-channel `(scale, shift)` it applies: `x·scale + shift`.
    fn affine(&self) -> (Tensor<1>, Tensor<1>) {
        let scale = self.weight.val() / self.running_var.clone().add_scalar(self.eps).sqrt();
        let shift = self.bias.val() - self.running_mean.clone() * scale.clone();
        (scale, shift)
    }

    /// `affine`'s values, computed in f32 in the same order without burn's per-op overhead.
    fn affine_values(&self) -> (Vec<f32>, Vec<f32>) {
        let eps = self.eps as f32;
        let scale: Vec<f32> = with_values(&self.weight.val(), |g| {
            with_values(&self.running_var, |var| {
                g.iter()
                    .zip(var)
                    .map(|(g, v)| g / (v + eps).sqrt())
                    .collect()
            })
        });
        let shift = with_values(&self.bias.val(), |beta| {
            with_values(&self.running_mean, |mean| {
                beta.iter()
                    .zip(mean)
                    .zip(&scale)
                    .map(|((b, m), s)| b - m * s)
                    .collect()
            })
        });
        (scale, shift)
    }

    /// This BatchNorm as the input map of the CPU convolution after it.
    pub fn as_input(&self) -> ChannelAffine {
        let (scale, shift) = self.affine_values();
        ChannelAffine { scale, shift }
    }

    /// This BatchNorm, then `prelu`, then `+ residual`, as the epilogue of the CPU convolution
    /// before it.
    pub fn then<'a>(
        &self,
        prelu: Option<&PRelu>,
        residual: Option<&'a Tensor<4>>,
    ) -> ChannelEpilogue<'a> {
        let (scale, shift) = self.affine_values();
        ChannelEpilogue {
            scale,
            shift,
            prelu: prelu.map(|p| tensor_to_vec(p.weight.val())),
            residual,
        }
    }
}

/// `max(0, x) + a_c · min(0, x)`.
#[derive(Module, Debug)]
pub struct PRelu {
    pub weight: Param<Tensor<1>>,
}

impl PRelu {
    pub fn load(l: &Loader, channels: usize) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: l.param("weight", [channels])?,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let c = self.weight.dims()[0];
        let neg = x.clone().clamp_max(0.0) * self.weight.val().reshape([1, c, 1, 1]);
        x.clamp_min(0.0) + neg
    }
}
