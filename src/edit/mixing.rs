//! Feature/latent mixing of two faces (FSE Fig. 7): the latent code of one face with the
//! feature code of the other.

use burn::tensor::Tensor;

use super::codes::Codes;
use crate::model::{FeatureInjection, Generator, ModelError, NoiseMode};

/// The four images of a mixing pane, each `[1,3,H,W]`.
pub struct Mix {
    pub recon_a: Tensor<4>,
    pub recon_b: Tensor<4>,
    /// G(w_B, F_A): B's latent (pose, expression, colours) with A's features.
    pub latent_b_feature_a: Tensor<4>,
    /// G(w_A, F_B).
    pub latent_a_feature_b: Tensor<4>,
}

/// Mixes single faces `a` and `b` (batch 1 each) in one batched synthesis.
pub fn mix(
    generator: &Generator,
    a: &Codes,
    b: &Codes,
    noise: &NoiseMode,
) -> Result<Mix, ModelError> {
    if a.k != b.k {
        return Err(ModelError::Layer(format!(
            "codes injected at different layers ({} and {})",
            a.k, b.k
        )));
    }
    let wplus = Tensor::cat(
        vec![
            a.wplus.clone(),
            b.wplus.clone(),
            b.wplus.clone(),
            a.wplus.clone(),
        ],
        0,
    );
    let feature = Tensor::cat(
        vec![
            a.feature.clone(),
            b.feature.clone(),
            a.feature.clone(),
            b.feature.clone(),
        ],
        0,
    );
    let injection = FeatureInjection {
        layer: a.k,
        feature,
        scale: 1.0,
        residual: false,
    };
    let img = generator
        .synthesize(wplus, noise, Some(&injection), &[])?
        .image;
    let pick = |i| img.clone().narrow(0, i, 1);
    Ok(Mix {
        recon_a: pick(0),
        recon_b: pick(1),
        latent_b_feature_a: pick(2),
        latent_a_feature_b: pick(3),
    })
}

/// w+ of face A with entries `layers` moved a fraction `t` of the way to face B's (t = 1 is
/// [`style_mixed_wplus`]); a mix sweep moves `t` from 0 to 1.
pub fn blended_wplus(
    generator: &Generator,
    a: &Tensor<3>,
    b: &Tensor<3>,
    layers: std::ops::Range<usize>,
    t: f32,
) -> Result<Tensor<3>, ModelError> {
    let toward = style_mixed_wplus(generator, a, b, layers)?;
    Ok(a.clone() + (toward - a.clone()) * t)
}

/// w+ of face A with entries `layers` taken from face B (classic latent style mixing; coarse ≈
/// 0..4, middle ≈ 4..8, fine ≈ 8..).
pub fn style_mixed_wplus(
    generator: &Generator,
    a: &Tensor<3>,
    b: &Tensor<3>,
    layers: std::ops::Range<usize>,
) -> Result<Tensor<3>, ModelError> {
    let l = generator.config.n_latent();
    if layers.is_empty() || layers.end > l {
        return Err(ModelError::Layer(format!(
            "layer range {layers:?} is not inside 0..{l}"
        )));
    }
    let mut parts = Vec::new();
    if layers.start > 0 {
        parts.push(a.clone().narrow(1, 0, layers.start));
    }
    parts.push(b.clone().narrow(1, layers.start, layers.len()));
    if layers.end < l {
        parts.push(a.clone().narrow(1, layers.end, l - layers.end));
    }
    Ok(Tensor::cat(parts, 1))
}

/// Classic latent style mixing: w+ entries `layers` of face B replace those of face A; A's
/// feature code follows by Eq. 1.
pub fn style_mix(
    generator: &Generator,
    a: &Codes,
    b: &Codes,
    layers: std::ops::Range<usize>,
    noise: &NoiseMode,
) -> Result<Tensor<4>, ModelError> {
    let w = style_mixed_wplus(generator, &a.wplus, &b.wplus, layers)?;
    super::feature_edit::edited_image(generator, a, w, noise)
}
