//! The GPU code path (burn's wgpu backend) against the same golden fixtures as the CPU
//! suite, on a software Vulkan adapter (Mesa's lavapipe, installed by `.ci/run`): generator
//! render + every feature tap + injection at K, the encoder and a whole inversion, and the
//! gradients of one tuning step. Tolerance 1e-3 (the fixture README's GPU tolerance). Without
//! a software adapter the tests say that they were skipped.

mod common;

use burn::tensor::{Device, Tensor};
use common::{assert_close, fixture, store};
use facestyle::device::{ComputeDevice, DeviceChoice, software_adapter};
use facestyle::edit::inversion;
use facestyle::model::encoder::FeatureStyleEncoder;
use facestyle::model::loader::{tensor_from_vec, tensor_to_vec};
use facestyle::model::{FeatureInjection, Generator, NoiseMode};
use facestyle::weights::{self, TensorStore};

const TOL: f32 = 1e-3;

/// The software adapter's wgpu device, or `None` (and a note) where there is none.
fn gpu(test: &str) -> Option<Device> {
    match software_adapter() {
        Some(name) => {
            println!("{test}: on {name}");
            Some(ComputeDevice::select(DeviceChoice::SoftwareGpu).device)
        }
        None => {
            println!("{test}: SKIPPED, no software Vulkan adapter (install mesa-vulkan-drivers)");
            None
        }
    }
}

fn on<const D: usize>(s: &TensorStore, key: &str, device: &Device) -> Tensor<D> {
    let shape: [usize; D] = s.shape(key).unwrap().to_vec().try_into().unwrap();
    tensor_from_vec(s.f32(key, &shape).unwrap(), shape, device)
}

fn given_noise(s: &TensorStore, prefix: &str, n: usize, device: &Device) -> NoiseMode {
    NoiseMode::Given(
        (0..n)
            .map(|j| on(s, &format!("{prefix}{j}"), device))
            .collect(),
    )
}

#[test]
fn generator_render_taps_and_injection_on_wgpu() {
    let Some(dev) = gpu("generator") else { return };
    let g = Generator::load(&store("stylegan2_64/weights.safetensors"), &dev).unwrap();
    let input = store("stylegan2_64/case_wplus_in.safetensors");
    let expected = store("stylegan2_64/case_wplus_out.safetensors");
    let noise = given_noise(&input, "noise_", 9, &dev);
    let taps: Vec<usize> = (0..=9).collect();
    let out = g
        .synthesize(on(&input, "wplus", &dev), &noise, None, &taps)
        .unwrap();
    let cpu = common::device();
    let back = |t: Tensor<4>| tensor_from_vec(tensor_to_vec(t.clone()), t.dims(), &cpu);
    assert_close(
        "image",
        back(out.image),
        common::tensor(&expected, "image"),
        TOL,
        TOL,
    );
    for (k, f) in out.taps.into_iter().enumerate() {
        let key = format!("feature_{k}");
        assert_close(&key, back(f), common::tensor(&expected, &key), TOL, TOL);
    }
    let input = store("stylegan2_64/case_inject_in.safetensors");
    let expected = store("stylegan2_64/case_inject_out.safetensors");
    let inj = FeatureInjection {
        layer: 5,
        feature: on(&input, "feature", &dev),
        scale: 1.0,
        residual: false,
    };
    let noise = given_noise(&input, "noise_", 9, &dev);
    let out = g
        .synthesize(on(&input, "wplus", &dev), &noise, Some(&inj), &[])
        .unwrap();
    assert_close(
        "injected image",
        back(out.image),
        common::tensor(&expected, "image"),
        TOL,
        TOL,
    );
}

#[test]
fn encoder_and_inversion_on_wgpu() {
    let Some(dev) = gpu("encoder") else { return };
    let e = FeatureStyleEncoder::load(&store("fse_encoder_64/weights.safetensors"), &dev).unwrap();
    let input = store("fse_encoder_64/case_encode_in.safetensors");
    let expected = store("fse_encoder_64/case_encode_out.safetensors");
    let enc = e.encode(on(&input, "image", &dev));
    let cpu = common::device();
    let back3 = |t: Tensor<3>| tensor_from_vec(tensor_to_vec(t.clone()), t.dims(), &cpu);
    let back4 = |t: Tensor<4>| tensor_from_vec(tensor_to_vec(t.clone()), t.dims(), &cpu);
    let w = back3(enc.wplus_delta);
    assert_close(
        "wplus_delta",
        w,
        common::tensor(&expected, "wplus_delta"),
        TOL,
        TOL,
    );
    assert_close(
        "feature",
        back4(enc.feature),
        common::tensor(&expected, "feature"),
        TOL,
        TOL,
    );
    // the whole inversion: encode, then G(w+, F) with F injected at K
    let mut g = Generator::load(&store("stylegan2_64/weights.safetensors"), &dev).unwrap();
    let inv = store("fse_encoder_64/case_invert_in.safetensors");
    let expected = store("fse_encoder_64/case_invert_out.safetensors");
    g.latent_avg = Some(on(&inv, "latent_avg", &dev));
    let noise = given_noise(
        &store("stylegan2_64/case_wplus_in.safetensors"),
        "noise_",
        9,
        &dev,
    );
    let codes = inversion::encode(&g, &e, on(&input, "image", &dev)).unwrap();
    let wplus = back3(codes.wplus.clone());
    assert_close(
        "inversion wplus",
        wplus,
        common::tensor(&expected, "wplus"),
        TOL,
        TOL,
    );
    let recon = back4(inversion::reconstruct(&g, &codes, &noise).unwrap());
    assert_close(
        "inversion image",
        recon,
        common::tensor(&expected, "image"),
        TOL,
        TOL,
    );
}

#[test]
fn tuning_step_gradients_on_wgpu() {
    let Some(dev) = gpu("gradients") else { return };
    let s = weights::read_safetensors(&fixture("unit/stylegan2_generator.safetensors")).unwrap();
    let dev = dev.autodiff();
    let g = Generator::load(&s, &dev).unwrap();
    let noise = given_noise(&s, "noise.", 9, &dev);
    let wplus = on::<3>(&s, "input.wplus", &dev).require_grad();
    let image = g
        .synthesize(wplus.clone(), &noise, None, &[])
        .unwrap()
        .image;
    let loss = (image * on::<4>(&s, "input.grad_probe", &dev)).sum();
    let grads = loss.backward();
    let cpu = common::device();
    let flat = |t: Vec<f32>| {
        let n = t.len();
        tensor_from_vec(t, [n], &cpu)
    };
    let expected = |key: &str| {
        let t = common::tensor::<1>(&s, key);
        let n = t.dims()[0];
        t.reshape([n])
    };
    let got = wplus.grad(&grads).expect("w+ has a gradient");
    assert_close(
        "∂L/∂w+",
        flat(tensor_to_vec(got)),
        expected("grad.input.wplus"),
        TOL,
        TOL,
    );
    let checks = [
        (
            "grad.convs.0.conv.weight",
            tensor_to_vec(g.convs[0].conv.weight.val().grad(&grads).unwrap()),
        ),
        (
            "grad.to_rgbs.1.conv.weight",
            tensor_to_vec(g.to_rgbs[1].conv.weight.val().grad(&grads).unwrap()),
        ),
        (
            "grad.convs.5.activate.bias",
            tensor_to_vec(g.convs[5].activate_bias.val().grad(&grads).unwrap()),
        ),
        (
            "grad.input.input",
            tensor_to_vec(g.input.val().grad(&grads).unwrap()),
        ),
    ];
    for (key, got) in checks {
        assert_close(key, flat(got), expected(key), TOL, TOL);
    }
}
