//! The perceptual distance PTI minimizes: exact LPIPS when its weights are available, a
//! bundled network compared LPIPS-style when asked for (the discriminator's features or the
//! identity network's), else pixel MSE alone — and it says which.

use burn::tensor::Tensor;

use crate::model::discriminator_trunk::DiscriminatorTrunk;
use crate::model::face_id::FaceIdNet;
use crate::model::lpips::Lpips;

pub enum Perceptual {
    /// LPIPS v0.1 with the AlexNet trunk (PTI's choice).
    Lpips(Box<Lpips>),
    /// The bundled model's discriminator features, compared LPIPS-style.
    Discriminator(Box<DiscriminatorTrunk>),
    /// The bundled identity network's stage features of the face region, compared LPIPS-style.
    FaceId(Box<FaceIdNet>),
    /// No perceptual network: MSE only.
    None,
}

impl Perceptual {
    pub fn name(&self) -> &'static str {
        match self {
            Perceptual::Lpips(_) => "lpips-alex",
            Perceptual::Discriminator(_) => "discriminator features (bundled perceptual network)",
            Perceptual::FaceId(_) => "identity-network features (bundled face-api network)",
            Perceptual::None => "none (pixel MSE only)",
        }
    }

    /// Short name for reports.
    pub fn key(&self) -> &'static str {
        match self {
            Perceptual::Lpips(_) => "lpips-alex",
            Perceptual::Discriminator(_) => "discriminator",
            Perceptual::FaceId(_) => "face-id",
            Perceptual::None => "none",
        }
    }

    /// Distance per sample `[B]`, `None` without a network.
    pub fn per_sample(&self, x0: Tensor<4>, x1: Tensor<4>) -> Option<Tensor<1>> {
        match self {
            Perceptual::Lpips(l) => Some(l.distance(x0, x1).total),
            Perceptual::Discriminator(d) => Some(d.distance(x0, x1)),
            Perceptual::FaceId(f) => Some(f.distance(x0, x1)),
            Perceptual::None => None,
        }
    }

    /// Mean distance over the batch as a scalar tensor, `None` without a network.
    pub fn distance(&self, x0: Tensor<4>, x1: Tensor<4>) -> Option<Tensor<1>> {
        self.per_sample(x0, x1).map(|d| d.mean())
    }
}
