//! The projector's deterministic pieces against the reference numbers (`pti_numeric`), and a
//! short projection that moves toward its target.

mod common;

use burn::tensor::Tensor;
use common::*;
use facestyle::model::{Generator, NoiseMode};
use facestyle::pti::projector::{noise_regularization, normalize_noise};
use facestyle::pti::tuning::locality_code;
use facestyle::pti::{CancelToken, Perceptual, ProjectionConfig, project};

fn f64s(s: &facestyle::weights::TensorStore, key: &str) -> Vec<f64> {
    let t = s.get(key).unwrap();
    t.bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn schedules_match_the_reference() {
    let s = store("unit/pti_numeric.safetensors");
    let c = ProjectionConfig::default();
    for (step, (lr, noise)) in f64s(&s, "pti.lr_schedule")
        .into_iter()
        .zip(f64s(&s, "pti.w_noise_scale_over_w_std"))
        .enumerate()
    {
        assert!((c.learning_rate(step) - lr).abs() < 1e-12, "lr at {step}");
        assert!(
            (c.w_noise_factor(step) - noise).abs() < 1e-12,
            "noise at {step}"
        );
    }
}

#[test]
fn noise_regularization_normalization_and_locality_code() {
    let s = store("unit/pti_numeric.safetensors");
    let maps: Vec<Tensor<4>> = (0..9)
        .map(|j| {
            let t = tensor::<2>(&s, &format!("pti.noise_reg.input.{j}"));
            let [h, w] = t.dims();
            t.reshape([1, 1, h, w])
        })
        .collect();
    let reg: f32 = noise_regularization(&maps).into_scalar();
    let expected = f64s(&s, "pti.noise_reg.value")[0];
    assert!(
        ((reg as f64) - expected).abs() <= 1e-5 * expected.abs().max(1e-6),
        "{reg} vs {expected}"
    );
    for (j, m) in maps.into_iter().enumerate() {
        let [_, _, h, w] = m.dims();
        let out = normalize_noise(m).reshape([h, w]);
        assert_close(
            &format!("noise_norm {j}"),
            out,
            tensor(&s, &format!("pti.noise_norm.output.{j}")),
            1e-5,
            1e-5,
        );
    }
    let alpha = tensor::<1>(&s, "pti.morph.alpha").into_scalar::<f32>();
    let morph = locality_code(
        tensor(&s, "pti.morph.w_pivot"),
        tensor(&s, "pti.morph.w_z"),
        alpha,
    );
    assert_close("morph", morph, tensor(&s, "pti.morph.output"), 1e-4, 1e-5);
}

#[test]
fn projection_approaches_a_generated_target() {
    let g = Generator::load(&store("stylegan2_64/weights.safetensors"), &device()).unwrap();
    let w_true = g.broadcast(g.map(g.seeded_z(5, 1)));
    let target = g
        .synthesize(w_true, &NoiseMode::Stored, None, &[])
        .unwrap()
        .image;
    let config = ProjectionConfig {
        steps: 40,
        initial_lr: 0.05,
        ..ProjectionConfig::default()
    };
    let mut losses = Vec::new();
    let projected = project(
        &g,
        &target,
        &Perceptual::None,
        &config,
        &CancelToken::default(),
        |_, _, l| losses.push(l),
    )
    .unwrap();
    assert_eq!(losses.len(), 40);
    let mse = |w: Tensor<3>| -> f32 {
        let img = g
            .synthesize(w, &NoiseMode::Stored, None, &[])
            .unwrap()
            .image;
        (img - target.clone()).square().mean().into_scalar()
    };
    let start = g.broadcast(g.map(g.seeded_z(10_000, 600)).mean_dim(0));
    assert!(
        mse(projected.wplus.clone()) < mse(start),
        "projection beats its start (w_avg)"
    );
    assert_eq!(projected.wplus.dims(), [1, 10, 64]);
}
