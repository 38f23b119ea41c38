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

use super::cpu_fir::{Fir, separable_taps};
use super::cpu_modulated_conv::{self, ConvWeights, Epilogue};
use super::cpu_tensor::{StorageKey, with_values};
use super::equal_linear::{EqualLinear, LinearActivation};
use super::loader::{Loader, tensor_from_vec};
use super::upfirdn::{FIR_GAIN, FIR_TAPS, blur, kernel_tensor};
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
            Sampling::Upsample2x => Some(kernel_tensor(&FIR_TAPS, FIR_GAIN, l.device())),
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

    /// The style of each sample, `[B, in]`, with the weight's equalized-lr scale folded in.
    fn style(&self, w: Tensor<2>) -> Tensor<2> {
        let [_, _, in_ch, k, _] = self.weight.dims();
        let scale = 1.0 / ((in_ch * k * k) as f64).sqrt();
        self.modulation.forward(w).mul_scalar(scale)
    }

    /// The convolution followed by `epilogue`, on the CPU backend (`cpu_modulated_conv`):
    /// what `forward` and the caller's noise/bias/activation compute, in one pass.
    pub fn forward_cpu(&self, x: Tensor<4>, w: Tensor<2>, epilogue: &Epilogue) -> Tensor<4> {
        let [_, out_ch, in_ch, k, _] = self.weight.dims();
        let [b, _, h, width] = x.dims();
        let device = x.device();
        let style = self.style(w);
        let taps = separable_taps(&FIR_TAPS, FIR_GAIN);
        let blur = (self.sampling == Sampling::Upsample2x).then(|| Fir {
            taps: &taps,
            up: 1,
            pad: blur_padding(k),
        });
        let (out, oh, ow) = with_values(&self.weight.val(), |weight| {
            with_values(&x, |x| {
                with_values(&style, |style| {
                    let conv = ConvWeights {
                        weight,
                        key: StorageKey::of(&self.weight.val()),
                        cin: in_ch,
                        cout: out_ch,
                        k,
                        sampling: self.sampling,
                        demodulation: self.demodulation,
                        blur,
                    };
                    cpu_modulated_conv::forward(&conv, x, [b, h, width], style, epilogue)
                })
            })
        });
        tensor_from_vec(out, [b, out_ch, oh, ow], &device)
    }

    pub fn forward(&self, x: Tensor<4>, w: Tensor<2>) -> Tensor<4> {
        let (out, demod) = self.forward_parts(x, w);
        match demod {
            None => out,
            Some(d) => demodulate(out, d),
        }
    }

    /// The convolution of the style-scaled input, and the demodulation factors `[B, out]`
    /// that `forward` multiplies it by (`None` without demodulation).
    pub fn forward_parts(&self, x: Tensor<4>, w: Tensor<2>) -> (Tensor<4>, Option<Tensor<2>>) {
        let [_, out_ch, in_ch, k, _] = self.weight.dims();
        let [b, _, _, _] = x.dims();
        let style = self.style(w); // [B, in]
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
                let up =
                    super::cpu_autodiff::conv_transpose_stride2(&x, &weight).unwrap_or_else(|| {
                        conv_transpose2d(
                            x,
                            weight.clone().swap_dims(0, 1),
                            None,
                            ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1),
                        )
                    });
                let taps = separable_taps(&FIR_TAPS, FIR_GAIN);
                super::cpu_autodiff::blur(&up, &taps, blur_padding(k)).unwrap_or_else(|| {
                    let kernel = self
                        .blur_kernel
                        .as_ref()
                        .expect("upsampling conv has a blur kernel");
                    blur(up, kernel, blur_padding(k))
                })
            }
        };
        let demod = match self.demodulation {
            Demodulation::Off => None,
            // Σ_{i,ky,kx} (W[o,i]·s[i])² = Σ_i s[i]² · Σ_k W[o,i,k]²: one differentiable op
            // on the CPU (`cpu_autodiff_demod`), else burn's ops
            Demodulation::On => Some(
                super::cpu_autodiff_demod::demodulation(&style, &weight).unwrap_or_else(|| {
                    // [out, in]: one contiguous reduction over the taps (over axes 2 and
                    // 3 of the 4-D weight burn walks a strided index)
                    let w_sq = weight
                        .reshape([out_ch, in_ch, k * k])
                        .square()
                        .sum_dim(2)
                        .reshape([out_ch, in_ch]);
                    style
                        .square()
                        .matmul(w_sq.transpose())
                        .add_scalar(1e-8)
                        .sqrt()
                        .recip() // [B, out]
                }),
            ),
        };
        (out, demod)
    }
}

/// `out` (`[B, out, h, w]`) times its demodulation factors `d` (`[B, out]`).
pub fn demodulate(out: Tensor<4>, d: Tensor<2>) -> Tensor<4> {
    let [b, c] = d.dims();
    out * d.reshape([b, c, 1, 1])
}

/// The blur's padding after the stride-2 transposed convolution with a `k`-tap kernel:
/// p = (4 − 2) − (k − 1), pads ((p+1)/2 + 1, p/2 + 1).
fn blur_padding(k: usize) -> (usize, usize) {
    let p = 2 - (k as isize - 1);
    (
        ((p + 1).div_euclid(2) + 1) as usize,
        (p.div_euclid(2) + 1) as usize,
    )
}
