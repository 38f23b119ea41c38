//! Pivotal tuning on a tiny model: the loss falls, the photo is reproduced better, locality
//! regularization keeps far-away codes closer to the original, cancelling changes nothing.

mod common;

use burn::tensor::Tensor;
use common::*;
use facestyle::edit::inversion;
use facestyle::model::encoder::FeatureStyleEncoder;
use facestyle::model::{Generator, NoiseMode};
use facestyle::pti::tuning::locality_code;
use facestyle::pti::{
    CancelToken, Locality, Perceptual, TuningConfig, TuningError, pivotal_tuning,
};
use facestyle::weights;

struct Setup {
    g: Generator,
    pivot: Tensor<3>,
    target: Tensor<4>,
    perceptual: Perceptual,
}

fn setup() -> Setup {
    let mut g = Generator::load(&store("stylegan2_64/weights.safetensors"), &device()).unwrap();
    g.latent_avg = Some(tensor(
        &store("fse_encoder_64/case_invert_in.safetensors"),
        "latent_avg",
    ));
    let e =
        FeatureStyleEncoder::load(&store("fse_encoder_64/weights.safetensors"), &device()).unwrap();
    let photo =
        tensor::<4>(&store("fse_encoder_64/case_encode_in.safetensors"), "image").narrow(0, 0, 1);
    let codes = inversion::encode(&g, &e, photo.clone()).unwrap();
    let lpips = lpips_alex_fixture();
    Setup {
        g,
        pivot: codes.wplus,
        target: inversion::resize_to_side(photo, 64),
        perceptual: Perceptual::Lpips(Box::new(lpips)),
    }
}

fn mse(a: Tensor<4>, b: Tensor<4>) -> f32 {
    (a - b).square().mean().into_scalar()
}

fn config(steps: usize, locality: Locality) -> TuningConfig {
    TuningConfig {
        steps,
        learning_rate: 3e-3,
        lpips_threshold: 0.0,
        locality,
        ..TuningConfig::default()
    }
}

#[test]
fn tuning_lowers_the_loss_and_the_reconstruction_error() {
    let s = setup();
    let mut losses = Vec::new();
    let tuned = pivotal_tuning(
        &s.g,
        &s.pivot,
        &s.target,
        &s.perceptual,
        &config(25, Locality::Off),
        &CancelToken::default(),
        |p| {
            assert!(p.lpips.is_some());
            losses.push(p.loss)
        },
    )
    .unwrap();
    assert_eq!(losses.len(), 25);
    assert!(losses.last() < losses.first(), "{losses:?}");
    let falls = losses.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(falls >= 18, "mostly decreasing: {losses:?}");
    let before =
        s.g.synthesize(s.pivot.clone(), &NoiseMode::Stored, None, &[])
            .unwrap()
            .image;
    let after = tuned
        .generator
        .synthesize(s.pivot.clone(), &NoiseMode::Stored, None, &[])
        .unwrap()
        .image;
    assert!(mse(after, s.target.clone()) < mse(before, s.target.clone()));
    assert_eq!(
        tuned.generator.identity, s.g.identity,
        "codes of the base model stay valid"
    );

    // The personalized generator saves and loads back to the same images.
    let path = tmp("tuned.safetensors");
    weights::write_safetensors(&tuned.generator.to_store(), &path).unwrap();
    let back = Generator::load(&weights::read_safetensors(&path).unwrap(), &device()).unwrap();
    let a = tuned
        .generator
        .synthesize(s.pivot.clone(), &NoiseMode::Stored, None, &[])
        .unwrap()
        .image;
    let b = back
        .synthesize(s.pivot.clone(), &NoiseMode::Stored, None, &[])
        .unwrap()
        .image;
    assert_close("reloaded", b, a, 0.0, 0.0);
    assert_eq!(back.identity, s.g.identity);
}

#[test]
fn locality_regularization_keeps_far_codes_closer_to_the_original() {
    let s = setup();
    let run = |locality| {
        pivotal_tuning(
            &s.g,
            &s.pivot,
            &s.target,
            &s.perceptual,
            &config(20, locality),
            &CancelToken::default(),
            |_| {},
        )
        .unwrap()
        .generator
    };
    let free = run(Locality::Off);
    let local = run(Locality::paper());
    // Codes 30 away from the pivot, toward random mapped latents.
    let z = s.g.seeded_z(99, 4);
    let far = locality_code(
        s.pivot.clone().repeat_dim(0, 4),
        s.g.broadcast(s.g.map(z)),
        30.0,
    );
    let image = |g: &Generator| {
        g.synthesize(far.clone(), &NoiseMode::Stored, None, &[])
            .unwrap()
            .image
    };
    let (orig, free_img, local_img) = (image(&s.g), image(&free), image(&local));
    let drift_free = mse(free_img, orig.clone());
    let drift_local = mse(local_img, orig);
    assert!(
        drift_local < drift_free,
        "with locality {drift_local} vs without {drift_free}"
    );
}

#[test]
fn cancel_leaves_the_generator_bit_equal() {
    let s = setup();
    let before = s.g.to_store();
    let token = CancelToken::default();
    let result = pivotal_tuning(
        &s.g,
        &s.pivot,
        &s.target,
        &s.perceptual,
        &config(50, Locality::Off),
        &token,
        |p| {
            if p.step == 3 {
                token.cancel();
            }
        },
    );
    assert!(matches!(result, Err(TuningError::Cancelled)));
    assert_eq!(
        s.g.to_store().tensors,
        before.tensors,
        "bit-equal weights after cancel"
    );
}

#[test]
fn tuning_on_identity_network_features_lowers_their_distance() {
    let s = setup();
    let perceptual = facestyle::model_source::load_perceptual(
        facestyle::model_source::PerceptualChoice::FaceId,
        &device(),
    )
    .unwrap();
    assert_eq!(perceptual.key(), "face-id");
    let mut distances = Vec::new();
    pivotal_tuning(
        &s.g,
        &s.pivot,
        &s.target,
        &perceptual,
        &config(8, Locality::Off),
        &CancelToken::default(),
        |p| distances.push(p.lpips.expect("a perceptual distance is reported")),
    )
    .unwrap();
    assert_eq!(distances.len(), 8);
    assert!(distances[0] > 0.0);
    assert!(distances.last() < distances.first(), "{distances:?}");
    // Identical images are at distance zero.
    let same: f32 = perceptual
        .per_sample(s.target.clone(), s.target.clone())
        .unwrap()
        .into_scalar();
    assert!(same.abs() < 1e-6, "{same}");
}
