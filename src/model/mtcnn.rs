//! MTCNN's three networks (Zhang et al. 2016) with the published weights of facenet-pytorch:
//! P-Net (fully convolutional face/no-face + box offsets), R-Net (24² refinement) and O-Net (48²:
//! score, box offsets and five landmarks). Inputs are `(x − 127.5) / 128`.

use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use burn::tensor::ops::ConvOptions;

use super::cpu_pool::PoolEdge;
use super::encoder::norm_act::PRelu;
use super::loader::Loader;
use crate::weights::{TensorStore, WeightsError};

/// A valid (unpadded) convolution with bias.
#[derive(Module, Debug)]
pub struct Conv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
}

impl Conv {
    fn load(l: &Loader, cin: usize, cout: usize, k: usize) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: l.param("weight", [cout, cin, k, k])?,
            bias: l.param("bias", [cout])?,
        })
    }
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        super::cpu_conv::conv2d(
            x,
            self.weight.val(),
            Some(self.bias.val()),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        )
    }
}

#[derive(Module, Debug)]
pub struct Dense {
    /// `[out, in]`.
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    fn load(l: &Loader, cin: usize, cout: usize) -> Result<Self, WeightsError> {
        Ok(Self {
            weight: l.param("weight", [cout, cin])?,
            bias: l.param("bias", [cout])?,
        })
    }
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val().transpose()) + self.bias.val().unsqueeze_dim(0)
    }
}

/// Per-channel PReLU on `[B, C]` vectors.
fn prelu2(p: &PRelu, x: Tensor<2>) -> Tensor<2> {
    let [b, c] = x.dims();
    p.forward(x.reshape([b, c, 1, 1])).reshape([b, c])
}

/// Max pooling with ceil mode (windows past the edge see only what is inside).
fn pool(x: Tensor<4>, k: usize, s: usize) -> Tensor<4> {
    super::cpu_pool::max_pool2d(x, k, s, PoolEdge::Ceil)
}

/// Flattens `[B, C, H, W]` in the (W, H, C) order the published dense layers expect.
fn flatten_whc(x: Tensor<4>) -> Tensor<2> {
    let [b, ..] = x.dims();
    x.permute([0, 3, 2, 1]).reshape([b as i32, -1])
}

#[derive(Module, Debug)]
pub struct PNet {
    conv1: Conv,
    prelu1: PRelu,
    conv2: Conv,
    prelu2: PRelu,
    conv3: Conv,
    prelu3: PRelu,
    conv4_1: Conv,
    conv4_2: Conv,
}

impl PNet {
    pub fn load(st: &TensorStore, device: &burn::tensor::Device) -> Result<Self, WeightsError> {
        let l = Loader::new(st, device);
        Ok(Self {
            conv1: Conv::load(&l.at("conv1"), 3, 10, 3)?,
            prelu1: PRelu::load(&l.at("prelu1"), 10)?,
            conv2: Conv::load(&l.at("conv2"), 10, 16, 3)?,
            prelu2: PRelu::load(&l.at("prelu2"), 16)?,
            conv3: Conv::load(&l.at("conv3"), 16, 32, 3)?,
            prelu3: PRelu::load(&l.at("prelu3"), 32)?,
            conv4_1: Conv::load(&l.at("conv4_1"), 32, 2, 1)?,
            conv4_2: Conv::load(&l.at("conv4_2"), 32, 4, 1)?,
        })
    }

    /// Face probability `[B, h, w]` and box offsets `[B, 4, h, w]` on a stride-2 grid of 12² cells.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<3>, Tensor<4>) {
        let x = pool(self.prelu1.forward(self.conv1.forward(x)), 2, 2);
        let x = self.prelu2.forward(self.conv2.forward(x));
        let x = self.prelu3.forward(self.conv3.forward(x));
        let prob = softmax(self.conv4_1.forward(x.clone()), 1).narrow(1, 1, 1);
        let [b, _, h, w] = prob.dims();
        (prob.reshape([b, h, w]), self.conv4_2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct RNet {
    conv1: Conv,
    prelu1: PRelu,
    conv2: Conv,
    prelu2: PRelu,
    conv3: Conv,
    prelu3: PRelu,
    dense4: Dense,
    prelu4: PRelu,
    dense5_1: Dense,
    dense5_2: Dense,
}

impl RNet {
    pub fn load(st: &TensorStore, device: &burn::tensor::Device) -> Result<Self, WeightsError> {
        let l = Loader::new(st, device);
        Ok(Self {
            conv1: Conv::load(&l.at("conv1"), 3, 28, 3)?,
            prelu1: PRelu::load(&l.at("prelu1"), 28)?,
            conv2: Conv::load(&l.at("conv2"), 28, 48, 3)?,
            prelu2: PRelu::load(&l.at("prelu2"), 48)?,
            conv3: Conv::load(&l.at("conv3"), 48, 64, 2)?,
            prelu3: PRelu::load(&l.at("prelu3"), 64)?,
            dense4: Dense::load(&l.at("dense4"), 576, 128)?,
            prelu4: PRelu::load(&l.at("prelu4"), 128)?,
            dense5_1: Dense::load(&l.at("dense5_1"), 128, 2)?,
            dense5_2: Dense::load(&l.at("dense5_2"), 128, 4)?,
        })
    }

    /// For `[B,3,24,24]` crops: face probability `[B]` and box offsets `[B, 4]`.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<1>, Tensor<2>) {
        let x = pool(self.prelu1.forward(self.conv1.forward(x)), 3, 2);
        let x = pool(self.prelu2.forward(self.conv2.forward(x)), 3, 2);
        let x = self.prelu3.forward(self.conv3.forward(x));
        let x = prelu2(&self.prelu4, self.dense4.forward(flatten_whc(x)));
        let b = x.dims()[0];
        let prob = softmax(self.dense5_1.forward(x.clone()), 1)
            .narrow(1, 1, 1)
            .reshape([b]);
        (prob, self.dense5_2.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct ONet {
    conv1: Conv,
    prelu1: PRelu,
    conv2: Conv,
    prelu2: PRelu,
    conv3: Conv,
    prelu3: PRelu,
    conv4: Conv,
    prelu4: PRelu,
    dense5: Dense,
    prelu5: PRelu,
    dense6_1: Dense,
    dense6_2: Dense,
    dense6_3: Dense,
}

impl ONet {
    pub fn load(st: &TensorStore, device: &burn::tensor::Device) -> Result<Self, WeightsError> {
        let l = Loader::new(st, device);
        Ok(Self {
            conv1: Conv::load(&l.at("conv1"), 3, 32, 3)?,
            prelu1: PRelu::load(&l.at("prelu1"), 32)?,
            conv2: Conv::load(&l.at("conv2"), 32, 64, 3)?,
            prelu2: PRelu::load(&l.at("prelu2"), 64)?,
            conv3: Conv::load(&l.at("conv3"), 64, 64, 3)?,
            prelu3: PRelu::load(&l.at("prelu3"), 64)?,
            conv4: Conv::load(&l.at("conv4"), 64, 128, 2)?,
            prelu4: PRelu::load(&l.at("prelu4"), 128)?,
            dense5: Dense::load(&l.at("dense5"), 1152, 256)?,
            prelu5: PRelu::load(&l.at("prelu5"), 256)?,
            dense6_1: Dense::load(&l.at("dense6_1"), 256, 2)?,
            dense6_2: Dense::load(&l.at("dense6_2"), 256, 4)?,
            dense6_3: Dense::load(&l.at("dense6_3"), 256, 10)?,
        })
    }

    /// For `[B,3,48,48]` crops: probability `[B]`, box offsets `[B,4]`, landmarks `[B,10]`
    /// (five x then five y, relative to the crop).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<1>, Tensor<2>, Tensor<2>) {
        let x = pool(self.prelu1.forward(self.conv1.forward(x)), 3, 2);
        let x = pool(self.prelu2.forward(self.conv2.forward(x)), 3, 2);
        let x = pool(self.prelu3.forward(self.conv3.forward(x)), 2, 2);
        let x = self.prelu4.forward(self.conv4.forward(x));
        let x = prelu2(&self.prelu5, self.dense5.forward(flatten_whc(x)));
        let b = x.dims()[0];
        let prob = softmax(self.dense6_1.forward(x.clone()), 1)
            .narrow(1, 1, 1)
            .reshape([b]);
        (
            prob,
            self.dense6_2.forward(x.clone()),
            self.dense6_3.forward(x),
        )
    }
}
