//! face-api's facial expression network: four densely connected blocks of separable
//! convolutions (each halving the side: 112 → 7, up to 256 channels), global average, and a
//! seven-way softmax over [`EXPRESSIONS`].

use burn::module::Module;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

use super::tf_layers::{Conv, Dense, SeparableConv};
use super::{ATTRIBUTE_SIDE, normalize};
use crate::weights::{TensorStore, WeightsError};

/// The classes in face-api's order.
pub const EXPRESSIONS: [&str; 7] = [
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
];

/// The stride-2 layer that opens a dense block: a full convolution on the RGB input, a
/// separable one after that.
#[derive(Module, Debug)]
pub enum DownConv {
    Full(Conv),
    Separable(SeparableConv),
}

impl DownConv {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            DownConv::Full(c) => c.forward(x),
            DownConv::Separable(c) => c.forward(x),
        }
    }
}

/// out1 = relu(conv0(x)); each following separable conv reads the ReLU of the sum of all
/// outputs so far; the block returns the ReLU of the sum of all four.
#[derive(Module, Debug)]
pub struct DenseBlock {
    pub conv0: DownConv,
    pub conv1: SeparableConv,
    pub conv2: SeparableConv,
    pub conv3: SeparableConv,
}

impl DenseBlock {
    fn load(
        st: &TensorStore,
        prefix: &str,
        first: bool,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let key = |i: usize| format!("{prefix}/conv{i}");
        Ok(Self {
            conv0: if first {
                DownConv::Full(Conv::load(st, &key(0), 2, device)?)
            } else {
                DownConv::Separable(SeparableConv::load(st, &key(0), 2, device)?)
            },
            conv1: SeparableConv::load(st, &key(1), 1, device)?,
            conv2: SeparableConv::load(st, &key(2), 1, device)?,
            conv3: SeparableConv::load(st, &key(3), 1, device)?,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out1 = relu(self.conv0.forward(x));
        let out2 = self.conv1.forward(out1.clone());
        let sum = out1 + out2;
        let out3 = self.conv2.forward(relu(sum.clone()));
        let sum = sum + out3;
        let out4 = self.conv3.forward(relu(sum.clone()));
        relu(sum + out4)
    }
}

#[derive(Module, Debug)]
pub struct ExpressionNet {
    pub dense: Vec<DenseBlock>,
    pub fc: Dense,
}

impl ExpressionNet {
    /// From face-api's `face_expression_model` tensors (TF.js names).
    pub fn load(st: &TensorStore, device: &Device) -> Result<Self, WeightsError> {
        Ok(Self {
            dense: (0..4)
                .map(|i| DenseBlock::load(st, &format!("dense{i}"), i == 0, device))
                .collect::<Result<_, _>>()?,
            fc: Dense::load(st, "fc", [256, EXPRESSIONS.len()], device)?,
        })
    }

    /// Expression probabilities `[B, 7]` of `[B, 3, 112, 112]` RGB faces in [0, 255].
    pub fn forward(&self, faces: Tensor<4>) -> Tensor<2> {
        let [b, _, h, w] = faces.dims();
        assert_eq!([h, w], [ATTRIBUTE_SIDE; 2], "faces are 112×112");
        let mut x = normalize(faces);
        for block in &self.dense {
            x = block.forward(x);
        }
        // A 7×7 map: the 7×7 average pool is the global mean.
        let c = x.dims()[1];
        softmax(self.fc.forward(x.mean_dims(&[2, 3]).reshape([b, c])), 1)
    }
}
