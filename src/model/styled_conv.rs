//! A synthesis layer: modulated 3×3 convolution → noise injection → bias + leaky ReLU ×√2.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::activation::leaky_relu;

use super::cpu_modulated_conv::{Activation, Epilogue};
use super::cpu_tensor::{is_cpu_inference, with_values};
use super::loader::Loader;
use super::modulated_conv::{Demodulation, ModulatedConv2d, Sampling, demodulate};
use crate::weights::WeightsError;

/// Adds `strength · noise`, one noise map per sample broadcast over channels.
#[derive(Module, Debug)]
pub struct NoiseInjection {
    /// Learned strength, `[1]`.
    pub weight: Param<Tensor<1>>,
}

impl NoiseInjection {
    pub fn forward(&self, x: Tensor<4>, noise: Tensor<4>) -> Tensor<4> {
        x + noise * self.weight.val().reshape([1, 1, 1, 1])
    }
}

#[derive(Module, Debug)]
pub struct StyledConv {
    pub conv: ModulatedConv2d,
    pub noise: NoiseInjection,
    /// `FusedLeakyReLU` bias, `[out]` (key `activate.bias`).
    pub activate_bias: Param<Tensor<1>>,
    /// NVIDIA's conv_clamp: the output is clamped to ±this.
    #[module(skip)]
    pub clamp: Option<f64>,
}

impl StyledConv {
    pub fn load(
        l: &Loader,
        in_ch: usize,
        out_ch: usize,
        style_dim: usize,
        sampling: Sampling,
        clamp: Option<f64>,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            conv: ModulatedConv2d::load(
                &l.at("conv"),
                in_ch,
                out_ch,
                3,
                style_dim,
                sampling,
                Demodulation::On,
            )?,
            noise: NoiseInjection {
                weight: l.at("noise").param("weight", [1])?,
            },
            activate_bias: l.at("activate").param("bias", [out_ch])?,
            clamp,
        })
    }

    pub fn forward(&self, x: Tensor<4>, w: Tensor<2>, noise: Tensor<4>) -> Tensor<4> {
        if is_cpu_inference(&x.device()) && !x.dims().contains(&0) {
            return with_values(&noise, |maps| {
                with_values(&self.noise.weight.val(), |strength| {
                    with_values(&self.activate_bias.val(), |bias| {
                        let epilogue = Epilogue {
                            noise: Some((maps, strength[0])),
                            bias,
                            activation: Activation::LeakyReluGain,
                            clamp: self.clamp.map(|c| c as f32),
                        };
                        self.conv.forward_cpu(x, w, &epilogue)
                    })
                })
            });
        }
        let (out, demod) = self.conv.forward_parts(x, w);
        let demod = demod.expect("a styled convolution demodulates");
        let fused = super::cpu_autodiff_epilogue::styled(
            &out,
            &demod,
            &noise,
            &self.noise.weight.val(),
            &self.activate_bias.val(),
            self.clamp.map(|c| c as f32),
        );
        if let Some(y) = fused {
            return y;
        }
        let out = self.noise.forward(demodulate(out, demod), noise);
        let c = self.activate_bias.dims()[0];
        let out = leaky_relu(out + self.activate_bias.val().reshape([1, c, 1, 1]), 0.2)
            .mul_scalar(std::f64::consts::SQRT_2);
        match self.clamp {
            Some(c) => out.clamp(-c, c),
            None => out,
        }
    }
}
