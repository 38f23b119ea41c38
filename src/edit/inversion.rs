//! FSE inversion: photo tensor → encoder input → (w+ = encoder output + latent_avg, F) →
//! G(w+, F injected at K).

use burn::tensor::Tensor;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use super::codes::Codes;
use crate::model::encoder::FeatureStyleEncoder;
use crate::model::{FeatureInjection, Generator, ModelError, NoiseMode};

pub use crate::model::resample::downscale_half;

/// The side photos are framed at for inversion: the generator's, or the encoder's input side
/// when that is larger (an encoder may see more pixels than its generator draws). The
/// encoder's input and the generator-side target are both made from it by `split_framed`.
pub fn photo_side(generator: &Generator, encoder: &FeatureStyleEncoder) -> usize {
    generator.config.size.max(encoder.config.input_resolution)
}

/// Photos framed at `photo_side` → (the encoder's input, the target at the generator's side
/// that reconstructions are measured against), both by `resize_to_side`.
pub fn split_framed(
    generator: &Generator,
    encoder: &FeatureStyleEncoder,
    framed: Tensor<4>,
) -> (Tensor<4>, Tensor<4>) {
    (
        resize_to_side(framed.clone(), encoder.config.input_resolution),
        resize_to_side(framed, generator.config.size),
    )
}

/// Brings `[B,3,R,R]` images in [-1,1] to `side`: halvings while the image is at least twice as
/// large (how FSE brings 1024² to the encoder's 256²), then one bilinear resize if the side
/// still differs.
pub fn resize_to_side(mut x: Tensor<4>, side: usize) -> Tensor<4> {
    while x.dims()[2] >= 2 * side {
        x = downscale_half(x);
    }
    let [_, _, h, w] = x.dims();
    if h != side || w != side {
        x = interpolate(
            x,
            InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([side, side]),
        );
    }
    x
}

/// Whether `encoder` was built for `generator` (number of w+ entries, style dim, F's shape).
pub fn check_pair(generator: &Generator, encoder: &FeatureStyleEncoder) -> Result<(), ModelError> {
    let (g, e) = (&generator.config, &encoder.config);
    if e.k > g.num_layers() {
        return Err(ModelError::Shape(format!(
            "the encoder's K = {} is past the generator's last layer ({})",
            e.k,
            g.num_layers()
        )));
    }
    let [c, side] = g.feature_shape(e.k);
    if e.n_styles != g.n_latent()
        || e.style_dim != g.style_dim
        || e.fmaps != c
        || e.feature_side() != side
    {
        return Err(ModelError::Shape(format!(
            "the encoder (w+ {}×{}, F {}×{side_e}×{side_e} at K={}) does not fit the generator (w+ {}×{}, layer {} is {c}×{side}×{side})",
            e.n_styles,
            e.style_dim,
            e.fmaps,
            e.k,
            g.n_latent(),
            g.style_dim,
            e.k,
            side_e = e.feature_side(),
        )));
    }
    Ok(())
}

/// Encodes images already at the encoder's input side into codes.
pub fn encode(
    generator: &Generator,
    encoder: &FeatureStyleEncoder,
    encoder_images: Tensor<4>,
) -> Result<Codes, ModelError> {
    check_pair(generator, encoder)?;
    let enc = encoder.encode(encoder_images);
    let s = generator.config.style_dim;
    let wplus = enc.wplus_delta + generator.truncation_latent().reshape([1, 1, s]);
    Ok(Codes {
        wplus,
        feature: enc.feature,
        k: encoder.config.k,
    })
}

/// `G(w+, F at K)`.
pub fn reconstruct(
    generator: &Generator,
    codes: &Codes,
    noise: &NoiseMode,
) -> Result<Tensor<4>, ModelError> {
    let injection = FeatureInjection {
        layer: codes.k,
        feature: codes.feature.clone(),
        scale: 1.0,
        residual: false,
    };
    Ok(generator
        .synthesize(codes.wplus.clone(), noise, Some(&injection), &[])?
        .image)
}
