//! Equalized-learning-rate linear layer (StyleGAN2's `EqualLinear`): the stored weight is
//! scaled at run time by `lr_mul / sqrt(in)` and the bias by `lr_mul`.

use burn::module::{Module, Param};
use burn::tensor::{Tensor, activation::leaky_relu};

use super::loader::Loader;
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
        let [_, in_dim] = self.weight.dims();
        let scale = self.lr_mul / (in_dim as f64).sqrt();
        let y = x.matmul(self.weight.val().transpose().mul_scalar(scale))
            + self.bias.val().mul_scalar(self.lr_mul).unsqueeze_dim(0);
        match self.activation {
            LinearActivation::None => y,
            LinearActivation::FusedLeakyRelu => {
                leaky_relu(y, 0.2).mul_scalar(std::f64::consts::SQRT_2)
            }
        }
    }
}
