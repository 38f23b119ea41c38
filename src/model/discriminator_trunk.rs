//! The bundled perceptual network: the feature trunk of our trained StyleGAN2 discriminator
//! (`from_rgb`, then residual blocks that halve the resolution), compared LPIPS-style over
//! the blocks' outputs (`unit_feature_distance`). ImageNet trunks are not obtainable here;
//! this is what `training/perceptual.py` trains the encoder with.

use std::f64::consts::SQRT_2;

use burn::module::{Module, Param};
use burn::tensor::activation::leaky_relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use super::loader::Loader;
use super::unit_feature_distance::unit_feature_distance;
use super::upfirdn::kernel_tensor;
use crate::weights::{TensorStore, WeightsError};

/// A convolution with equalized learning rate: weight scaled by `1/sqrt(fan_in)` at run time.
#[derive(Module, Debug)]
pub struct EqualConv {
    pub weight: Param<Tensor<4>>,
    pub bias: Option<Param<Tensor<1>>>,
    #[module(skip)]
    scale: f64,
    #[module(skip)]
    padding: usize,
}

impl EqualConv {
    fn load(l: &Loader, bias: bool) -> Result<Self, WeightsError> {
        let key = l.key("weight");
        let [cout, cin, k, k2] = match l.store().shape(&key)? {
            [a, b, c, d] => [*a, *b, *c, *d],
            _ => return Err(l.store().shape_error(&key, "[out, in, k, k]")),
        };
        Ok(Self {
            weight: l.param("weight", [cout, cin, k, k2])?,
            bias: if bias {
                Some(l.param("bias", [cout])?)
            } else {
                None
            },
            scale: 1.0 / ((cin * k * k) as f64).sqrt(),
            padding: k / 2,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let p = self.padding;
        conv2d(
            x,
            self.weight.val().mul_scalar(self.scale),
            self.bias.as_ref().map(Param::val),
            ConvOptions::new([1, 1], [p, p], [1, 1], 1),
        )
    }
}

fn lrelu(x: Tensor<4>) -> Tensor<4> {
    leaky_relu(x, 0.2).mul_scalar(SQRT_2)
}

/// Residual block: conv → blur-down → conv, plus a blurred-down 1×1 skip, summed / √2.
#[derive(Module, Debug)]
pub struct DiscriminatorBlock {
    pub conv1: EqualConv,
    pub conv2: EqualConv,
    pub skip: EqualConv,
}

#[derive(Module, Debug)]
pub struct DiscriminatorTrunk {
    pub from_rgb: EqualConv,
    pub blocks: Vec<DiscriminatorBlock>,
    /// The [1,3,3,1] blur applied before each 2× reduction.
    kernel: Tensor<2>,
}

impl DiscriminatorTrunk {
    pub fn load(store: &TensorStore, device: &Device) -> Result<Self, WeightsError> {
        let l = Loader::new(store, device);
        let mut blocks = Vec::new();
        while l.has(&format!("blocks.{}.conv1.weight", blocks.len())) {
            let b = l.at(format!("blocks.{}", blocks.len()));
            blocks.push(DiscriminatorBlock {
                conv1: EqualConv::load(&b.at("conv1"), true)?,
                conv2: EqualConv::load(&b.at("conv2"), true)?,
                skip: EqualConv::load(&b.at("skip"), false)?,
            });
        }
        if blocks.is_empty() {
            return Err(store.layout_error(
                "no `blocks.0.conv1.weight`: not a discriminator trunk".to_string(),
            ));
        }
        Ok(Self {
            from_rgb: EqualConv::load(&l.at("from_rgb"), true)?,
            blocks,
            kernel: kernel_tensor(&[1.0, 3.0, 3.0, 1.0], 1.0, device),
        })
    }

    /// `upfirdn2d(x, blur, down=2, pad=(1, 1))`: a stride-2 depthwise convolution.
    fn down(&self, x: Tensor<4>) -> Tensor<4> {
        let c = x.dims()[1];
        let k = self
            .kernel
            .clone()
            .reshape([1, 1, 4, 4])
            .expand([c, 1, 4, 4]);
        conv2d(x, k, None, ConvOptions::new([2, 2], [1, 1], [1, 1], c))
    }

    /// Each block's output for images in [-1, 1].
    pub fn features(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = lrelu(self.from_rgb.forward(x));
        let mut out = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let y = lrelu(b.conv1.forward(x.clone()));
            let y = lrelu(b.conv2.forward(self.down(y)));
            x = (y + b.skip.forward(self.down(x))).div_scalar(SQRT_2);
            out.push(x.clone());
        }
        out
    }

    /// LPIPS-style distance per sample, `[B]`.
    pub fn distance(&self, x0: Tensor<4>, x1: Tensor<4>) -> Tensor<1> {
        unit_feature_distance(self.features(x0), self.features(x1))
    }
}
