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

/// `F − G^K(w)`: what Eq. 1 adds to the activation at K of an edited latent's own run. It
/// depends on the codes alone, so a face computes it once and every slider move then costs a
/// single synthesis ([`edited_image_with_residual`]).
pub fn feature_residual(
    generator: &Generator,
    codes: &Codes,
    noise: &NoiseMode,
) -> Result<Tensor<4>, ModelError> {
    if let NoiseMode::Random { .. } = noise {
        return Err(ModelError::Shape(
            "Eq. 1 needs the same noise for w and w̃: use stored, zero or given noise".into(),
        ));
    }
    Ok(codes.feature.clone() - generator.feature_at(codes.wplus.clone(), noise, codes.k)?)
}

/// `G(w̃, F̃)` in one run: at layer K the run of w̃ has G^K(w̃), and adding the residual
/// F − G^K(w) gives F̃ = F + G^K(w̃) − G^K(w) exactly where Eq. 1 injects it. With
/// `preview_side`, the run stops at that resolution (see [`Generator::synthesize_preview`]).
pub fn edited_image_with_residual(
    generator: &Generator,
    edited_wplus: Tensor<3>,
    residual: Tensor<4>,
    k: usize,
    noise: &NoiseMode,
    preview_side: Option<usize>,
) -> Result<Tensor<4>, ModelError> {
    let injection = FeatureInjection {
        layer: k,
        feature: residual,
        scale: 1.0,
        residual: true,
    };
    let side = preview_side.unwrap_or(generator.config.size);
    generator.synthesize_preview(edited_wplus, noise, Some(&injection), side)
}

/// `G(w̃, F̃)` with F̃ from Eq. 1.
pub fn edited_image(
    generator: &Generator,
    codes: &Codes,
    edited_wplus: Tensor<3>,
    noise: &NoiseMode,
) -> Result<Tensor<4>, ModelError> {
    let residual = feature_residual(generator, codes, noise)?;
    edited_image_with_residual(generator, edited_wplus, residual, codes.k, noise, None)
}
