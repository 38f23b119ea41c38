//! ToRGB: a modulated 1×1 convolution to three channels (no demodulation) plus bias, added
//! to the 2×-upsampled image of the previous resolution.

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use super::loader::Loader;
use super::modulated_conv::{Demodulation, ModulatedConv2d, Sampling};
use super::upfirdn::{kernel_tensor, upsample2x};
use crate::weights::WeightsError;

#[derive(Module, Debug)]
pub struct ToRgb {
    pub conv: ModulatedConv2d,
    /// `[1, 3, 1, 1]`.
    pub bias: Param<Tensor<4>>,
    /// Upsampling kernel for the skip image (`[4,4]`, gain 4); absent on the 4×4 layer.
    pub upsample_kernel: Option<Tensor<2>>,
    /// NVIDIA's conv_clamp: this layer's RGB (before the skip is added) is clamped to ±this.
    #[module(skip)]
    pub clamp: Option<f64>,
}

impl ToRgb {
    pub fn load(
        l: &Loader,
        in_ch: usize,
        style_dim: usize,
        takes_skip: bool,
        clamp: Option<f64>,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            conv: ModulatedConv2d::load(
                &l.at("conv"),
                in_ch,
                3,
                1,
                style_dim,
                Sampling::Same,
                Demodulation::Off,
            )?,
            bias: l.param("bias", [1, 3, 1, 1])?,
            upsample_kernel: takes_skip
                .then(|| kernel_tensor(&[1.0, 3.0, 3.0, 1.0], 4.0, l.device())),
            clamp,
        })
    }

    pub fn forward(&self, x: Tensor<4>, w: Tensor<2>, skip: Option<Tensor<4>>) -> Tensor<4> {
        let rgb = self.conv.forward(x, w) + self.bias.val();
        let rgb = match self.clamp {
            Some(c) => rgb.clamp(-c, c),
            None => rgb,
        };
        match (skip, &self.upsample_kernel) {
            (Some(skip), Some(k)) => rgb + upsample2x(skip, k),
            _ => rgb,
        }
    }
}
