//! Equalized-learning-rate linear layer (StyleGAN2's `EqualLinear`): the stored weight is
//! scaled at run time by `lr_mul / sqrt(in)` and the bias by `lr_mul`.

use burn::module::{Module, Param};
use burn::tensor::{Tensor, activation::leaky_relu};

use super::cpu_modulated_conv::leaky_relu_gain;
use super::cpu_tensor::{is_cpu_inference, matmul, with_values};
use super::loader::{Loader, tensor_from_vec};
use crate::weights::WeightsError;

/// What follows the affine map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinearActivation {
    None,
    /// `sqrt(2) · leaky_relu(x, 0.2)` with the bias added first (StyleGAN2's fused op).
    FusedLeakyRelu,
}

#[derive(Module, Debug)]
pub struct EqualLinear {
    /// Stored weight `[out, in]`, unscaled.
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    pub lr_mul: f64,
    #[module(skip)]
    pub activation: LinearActivation,
}

impl EqualLinear {
    pub fn load(
        l: &Loader,
        in_dim: usize,
        out_dim: usize,
        lr_mul: f64,
        activation: LinearActivation,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: l.param("weight", [out_dim, in_dim])?,
            bias: l.param("bias", [out_dim])?,
            lr_mul,
            activation,
        })
    }

    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [out_dim, in_dim] = self.weight.dims();
        let scale = self.lr_mul / (in_dim as f64).sqrt();
        if is_cpu_inference(&x.device()) {
            return self.forward_cpu(x, scale as f32, [out_dim, in_dim]);
        }
        // the scale applied to the [B, out] product, not to a copy of the whole weight
        let y = x.matmul(self.weight.val().transpose()).mul_scalar(scale)
            + self.bias.val().mul_scalar(self.lr_mul).unsqueeze_dim(0);
        match self.activation {
            LinearActivation::None => y,
            LinearActivation::FusedLeakyRelu => {
                leaky_relu(y, 0.2).mul_scalar(std::f64::consts::SQRT_2)
            }
        }
    }
}

impl EqualLinear {
    /// `forward` on the CPU backend: one product with the stored `[out, in]` weight read in
    /// place (burn would transpose and scale a copy of it on every call).
    fn forward_cpu(&self, x: Tensor<2>, scale: f32, [out_dim, in_dim]: [usize; 2]) -> Tensor<2> {
        let [b, _] = x.dims();
        let device = x.device();
        let mut y = vec![0f32; b * out_dim];
        // one product per sample, so that a sample's result does not depend on its batch
        with_values(&x, |x| {
            with_values(&self.weight.val(), |weight| {
                for (row, x) in y.chunks_exact_mut(out_dim).zip(x.chunks_exact(in_dim)) {
                    matmul(
                        row,
                        [1, out_dim, in_dim],
                        (x, in_dim, 1),
                        (weight, 1, in_dim),
                    );
                }
            })
        });
        let lr_mul = self.lr_mul as f32;
        with_values(&self.bias.val(), |bias| {
            for row in y.chunks_exact_mut(out_dim) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v = *v * scale + b * lr_mul;
                    if self.activation == LinearActivation::FusedLeakyRelu {
                        *v = leaky_relu_gain(*v);
                    }
                }
            }
        });
        tensor_from_vec(y, [b, out_dim], &device)
    }
}
