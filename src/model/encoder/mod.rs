//! The Feature-Style encoder (FSE, `fs_encoder_v2`): an IResNet trunk with four stages; the
//! latent branch pools each stage to 3×3, concatenates and maps the flat vector through one
//! linear head per w+ entry; the feature branch turns the third stage's output into the
//! feature code F that replaces the generator's activation at layer K.

mod config;
mod ir_block;
pub mod norm_act;

pub use config::EncoderConfig;

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

use self::ir_block::{IrBlock, PlainConv};
use self::norm_act::{BatchNorm, PRelu};
use super::loader::Loader;
use crate::model::cpu_f16_rows::{exact_f16, matmul_f16_rows};
use crate::model::cpu_tensor::{is_cpu_inference, matmul_single_thread, with_values};
use crate::model::loader::tensor_from_vec;
use crate::weights::{TensorStore, WeightsError};
use half::f16;
use rayon::prelude::*;

/// What the encoder produces for a batch of images.
#[derive(Debug, Clone)]
pub struct Encoding {
    /// The latent branch output before `latent_avg` is added, `[B, n_styles, style_dim]`.
    pub wplus_delta: Tensor<3>,
    /// The feature code F, `[B, fmaps, h, w]`.
    pub feature: Tensor<4>,
}

/// One `styles.i` head: `nn.Linear(9·Σwidths → style_dim)`.
#[derive(Module, Debug)]
pub struct StyleHead {
    /// `[style_dim, in]` (PyTorch layout).
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

/// `content_layer`: BN → conv3×3 → BN → PReLU → conv3×3 (stride) → BN.
#[derive(Module, Debug)]
pub struct ContentLayer {
    pub bn0: BatchNorm,
    pub conv1: PlainConv,
    pub bn2: BatchNorm,
    pub prelu3: PRelu,
    pub conv4: PlainConv,
    pub bn5: BatchNorm,
}

impl ContentLayer {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // on the CPU backend each BatchNorm and the PReLU run inside a convolution
        if is_cpu_inference(&x.device())
            && let Some(y) = self
                .conv1
                .forward_between(
                    &x,
                    &self.bn0.as_input(),
                    &self.bn2.then(Some(&self.prelu3), None),
                )
                .and_then(|y| self.conv4.forward_then(&y, &self.bn5.then(None, None)))
        {
            return y;
        }
        let y = self.conv1.forward(self.bn0.forward(x));
        let y = self.conv4.forward(self.prelu3.forward(self.bn2.forward(y)));
        self.bn5.forward(y)
    }
}

#[derive(Module, Debug)]
pub struct FeatureStyleEncoder {
    pub stem_conv: PlainConv,
    pub stem_bn: BatchNorm,
    pub stem_prelu: PRelu,
    /// `block_1 … block_4`.
    pub stages: Vec<Vec<IrBlock>>,
    pub content_layer: ContentLayer,
    pub styles: Vec<StyleHead>,
    /// Every head's weights as f16, rows in head order (`[n_styles · style_dim, in]`), when
    /// each value is exactly an f16 (the bundled encoder's are stored so): the CPU path reads
    /// these, half the bytes of a product bounded by memory speed. `None` otherwise.
    #[module(skip)]
    heads_f16: Option<Arc<Vec<f16>>>,
    #[module(skip)]
    pub config: EncoderConfig,
}

/// Side of the adaptive pooling of each stage.
const POOL: usize = 3;

impl FeatureStyleEncoder {
    /// Builds the encoder from its state dict (the released `143_enc.pth` key names).
    pub fn load(store: &TensorStore, device: &Device) -> Result<Self, WeightsError> {
        let config = EncoderConfig::from_store(store)?;
        let l = Loader::new(store, device);
        let eps = config.bn_eps;
        let w = &config.widths;
        let mut stages = Vec::new();
        let mut cin = w[0];
        for (s, (&planes, &count)) in w.iter().zip(&config.layers).enumerate() {
            let stage = (0..count)
                .map(|n| {
                    let block_in = if n == 0 { cin } else { planes };
                    let stride = if n == 0 { 2 } else { 1 };
                    IrBlock::load(
                        &l.at(format!("block_{}.{n}", s + 1)),
                        block_in,
                        planes,
                        stride,
                        eps,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            stages.push(stage);
            cin = planes;
        }
        let c = l.at("content_layer");
        let fm = config.fmaps;
        let content_layer = ContentLayer {
            bn0: BatchNorm::load(&c.at("0"), w[2], eps)?,
            conv1: PlainConv::load(&c.at("1"), w[2], fm, 3, 1)?,
            bn2: BatchNorm::load(&c.at("2"), fm, eps)?,
            prelu3: PRelu::load(&c.at("3"), fm)?,
            conv4: PlainConv::load(&c.at("4"), fm, fm, 3, config.content_stride)?,
            bn5: BatchNorm::load(&c.at("5"), fm, eps)?,
        };
        let pooled = POOL * POOL * w.iter().sum::<usize>();
        let styles = (0..config.n_styles)
            .map(|i| {
                let h = l.at(format!("styles.{i}"));
                Ok(StyleHead {
                    weight: h.param("weight", [config.style_dim, pooled])?,
                    bias: h.param("bias", [config.style_dim])?,
                })
            })
            .collect::<Result<Vec<_>, WeightsError>>()?;
        let heads_f16 = styles
            .iter()
            .map(|h| with_values(&h.weight.val(), exact_f16))
            .collect::<Option<Vec<_>>>()
            .map(|heads| Arc::new(heads.concat()));
        Ok(Self {
            stem_conv: PlainConv::load(&l.at("conv.0"), 3, w[0], 3, 1)?,
            stem_bn: BatchNorm::load(&l.at("conv.1"), w[0], eps)?,
            stem_prelu: PRelu::load(&l.at("conv.2"), w[0])?,
            stages,
            content_layer,
            styles,
            heads_f16,
            config,
        })
    }

    /// Encodes images `[B, 3, R, R]` in [-1, 1] at the encoder's input resolution.
    pub fn encode(&self, images: Tensor<4>) -> Encoding {
        let [b, _, _, _] = images.dims();
        let fused = is_cpu_inference(&images.device())
            .then(|| {
                let stem = self.stem_bn.then(Some(&self.stem_prelu), None);
                self.stem_conv.forward_then(&images, &stem)
            })
            .flatten();
        let mut x = match fused {
            Some(x) => x,
            None => self
                .stem_prelu
                .forward(self.stem_bn.forward(self.stem_conv.forward(images))),
        };
        let mut pooled = Vec::with_capacity(4);
        let mut feature = None;
        for (s, stage) in self.stages.iter().enumerate() {
            x = stage.iter().fold(x, |x, block| block.forward(x));
            pooled.push(adaptive_avg_pool2d(x.clone(), [POOL, POOL]));
            if s == 2 {
                feature = Some(self.content_layer.forward(x.clone()));
            }
        }
        let flat = Tensor::cat(pooled, 1).reshape([b as i32, -1]);
        let wplus_delta = match is_cpu_inference(&flat.device()) {
            true => self.heads_cpu(&flat),
            false => {
                let styles = self
                    .styles
                    .iter()
                    .map(|h| {
                        flat.clone().matmul(h.weight.val().transpose())
                            + h.bias.val().unsqueeze_dim(0)
                    })
                    .collect();
                Tensor::stack(styles, 1)
            }
        };
        Encoding {
            wplus_delta,
            feature: feature.expect("the encoder has four stages"),
        }
    }

    /// The style heads on the CPU backend, `[B, n_styles, style_dim]`: each head's product on
    /// a thread of its own (they read 4.4 MB of weights each — 2.2 MB as f16, see
    /// `heads_f16` — for a few MFLOP, so the two cores' memory bandwidth is what counts).
    fn heads_cpu(&self, flat: &Tensor<2>) -> Tensor<3> {
        let [b, pooled] = flat.dims();
        let (n, s) = (self.styles.len(), self.config.style_dim);
        let mut out = vec![0f32; b * n * s];
        let per_head: Vec<Vec<f32>> = with_values(flat, |flat| {
            self.styles
                .par_iter()
                .enumerate()
                .map(|(h, head)| {
                    let mut y = vec![0f32; b * s];
                    // y[b, s] = flat[b, ·] · weight[s, ·]
                    match &self.heads_f16 {
                        Some(all) => {
                            let weight = &all[h * s * pooled..][..s * pooled];
                            matmul_f16_rows(&mut y, flat, weight, [b, s, pooled]);
                        }
                        None => with_values(&head.weight.val(), |weight| {
                            matmul_single_thread(
                                &mut y,
                                [b, s, pooled],
                                (flat, pooled, 1),
                                (weight, 1, pooled),
                            );
                        }),
                    }
                    with_values(&head.bias.val(), |bias| {
                        y.chunks_exact_mut(s)
                            .for_each(|row| row.iter_mut().zip(bias).for_each(|(v, c)| *v += c));
                    });
                    y
                })
                .collect()
        });
        for (h, y) in per_head.iter().enumerate() {
            for (i, row) in y.chunks_exact(s).enumerate() {
                out[(i * n + h) * s..][..s].copy_from_slice(row);
            }
        }
        tensor_from_vec(out, [b, n, s], &flat.device())
    }
}
