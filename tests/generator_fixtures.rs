//! Parity of the generator with the reference PyTorch code on the golden fixtures.

mod common;

use common::*;
use facestyle::model::{FeatureInjection, Generator, NoiseMode};
use facestyle::weights;

fn noise_list(
    s: &facestyle::weights::TensorStore,
    fmt: impl Fn(usize) -> String,
    n: usize,
) -> NoiseMode {
    NoiseMode::Given((0..n).map(|j| tensor::<4>(s, &fmt(j))).collect())
}

fn sg64() -> Generator {
    Generator::load(&store("stylegan2_64/weights.safetensors"), &device()).unwrap()
}

#[test]
fn wplus_image_and_every_feature_map() {
    let g = sg64();
    let input = store("stylegan2_64/case_wplus_in.safetensors");
    let expected = store("stylegan2_64/case_wplus_out.safetensors");
    let noise = noise_list(&input, |j| format!("noise_{j}"), 9);
    let taps: Vec<usize> = (0..=9).collect();
    let out = g
        .synthesize(tensor(&input, "wplus"), &noise, None, &taps)
        .unwrap();
    assert_close("image", out.image, tensor(&expected, "image"), ATOL, RTOL);
    for (k, f) in out.taps.into_iter().enumerate() {
        assert_close(
            &format!("feature_{k}"),
            f,
            tensor(&expected, &format!("feature_{k}")),
            ATOL,
            RTOL,
        );
    }
    let f5 = g.feature_at(tensor(&input, "wplus"), &noise, 5).unwrap();
    assert_close(
        "feature (K=5)",
        f5,
        tensor(&expected, "feature"),
        ATOL,
        RTOL,
    );
}

#[test]
fn mapping_truncation_from_the_pytorch_checkpoint() {
    let (st, layout) =
        weights::read_generator_checkpoint(&fixture("stylegan2_64/checkpoint.pt")).unwrap();
    assert_eq!(layout, weights::GeneratorLayout::Rosinality);
    let g = Generator::load(&st, &device()).unwrap();
    let input = store("stylegan2_64/case_z_in.safetensors");
    let expected = store("stylegan2_64/case_z_out.safetensors");
    let w = g.map(tensor(&input, "z"));
    assert_close("w", w.clone(), tensor(&expected, "w"), ATOL, RTOL);
    let avg = g
        .latent_avg
        .clone()
        .expect("checkpoint.pt carries latent_avg");
    assert_close(
        "latent_avg",
        avg.clone(),
        tensor(&expected, "latent_avg"),
        0.0,
        0.0,
    );
    let wplus = g.broadcast(g.truncate(w, 0.7, &avg));
    let noise = noise_list(&input, |j| format!("noise_{j}"), 9);
    let out = g.synthesize(wplus, &noise, None, &[]).unwrap();
    assert_close("image", out.image, tensor(&expected, "image"), ATOL, RTOL);
}

#[test]
fn feature_injection_at_k5() {
    let g = sg64();
    let input = store("stylegan2_64/case_inject_in.safetensors");
    let expected = store("stylegan2_64/case_inject_out.safetensors");
    let noise = noise_list(&input, |j| format!("noise_{j}"), 9);
    let inj = FeatureInjection {
        layer: 5,
        feature: tensor(&input, "feature"),
        scale: 1.0,
        residual: false,
    };
    let out = g
        .synthesize(tensor(&input, "wplus"), &noise, Some(&inj), &[])
        .unwrap();
    assert_close("image", out.image, tensor(&expected, "image"), ATOL, RTOL);
}

#[test]
fn zero_noise() {
    let g = sg64();
    let input = store("stylegan2_64/case_wplus_in.safetensors");
    let expected = store("stylegan2_64/case_nonoise_out.safetensors");
    let out = g
        .synthesize(tensor(&input, "wplus"), &NoiseMode::Zero, None, &[])
        .unwrap();
    assert_close("image", out.image, tensor(&expected, "image"), ATOL, RTOL);
}

/// The second fixture set: 8 mapping layers, another channel table, per-sample noise.
#[test]
fn unit_generator_every_output() {
    let s = store("unit/stylegan2_generator.safetensors");
    let g = Generator::load(&s, &device()).unwrap();
    let noise = noise_list(&s, |j| format!("noise.{j}"), 9);
    let wplus = tensor::<3>(&s, "input.wplus");

    let w = g.map(tensor(&s, "input.z"));
    assert_close(
        "mapping_w",
        w.clone(),
        tensor(&s, "output.mapping_w"),
        ATOL,
        RTOL,
    );
    let from_z = g
        .synthesize(g.broadcast(w.clone()), &noise, None, &[])
        .unwrap();
    assert_close(
        "image_from_z",
        from_z.image,
        tensor(&s, "output.image_from_z"),
        ATOL,
        RTOL,
    );
    let avg = tensor::<2>(&s, "input.truncation_latent").reshape([64]);
    let trunc = g
        .synthesize(g.broadcast(g.truncate(w, 0.7, &avg)), &noise, None, &[])
        .unwrap();
    assert_close(
        "image_truncated",
        trunc.image,
        tensor(&s, "output.image_truncated"),
        ATOL,
        RTOL,
    );

    let taps: Vec<usize> = (0..=9).collect();
    let out = g.synthesize(wplus.clone(), &noise, None, &taps).unwrap();
    assert_close("image", out.image, tensor(&s, "output.image"), ATOL, RTOL);
    for (k, f) in out.taps.into_iter().enumerate() {
        assert_close(
            &format!("outs.{k}"),
            f,
            tensor(&s, &format!("output.outs.{k}")),
            ATOL,
            RTOL,
        );
    }
    let buffers = g
        .synthesize(wplus.clone(), &NoiseMode::Stored, None, &[])
        .unwrap();
    assert_close(
        "image_buffer_noise",
        buffers.image,
        tensor(&s, "output.image_buffer_noise"),
        ATOL,
        RTOL,
    );

    for (scale, key) in [
        (1.0, "output.image_with_feature"),
        (0.5, "output.image_with_feature_scale0.5"),
    ] {
        let inj = FeatureInjection {
            layer: 5,
            feature: tensor(&s, "input.feature_in"),
            scale,
            residual: false,
        };
        let out = g
            .synthesize(wplus.clone(), &noise, Some(&inj), &[])
            .unwrap();
        assert_close(key, out.image, tensor(&s, key), ATOL, RTOL);
    }

    // The paper's Eq. 1 on the generator side: F~ = F + G^K(w~) − G^K(w), then G(w~, F~).
    let edit = tensor::<3>(&s, "input.wplus_edit");
    let f_edit = tensor::<4>(&s, "input.feature_in")
        + g.feature_at(edit.clone(), &noise, 5).unwrap()
        - g.feature_at(wplus, &noise, 5).unwrap();
    assert_close(
        "feature_edit",
        f_edit.clone(),
        tensor(&s, "output.feature_edit"),
        ATOL,
        RTOL,
    );
    let inj = FeatureInjection {
        layer: 5,
        feature: f_edit,
        scale: 1.0,
        residual: false,
    };
    let out = g.synthesize(edit, &noise, Some(&inj), &[]).unwrap();
    assert_close(
        "image_edit",
        out.image,
        tensor(&s, "output.image_edit"),
        1e-3,
        1e-3,
    );
}

#[test]
fn bad_layers_and_shapes_are_errors_not_panics() {
    let g = sg64();
    let input = store("stylegan2_64/case_inject_in.safetensors");
    let wplus = tensor::<3>(&input, "wplus");
    let inj = |layer| FeatureInjection {
        layer,
        feature: tensor(&input, "feature"),
        scale: 1.0,
        residual: false,
    };
    assert!(
        g.synthesize(wplus.clone(), &NoiseMode::Stored, Some(&inj(0)), &[])
            .is_err()
    );
    assert!(
        g.synthesize(wplus.clone(), &NoiseMode::Stored, Some(&inj(4)), &[])
            .is_ok(),
        "16×16 at K=4 too"
    );
    assert!(
        g.synthesize(wplus.clone(), &NoiseMode::Stored, Some(&inj(6)), &[])
            .is_err(),
        "32×32 map needed at K=6"
    );
    assert!(
        g.synthesize(wplus.clone(), &NoiseMode::Stored, None, &[10])
            .is_err()
    );
    let short = wplus.narrow(1, 0, 9);
    let err = g
        .synthesize(short, &NoiseMode::Stored, None, &[])
        .unwrap_err();
    assert!(err.to_string().contains("w+"), "{err}");
}
