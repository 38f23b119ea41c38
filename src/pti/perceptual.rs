//! The perceptual distance PTI minimizes: exact LPIPS when its weights are available; without
//! them the tuning runs on pixel MSE alone, and says so.

use burn::tensor::Tensor;

use crate::model::lpips::Lpips;

pub enum Perceptual {
    /// LPIPS v0.1 with the AlexNet trunk (PTI's choice).
    Lpips(Box<Lpips>),
    /// No perceptual network: MSE only.
    None,
}

impl Perceptual {
    pub fn name(&self) -> &'static str {
        match self {
            Perceptual::Lpips(_) => "lpips-alex",
            Perceptual::None => "none (MSE only: no perceptual network available)",
        }
    }

    /// Distance per sample `[B]`, `None` without a network.
    pub fn per_sample(&self, x0: Tensor<4>, x1: Tensor<4>) -> Option<Tensor<1>> {
        match self {
            Perceptual::Lpips(l) => Some(l.distance(x0, x1).total),
            Perceptual::None => None,
        }
    }

    /// Mean distance over the batch as a scalar tensor, `None` without a network.
    pub fn distance(&self, x0: Tensor<4>, x1: Tensor<4>) -> Option<Tensor<1>> {
        self.per_sample(x0, x1).map(|d| d.mean())
    }
}
