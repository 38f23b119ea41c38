//! Faces drawn from seeds: one seed at truncation ψ, or two seeds style-mixed by a w+ range
//! (as NVIDIA's visualizer does: the entries `from..to` come from the second seed).

use burn::tensor::Tensor;

use super::{PhotoId, Workspace};
use crate::edit::{Codes, mixing};
use crate::imaging::tensor_to_rgb_images;
use crate::model::Generator;

/// A face the generator draws from seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedFace {
    pub seed: u64,
    /// ψ: 1 draws from the whole distribution, 0 is the average face.
    pub truncation: f32,
    /// Another seed's w+ entries mixed in.
    pub mix: Option<SeedMix>,
}

/// Style mixing of two seeds: w+ entries `from..to` come from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedMix {
    pub seed: u64,
    pub from: usize,
    pub to: usize,
}

impl SeedFace {
    pub fn new(seed: u64, truncation: f32) -> Self {
        Self {
            seed,
            truncation,
            mix: None,
        }
    }

    /// Its w+ `[1, L, 512]` under `g`; a mix range outside `0..L` or empty is refused.
    pub fn wplus(&self, g: &Generator) -> anyhow::Result<Tensor<3>> {
        let a = g.seeded_wplus(self.seed, 1, self.truncation);
        let Some(m) = self.mix else { return Ok(a) };
        let b = g.seeded_wplus(m.seed, 1, self.truncation);
        Ok(mixing::style_mixed_wplus(g, &a, &b, m.from..m.to)?)
    }

    /// What it is called in the library.
    pub fn name(&self) -> String {
        let base = format!("seed {} (psi {:.2})", self.seed, self.truncation);
        match self.mix {
            Some(m) => format!("{base} + seed {} at w+ {}..{}", m.seed, m.from, m.to),
            None => base,
        }
    }
}

impl Workspace {
    /// The face drawn from `face`'s seeds.
    pub fn render_face(&self, face: &SeedFace) -> anyhow::Result<image::RgbImage> {
        let g = self.generator()?;
        let out = g.synthesize(face.wplus(g)?, &self.noise, None, &[])?;
        Ok(tensor_to_rgb_images(out.image).remove(0))
    }

    /// The face drawn from `face`'s seeds as editable codes: its w+ and F = G^K(w) at the
    /// encoder's K.
    pub fn open_seed(&mut self, face: &SeedFace) -> anyhow::Result<PhotoId> {
        let g = self.generator()?;
        let k = self.encoder()?.config.k;
        let wplus = face.wplus(g)?;
        let feature = g.feature_at(wplus.clone(), &self.noise, k)?;
        let codes = Codes { wplus, feature, k };
        self.open_generated(codes, &face.name())
    }
}
