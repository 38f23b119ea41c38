//! ToRGB: a modulated 1×1 convolution to three channels (no demodulation) plus bias, added
//! to the 2×-upsampled image of the previous resolution.

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use super::cpu_fir::{Fir, separable_taps};
use super::cpu_modulated_conv::{Activation, Epilogue};
use super::cpu_tensor::{is_cpu_inference, with_values};
use super::loader::{Loader, tensor_from_vec};
use super::modulated_conv::{Demodulation, ModulatedConv2d, Sampling};
use super::upfirdn::{FIR_GAIN, FIR_TAPS, kernel_tensor, upsample2x};
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
            upsample_kernel: takes_skip.then(|| kernel_tensor(&FIR_TAPS, FIR_GAIN, l.device())),
            clamp,
        })
    }

    pub fn forward(&self, x: Tensor<4>, w: Tensor<2>, skip: Option<Tensor<4>>) -> Tensor<4> {
        if is_cpu_inference(&x.device()) && !x.dims().contains(&0) {
            let rgb = with_values(&self.bias.val(), |bias| {
                let epilogue = Epilogue {
                    noise: None,
                    bias,
                    activation: Activation::Linear,
                    clamp: self.clamp.map(|c| c as f32),
                };
                self.conv.forward_cpu(x, w, &epilogue)
            });
            return match (skip, &self.upsample_kernel) {
                (Some(skip), Some(_)) => rgb + upsample2x_cpu(&skip),
                _ => rgb,
            };
        }
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

/// `upsample2x` of the skip image with the separable filter, on the CPU backend.
fn upsample2x_cpu(skip: &Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = skip.dims();
    let taps = separable_taps(&FIR_TAPS, FIR_GAIN);
    let fir = Fir {
        taps: &taps,
        up: 2,
        pad: (2, 1),
    };
    let (up, oh, ow) = with_values(skip, |values| fir.apply(values, h, w));
    tensor_from_vec(up, [b, c, oh, ow], &skip.device())
}
