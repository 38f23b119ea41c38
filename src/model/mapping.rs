//! The mapping network z → w: pixel norm, then `n_mlp` equalized linear layers
//! (lr multiplier 0.01) with fused leaky ReLU. Keys `style.1 … style.n_mlp`.

use burn::module::Module;
use burn::tensor::Tensor;

use super::equal_linear::{EqualLinear, LinearActivation};
use super::loader::Loader;
use crate::weights::WeightsError;

/// `x / sqrt(mean(x²) + 1e-8)` over the feature dimension.
pub fn pixel_norm(x: Tensor<2>) -> Tensor<2> {
    let denom = x.clone().square().mean_dim(1).add_scalar(1e-8).sqrt();
    x / denom
}

#[derive(Module, Debug)]
pub struct MappingNetwork {
    pub layers: Vec<EqualLinear>,
}

impl MappingNetwork {
    /// `z_dim` is the first layer's input width (= `style_dim` in rosinality's models).
    pub fn load(
        l: &Loader,
        style_dim: usize,
        z_dim: usize,
        n_mlp: usize,
        lr_mul: f64,
    ) -> Result<Self, WeightsError> {
        let layers = (1..=n_mlp)
            .map(|i| {
                EqualLinear::load(
                    &l.at(format!("style.{i}")),
                    if i == 1 { z_dim } else { style_dim },
                    style_dim,
                    lr_mul,
                    LinearActivation::FusedLeakyRelu,
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { layers })
    }

    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.layers
            .iter()
            .fold(pixel_norm(z), |x, layer| layer.forward(x))
    }
}
