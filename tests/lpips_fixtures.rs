//! LPIPS parity: the real published AlexNet heads (legacy .pth) on a random trunk, and the
//! reduced AlexNet and VGG models of the unit fixtures.

mod common;

use common::*;
use facestyle::edit::inversion::downscale_half;
use facestyle::model::lpips::{Lpips, TrunkKind, normalize_keys};
use facestyle::weights;

const LPIPS_TOL: f32 = 2e-6;

#[test]
fn alex_with_published_heads() {
    let trunk = store("lpips_alex/alexnet_trunk.safetensors");
    let lin = weights::read_torch(&fixture("lpips_alex/lin_alex_v0.1.pth")).unwrap();
    let lpips = Lpips::load(
        &normalize_keys(&trunk, &lin, ""),
        TrunkKind::Alex,
        &device(),
    )
    .unwrap();
    let input = store("lpips_alex/case_in.safetensors");
    let expected = store("lpips_alex/case_out.safetensors");
    let (x0, x1) = (tensor::<4>(&input, "image0"), tensor::<4>(&input, "image1"));
    let d = lpips.distance(x0.clone(), x1.clone());
    assert_close(
        "distance",
        d.total,
        tensor(&expected, "distance"),
        LPIPS_TOL,
        1e-5,
    );
    for (k, layer) in d.per_layer.into_iter().enumerate() {
        assert_close(
            &format!("layer_{k}"),
            layer,
            tensor(&expected, &format!("layer_{k}")),
            LPIPS_TOL,
            1e-5,
        );
    }
    let half = lpips.distance(downscale_half(x0), downscale_half(x1)).total;
    assert_close(
        "distance_half",
        half,
        tensor(&expected, "distance_half"),
        LPIPS_TOL,
        1e-5,
    );
}

#[test]
fn reduced_alex_and_vgg_from_the_lpips_state_dict() {
    let s = store("unit/lpips.safetensors");
    let (x0, x1) = (tensor::<4>(&s, "input.in0"), tensor::<4>(&s, "input.in1"));
    for kind in [TrunkKind::Alex, TrunkKind::Vgg] {
        let name = kind.name();
        let lpips = Lpips::load(
            &normalize_keys(&s, &s, &format!("{name}.")),
            kind,
            &device(),
        )
        .unwrap();
        let d = lpips.distance(x0.clone(), x1.clone());
        let value = tensor::<4>(&s, &format!("output.{name}.value")).reshape([2]);
        assert_close(&format!("{name} value"), d.total, value, LPIPS_TOL, 1e-5);
        for (k, layer) in d.per_layer.into_iter().enumerate() {
            let e = tensor::<4>(&s, &format!("output.{name}.per_layer.{k}")).reshape([2]);
            assert_close(&format!("{name} per_layer {k}"), layer, e, LPIPS_TOL, 1e-5);
        }
    }
}

#[test]
fn identical_images_have_zero_distance_and_multiscale_sums_three_scales() {
    // 128² so that the 4× halving (32²) still fits AlexNet's two 3×3 max-pools.
    let lpips = lpips_alex_fixture();
    let input = store("lpips_alex/case_in.safetensors");
    let (x0, x1) = (tensor::<4>(&input, "image0"), tensor::<4>(&input, "image1"));
    let zero = lpips.distance(x0.clone(), x0.clone()).total;
    assert_close(
        "self distance",
        zero,
        burn::tensor::Tensor::zeros([3], &device()),
        1e-7,
        0.0,
    );
    let expected = lpips.distance(x0.clone(), x1.clone()).total
        + lpips
            .distance(downscale_half(x0.clone()), downscale_half(x1.clone()))
            .total
        + lpips
            .distance(
                downscale_half(downscale_half(x0.clone())),
                downscale_half(downscale_half(x1.clone())),
            )
            .total;
    assert_close("multiscale", lpips.multiscale(x0, x1), expected, 1e-6, 1e-6);
}

#[test]
fn missing_head_names_the_key() {
    let trunk = store("lpips_alex/alexnet_trunk.safetensors");
    let mut lin = store("lpips_alex/lin_alex_v0.1.safetensors");
    lin.tensors.remove("lin3.model.1.weight");
    let err = Lpips::load(
        &normalize_keys(&trunk, &lin, ""),
        TrunkKind::Alex,
        &device(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("lin3.model.1.weight"), "{err}");
}
