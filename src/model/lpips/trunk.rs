//! The ImageNet trunks LPIPS taps (torchvision topology): AlexNet `features` and VGG16
//! `features`, as five stages each ending at one ReLU tap. Channel counts come from the weights.

use crate::model::cpu_conv::{ChannelEpilogue, conv2d, conv2d_then};
use crate::model::cpu_pool::{PoolEdge, max_pool2d};
use burn::module::{Module, Param};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::ops::ConvOptions;

use crate::model::loader::Loader;
use crate::weights::WeightsError;

/// A max-pool: (kernel, stride).
type PoolSpec = (usize, usize);
/// A convolution: (`features` index, kernel, stride, padding).
type ConvSpec = (usize, usize, usize, usize);

/// Which network the trunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrunkKind {
    Alex,
    Vgg,
}

impl TrunkKind {
    pub fn name(self) -> &'static str {
        match self {
            TrunkKind::Alex => "alex",
            TrunkKind::Vgg => "vgg",
        }
    }

    /// Per stage: the max-pool (kernel, stride) in front, then the convolutions as
    /// (`features` index, kernel, stride, padding); each conv is followed by a ReLU.
    fn stages(self) -> Vec<(Option<PoolSpec>, Vec<ConvSpec>)> {
        match self {
            TrunkKind::Alex => vec![
                (None, vec![(0, 11, 4, 2)]),
                (Some((3, 2)), vec![(3, 5, 1, 2)]),
                (Some((3, 2)), vec![(6, 3, 1, 1)]),
                (None, vec![(8, 3, 1, 1)]),
                (None, vec![(10, 3, 1, 1)]),
            ],
            TrunkKind::Vgg => {
                let c3 = |i| (i, 3, 1, 1);
                vec![
                    (None, vec![c3(0), c3(2)]),
                    (Some((2, 2)), vec![c3(5), c3(7)]),
                    (Some((2, 2)), vec![c3(10), c3(12), c3(14)]),
                    (Some((2, 2)), vec![c3(17), c3(19), c3(21)]),
                    (Some((2, 2)), vec![c3(24), c3(26), c3(28)]),
                ]
            }
        }
    }
}

#[derive(Module, Debug)]
pub struct TrunkConv {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    pub stride: usize,
    #[module(skip)]
    pub padding: usize,
}

#[derive(Module, Debug)]
pub struct TrunkStage {
    #[module(skip)]
    pub pool: Option<(usize, usize)>,
    pub convs: Vec<TrunkConv>,
}

#[derive(Module, Debug)]
pub struct Trunk {
    pub stages: Vec<TrunkStage>,
    #[module(skip)]
    pub kind: TrunkKind,
}

impl Trunk {
    /// Loads from torchvision keys (`features.{i}.weight`); the caller maps other layouts.
    pub fn load(l: &Loader, kind: TrunkKind) -> Result<Self, WeightsError> {
        let mut cin = 3;
        let mut stages = Vec::new();
        for (pool, convs) in kind.stages() {
            let mut layers = Vec::new();
            for (idx, k, stride, padding) in convs {
                let f = l.at(format!("features.{idx}"));
                let cout = match l.store().shape(&f.key("weight"))? {
                    [c, _, _, _] => *c,
                    _ => return Err(l.store().shape_error(&f.key("weight"), "[out, in, k, k]")),
                };
                layers.push(TrunkConv {
                    weight: f.param("weight", [cout, cin, k, k])?,
                    bias: f.param("bias", [cout])?,
                    stride,
                    padding,
                });
                cin = cout;
            }
            stages.push(TrunkStage {
                pool,
                convs: layers,
            });
        }
        Ok(Self { stages, kind })
    }

    /// Channels of the five taps.
    pub fn tap_channels(&self) -> Vec<usize> {
        self.stages
            .iter()
            .map(|s| s.convs.last().map(|c| c.bias.dims()[0]).unwrap_or(0))
            .collect()
    }

    /// The five ReLU taps.
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut taps = Vec::with_capacity(self.stages.len());
        let mut x = x;
        for stage in &self.stages {
            if let Some((k, s)) = stage.pool {
                x = max_pool2d(x, k, s, PoolEdge::Floor);
            }
            for c in &stage.convs {
                let (s, p) = (c.stride, c.padding);
                let options = ConvOptions::new([s, s], [p, p], [1, 1], 1);
                // on the CPU the bias and the ReLU in the convolution's epilogue: one pass
                // over the output instead of two
                let epilogue = ChannelEpilogue::bias(&c.bias.val(), true);
                x = match conv2d_then(&x, &c.weight.val(), &options, &epilogue) {
                    Some(y) => y,
                    None => relu(conv2d(x, c.weight.val(), Some(c.bias.val()), options)),
                };
            }
            taps.push(x.clone());
        }
        taps
    }
}
