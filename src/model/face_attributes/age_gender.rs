//! face-api's age and gender network: a tiny Xception (a stride-2 stem, two reduction blocks,
//! two residual main blocks, an exit reduction block and a 512-channel separable conv) on a
//! 112² face, global average, then an age regression head and a two-way gender head.

use burn::module::Module;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

use super::tf_layers::{Conv, Dense, SeparableConv, max_pool_same};
use super::{ATTRIBUTE_SIDE, normalize};
use crate::weights::{TensorStore, WeightsError};

/// Two separable convs, "same" 3×3/2 max-pooling, plus a 1×1/2 expansion of the input.
#[derive(Module, Debug)]
pub struct ReductionBlock {
    pub separable_conv0: SeparableConv,
    pub separable_conv1: SeparableConv,
    pub expansion_conv: Conv,
    /// The first block takes the stem's output as it is; the others apply a ReLU first.
    #[module(skip)]
    pub activate_input: bool,
}

impl ReductionBlock {
    fn load(
        st: &TensorStore,
        prefix: &str,
        activate_input: bool,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            separable_conv0: SeparableConv::load(
                st,
                &format!("{prefix}/separable_conv0"),
                1,
                device,
            )?,
            separable_conv1: SeparableConv::load(
                st,
                &format!("{prefix}/separable_conv1"),
                1,
                device,
            )?,
            expansion_conv: Conv::load(st, &format!("{prefix}/expansion_conv"), 2, device)?,
            activate_input,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = if self.activate_input {
            relu(x.clone())
        } else {
            x.clone()
        };
        let out = self.separable_conv0.forward(out);
        let out = self.separable_conv1.forward(relu(out));
        max_pool_same(out) + self.expansion_conv.forward(x)
    }
}

/// Three ReLU + separable conv steps with a residual connection.
#[derive(Module, Debug)]
pub struct MainBlock {
    pub separable_conv0: SeparableConv,
    pub separable_conv1: SeparableConv,
    pub separable_conv2: SeparableConv,
}

impl MainBlock {
    fn load(st: &TensorStore, prefix: &str, device: &Device) -> Result<Self, WeightsError> {
        let sep =
            |i: usize| SeparableConv::load(st, &format!("{prefix}/separable_conv{i}"), 1, device);
        Ok(Self {
            separable_conv0: sep(0)?,
            separable_conv1: sep(1)?,
            separable_conv2: sep(2)?,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = self.separable_conv0.forward(relu(x.clone()));
        let out = self.separable_conv1.forward(relu(out));
        self.separable_conv2.forward(relu(out)) + x
    }
}

/// Age (years) and gender probabilities `[male, female]` per face.
pub struct AgeGender {
    pub age: Tensor<1>,
    pub gender: Tensor<2>,
}

#[derive(Module, Debug)]
pub struct AgeGenderNet {
    pub conv_in: Conv,
    pub reduction_block_0: ReductionBlock,
    pub reduction_block_1: ReductionBlock,
    pub main_blocks: Vec<MainBlock>,
    pub exit_reduction_block: ReductionBlock,
    pub exit_separable_conv: SeparableConv,
    pub age: Dense,
    pub gender: Dense,
}

/// face-api's age/gender model has two main blocks.
const MAIN_BLOCKS: usize = 2;

impl AgeGenderNet {
    /// From face-api's `age_gender_model` tensors (TF.js names).
    pub fn load(st: &TensorStore, device: &Device) -> Result<Self, WeightsError> {
        Ok(Self {
            conv_in: Conv::load(st, "entry_flow/conv_in", 2, device)?,
            reduction_block_0: ReductionBlock::load(
                st,
                "entry_flow/reduction_block_0",
                false,
                device,
            )?,
            reduction_block_1: ReductionBlock::load(
                st,
                "entry_flow/reduction_block_1",
                true,
                device,
            )?,
            main_blocks: (0..MAIN_BLOCKS)
                .map(|i| MainBlock::load(st, &format!("middle_flow/main_block_{i}"), device))
                .collect::<Result<_, _>>()?,
            exit_reduction_block: ReductionBlock::load(
                st,
                "exit_flow/reduction_block",
                true,
                device,
            )?,
            exit_separable_conv: SeparableConv::load(st, "exit_flow/separable_conv", 1, device)?,
            age: Dense::load(st, "fc/age", [512, 1], device)?,
            gender: Dense::load(st, "fc/gender", [512, 2], device)?,
        })
    }

    /// Age and gender of `[B, 3, 112, 112]` RGB faces with values in [0, 255].
    pub fn forward(&self, faces: Tensor<4>) -> AgeGender {
        let [b, _, h, w] = faces.dims();
        assert_eq!([h, w], [ATTRIBUTE_SIDE; 2], "faces are 112×112");
        let x = relu(self.conv_in.forward(normalize(faces)));
        let mut x = self
            .reduction_block_1
            .forward(self.reduction_block_0.forward(x));
        for block in &self.main_blocks {
            x = block.forward(x);
        }
        let x = relu(
            self.exit_separable_conv
                .forward(self.exit_reduction_block.forward(x)),
        );
        // A 7×7 map: the 7×7 average pool is the global mean.
        let c = x.dims()[1];
        let pooled = x.mean_dims(&[2, 3]).reshape([b, c]);
        AgeGender {
            age: self.age.forward(pooled.clone()).reshape([b]),
            gender: softmax(self.gender.forward(pooled), 1),
        }
    }
}
