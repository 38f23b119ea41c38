//! StyleGAN2's modulated convolution: per-sample input scaling by the style, optional
//! demodulation, optional 2× upsampling (transposed convolution + blur).
//!
//! Computed in the "modulate the activations" form — `conv(x · s) · d` — which is exactly
//! the reference's grouped-convolution form (`conv(x, W · s) · d`) rearranged, and runs as
//! one ordinary batched convolution on every backend.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::module::conv_transpose2d;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

use super::equal_linear::{EqualLinear, LinearActivation};
use super::loader::Loader;
use super::upfirdn::{blur, kernel_tensor};
use crate::weights::WeightsError;

/// How the convolution samples its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    Same,
    Upsample2x,
}

/// Whether output channels are renormalized to unit expected variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demodulation {
    On,
    Off,
}

#[derive(Module, Debug)]
pub struct ModulatedConv2d {
    /// `[1, out, in, k, k]` as stored.
    pub weight: Param<Tensor<5>>,
    pub modulation: EqualLinear,
    /// Blur kernel of the upsampling path (`[4,4]`, gain 4).
    pub blur_kernel: Option<Tensor<2>>,
    #[module(skip)]
    pub sampling: Sampling,
    #[module(skip)]
    pub demodulation: Demodulation,
}

impl ModulatedConv2d {
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        l: &Loader,
        in_ch: usize,
        out_ch: usize,
        kernel: usize,
        style_dim: usize,
        sampling: Sampling,
        demodulation: Demodulation,
    ) -> Result<Self, WeightsError> {
        let blur_kernel = match sampling {
            Sampling::Same => None,
            Sampling::Upsample2x => Some(kernel_tensor(&[1.0, 3.0, 3.0, 1.0], 4.0, l.device())),
        };
        Ok(Self {
            weight: l.param("weight", [1, out_ch, in_ch, kernel, kernel])?,
            modulation: EqualLinear::load(
                &l.at("modulation"),
                style_dim,
                in_ch,
                1.0,
                LinearActivation::None,
            )?,
            blur_kernel,
            sampling,
            demodulation,
        })
    }

    pub fn forward(&self, x: Tensor<4>, w: Tensor<2>) -> Tensor<4> {
        let [_, out_ch, in_ch, k, _] = self.weight.dims();
        let [b, _, _, _] = x.dims();
        let scale = 1.0 / ((in_ch * k * k) as f64).sqrt();
        let style = self.modulation.forward(w).mul_scalar(scale); // [B, in]
        let weight = self.weight.val().reshape([out_ch, in_ch, k, k]);
        let x = x * style.clone().reshape([b, in_ch, 1, 1]);
        let out = match self.sampling {
            Sampling::Same => super::cpu_conv::conv2d(
                x,
                weight.clone(),
                None,
                ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1),
            ),
            Sampling::Upsample2x => {
                let up = conv_transpose2d(
                    x,
                    weight.clone().swap_dims(0, 1),
                    None,
                    ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1),
                );
                let kernel = self
                    .blur_kernel
                    .as_ref()
                    .expect("upsampling conv has a blur kernel");
                // p = (4 − 2) − (k − 1); pads ((p+1)/2 + 1, p/2 + 1).
                let p = 2 - (k as isize - 1);
                let pad0 = ((p + 1).div_euclid(2) + 1) as usize;
                let pad1 = (p.div_euclid(2) + 1) as usize;
                blur(up, kernel, (pad0, pad1))
            }
        };
        match self.demodulation {
            Demodulation::Off => out,
            Demodulation::On => {
                // Σ_{i,ky,kx} (W[o,i]·s[i])² = Σ_i s[i]² · Σ_k W[o,i,k]².
                let w_sq = weight.square().sum_dims_squeeze::<2, _>(&[2, 3]); // [out, in]
                let demod = style
                    .square()
                    .matmul(w_sq.transpose())
                    .add_scalar(1e-8)
                    .sqrt()
                    .recip(); // [B, out]
                out * demod.reshape([b, out_ch, 1, 1])
            }
        }
    }
}
