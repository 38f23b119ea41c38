//! The IResNet basic block of the ArcFace trunk:
//! `BN → conv3×3 → BN → PReLU → conv3×3 (stride) → BN`, plus the (downsampled) shortcut,
//! with no activation after the sum.

use crate::model::cpu_conv::{ChannelAffine, ChannelEpilogue, conv2d, conv2d_between};
use crate::model::cpu_tensor::is_cpu_inference;
use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

use super::norm_act::{BatchNorm, PRelu};
use crate::model::loader::Loader;
use crate::weights::WeightsError;

/// A bias-free convolution with its stride and padding.
#[derive(Module, Debug)]
pub struct PlainConv {
    pub weight: Param<Tensor<4>>,
    #[module(skip)]
    pub stride: usize,
    #[module(skip)]
    pub padding: usize,
}

impl PlainConv {
    pub fn load(
        l: &Loader,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: l.param("weight", [cout, cin, k, k])?,
            stride,
            padding: k / 2,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(x, self.weight.val(), None, self.options())
    }

    /// The convolution followed by `epilogue` in one pass on the CPU backend; `None`
    /// elsewhere.
    pub fn forward_then(&self, x: &Tensor<4>, epilogue: &ChannelEpilogue) -> Option<Tensor<4>> {
        conv2d_between(x, None, &self.weight.val(), &self.options(), epilogue)
    }

    /// `forward_then` of `x` mapped by `input` per channel (a BatchNorm before it), the map
    /// applied as the convolution reads `x` where it can.
    pub fn forward_between(
        &self,
        x: &Tensor<4>,
        input: &ChannelAffine,
        epilogue: &ChannelEpilogue,
    ) -> Option<Tensor<4>> {
        conv2d_between(
            x,
            Some(input),
            &self.weight.val(),
            &self.options(),
            epilogue,
        )
    }

    fn options(&self) -> ConvOptions<2> {
        let (s, p) = (self.stride, self.padding);
        ConvOptions::new([s, s], [p, p], [1, 1], 1)
    }
}

#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: PlainConv,
    pub bn: BatchNorm,
}

#[derive(Module, Debug)]
pub struct IrBlock {
    pub bn1: BatchNorm,
    pub conv1: PlainConv,
    pub bn2: BatchNorm,
    pub prelu: PRelu,
    pub conv2: PlainConv,
    pub bn3: BatchNorm,
    pub downsample: Option<Downsample>,
}

impl IrBlock {
    pub fn load(
        l: &Loader,
        cin: usize,
        planes: usize,
        stride: usize,
        eps: f64,
    ) -> Result<Self, WeightsError> {
        let downsample = if l.has("downsample.0.weight") {
            Some(Downsample {
                conv: PlainConv::load(&l.at("downsample.0"), cin, planes, 1, stride)?,
                bn: BatchNorm::load(&l.at("downsample.1"), planes, eps)?,
            })
        } else {
            None
        };
        Ok(Self {
            bn1: BatchNorm::load(&l.at("bn1"), cin, eps)?,
            conv1: PlainConv::load(&l.at("conv1"), cin, planes, 3, 1)?,
            bn2: BatchNorm::load(&l.at("bn2"), planes, eps)?,
            prelu: PRelu::load(&l.at("prelu"), planes)?,
            conv2: PlainConv::load(&l.at("conv2"), planes, planes, 3, stride)?,
            bn3: BatchNorm::load(&l.at("bn3"), planes, eps)?,
            downsample,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if is_cpu_inference(&x.device())
            && let Some(y) = self.forward_cpu(&x)
        {
            return y;
        }
        let shortcut = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone())),
            None => x.clone(),
        };
        let y = self.conv1.forward(self.bn1.forward(x));
        let y = self.conv2.forward(self.prelu.forward(self.bn2.forward(y)));
        self.bn3.forward(y) + shortcut
    }
}

impl IrBlock {
    /// `forward` on the CPU backend: each BatchNorm, the PReLU and the shortcut's sum in the
    /// epilogue of the convolution before them (one pass over each output).
    fn forward_cpu(&self, x: &Tensor<4>) -> Option<Tensor<4>> {
        let shortcut = match &self.downsample {
            Some(d) => d.conv.forward_then(x, &d.bn.then(None, None))?,
            None => x.clone(),
        };
        let y = self.conv1.forward_between(
            x,
            &self.bn1.as_input(),
            &self.bn2.then(Some(&self.prelu), None),
        )?;
        self.conv2
            .forward_then(&y, &self.bn3.then(None, Some(&shortcut)))
    }
}
