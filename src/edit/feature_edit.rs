//! The paper's Eq. 1: when the latent moves from w to w̃, the feature code follows as
//! F̃ = F + G^K(w̃) − G^K(w), and the edited face is G(w̃, F̃). Every slider goes through here.

use burn::tensor::Tensor;

use super::codes::Codes;
use crate::model::{FeatureInjection, Generator, ModelError, NoiseMode};

/// The edited codes (w̃, F̃) for an edited latent `edited_wplus`.
pub fn corrected_codes(
    generator: &Generator,
    codes: &Codes,
    edited_wplus: Tensor<3>,
    noise: &NoiseMode,
) -> Result<Codes, ModelError> {
    let b = codes.batch();
    // One batched run computes G^K for both latents.
    let both = Tensor::cat(vec![edited_wplus.clone(), codes.wplus.clone()], 0);
    let noise = match noise {
        NoiseMode::Given(maps) => NoiseMode::Given(
            maps.iter()
                .map(|m| {
                    if m.dims()[0] == b {
                        Tensor::cat(vec![m.clone(), m.clone()], 0)
                    } else {
                        m.clone()
                    }
                })
                .collect(),
        ),
        NoiseMode::Random { .. } => {
            return Err(ModelError::Shape(
                "Eq. 1 needs the same noise for w and w̃: use stored, zero or given noise".into(),
            ));
        }
        other => other.clone(),
    };
    let g_k = generator.feature_at(both, &noise, codes.k)?;
    let g_edit = g_k.clone().narrow(0, 0, b);
    let g_orig = g_k.narrow(0, b, b);
    Ok(Codes {
        wplus: edited_wplus,
        feature: codes.feature.clone() + g_edit - g_orig,
        k: codes.k,
    })
}

/// `G(w̃, F̃)` with F̃ from Eq. 1.
pub fn edited_image(
    generator: &Generator,
    codes: &Codes,
    edited_wplus: Tensor<3>,
    noise: &NoiseMode,
) -> Result<Tensor<4>, ModelError> {
    let edited = corrected_codes(generator, codes, edited_wplus, noise)?;
    let injection = FeatureInjection {
        layer: edited.k,
        feature: edited.feature,
        scale: 1.0,
    };
    Ok(generator
        .synthesize(edited.wplus, noise, Some(&injection), &[])?
        .image)
}
