//! Parity of the Feature-Style encoder, the FSE inversion and Eq. 1 with the reference code.

mod common;

use common::*;
use facestyle::edit::codes::Codes;
use facestyle::edit::{feature_edit, inversion};
use facestyle::model::encoder::FeatureStyleEncoder;
use facestyle::model::{Generator, NoiseMode};
use facestyle::weights;

fn enc64() -> FeatureStyleEncoder {
    FeatureStyleEncoder::load(&store("fse_encoder_64/weights.safetensors"), &device()).unwrap()
}

#[test]
fn encode_matches_reference() {
    let e = enc64();
    assert_eq!(e.config.widths, vec![16, 24, 32, 48]);
    assert_eq!(e.config.layers, vec![1, 2, 1, 1]);
    let input = store("fse_encoder_64/case_encode_in.safetensors");
    let expected = store("fse_encoder_64/case_encode_out.safetensors");
    let enc = e.encode(tensor(&input, "image"));
    assert_close(
        "wplus_delta",
        enc.wplus_delta,
        tensor(&expected, "wplus_delta"),
        ATOL,
        RTOL,
    );
    assert_close(
        "feature",
        enc.feature,
        tensor(&expected, "feature"),
        ATOL,
        RTOL,
    );
}

#[test]
fn pth_checkpoint_loads_like_safetensors() {
    let from_pth = weights::read_torch(&fixture("fse_encoder_64/enc.pth")).unwrap();
    let reference = store("fse_encoder_64/weights.safetensors");
    for (key, t) in &reference.tensors {
        assert_eq!(from_pth.tensors.get(key), Some(t), "{key}");
    }
    FeatureStyleEncoder::load(&from_pth, &device()).unwrap();
}

#[test]
fn downscale_is_two_bilinear_halvings() {
    let input = store("fse_encoder_64/case_downscale_in.safetensors");
    let expected = store("fse_encoder_64/case_downscale_out.safetensors");
    let out = inversion::resize_to_side(tensor(&input, "image"), 128);
    assert_close("image", out, tensor(&expected, "image"), 1e-6, 0.0);
}

#[test]
fn inversion_and_eq1_edit() {
    let mut g = Generator::load(&store("stylegan2_64/weights.safetensors"), &device()).unwrap();
    let e = enc64();
    let inv = store("fse_encoder_64/case_invert_in.safetensors");
    let expected = store("fse_encoder_64/case_invert_out.safetensors");
    g.latent_avg = Some(tensor(&inv, "latent_avg"));
    let noise_in = store("stylegan2_64/case_wplus_in.safetensors");
    let noise = NoiseMode::Given(
        (0..9)
            .map(|j| tensor::<4>(&noise_in, &format!("noise_{j}")))
            .collect(),
    );

    let images = tensor(&store("fse_encoder_64/case_encode_in.safetensors"), "image");
    let codes = inversion::encode(&g, &e, images).unwrap();
    assert_close(
        "wplus",
        codes.wplus.clone(),
        tensor(&expected, "wplus"),
        ATOL,
        RTOL,
    );
    let recon = inversion::reconstruct(&g, &codes, &noise).unwrap();
    assert_close("image", recon, tensor(&expected, "image"), ATOL, RTOL);

    let alpha = tensor::<1>(&inv, "alpha").into_scalar::<f32>();
    let d = tensor::<1>(&inv, "direction").reshape([1, 1, 64]);
    let edited_w = codes.wplus.clone() + d.mul_scalar(alpha);
    let edited = feature_edit::corrected_codes(&g, &codes, edited_w.clone(), &noise).unwrap();
    assert_close(
        "feature_edit",
        edited.feature,
        tensor(&expected, "feature_edit"),
        ATOL,
        RTOL,
    );
    let image_edit = feature_edit::edited_image(&g, &codes, edited_w, &noise).unwrap();
    assert_close(
        "image_edit",
        image_edit,
        tensor(&expected, "image_edit"),
        ATOL,
        RTOL,
    );
}

/// The second fixture set: deeper stages, another width table, the full FSE reconstruction.
#[test]
fn unit_encoder_and_reconstruction() {
    let s = store("unit/fse_encoder.safetensors");
    let e = FeatureStyleEncoder::load(&s, &device()).unwrap();
    let enc = e.encode(tensor(&s, "input.enc.image"));
    assert_close(
        "enc.w",
        enc.wplus_delta,
        tensor(&s, "output.enc.w"),
        ATOL,
        RTOL,
    );
    assert_close(
        "enc.content",
        enc.feature,
        tensor(&s, "output.enc.content"),
        ATOL,
        RTOL,
    );
    let down = inversion::downscale_half(tensor(&s, "input.enc.image"));
    assert_close(
        "down.x1",
        down.clone(),
        tensor(&s, "output.down.x1"),
        1e-6,
        0.0,
    );
    assert_close(
        "down.x2",
        inversion::downscale_half(down),
        tensor(&s, "output.down.x2"),
        1e-6,
        0.0,
    );

    let gs = store("unit/stylegan2_generator.safetensors");
    let mut g = Generator::load(&gs, &device()).unwrap();
    g.latent_avg = Some(tensor(&s, "input.enc.latent_avg"));
    let noise = NoiseMode::Given(
        (0..9)
            .map(|j| tensor::<4>(&gs, &format!("noise.{j}")).narrow(0, 0, 1))
            .collect(),
    );
    let codes = inversion::encode(&g, &e, tensor(&s, "input.enc.image")).unwrap();
    assert_close(
        "w_plus_avg",
        codes.wplus.clone(),
        tensor(&s, "output.enc.w_plus_avg"),
        ATOL,
        RTOL,
    );
    let recon = inversion::reconstruct(&g, &codes, &noise).unwrap();
    assert_close(
        "fse.image",
        recon,
        tensor(&s, "output.fse.image"),
        ATOL,
        RTOL,
    );
    let plain = g.synthesize(codes.wplus, &noise, None, &[]).unwrap().image;
    assert_close(
        "fse.image_without_feature",
        plain,
        tensor(&s, "output.fse.image_without_feature"),
        ATOL,
        RTOL,
    );
}

#[test]
fn codes_roundtrip_and_refuse_another_generator() {
    let g = Generator::load(&store("stylegan2_64/weights.safetensors"), &device()).unwrap();
    let codes = inversion::encode(
        &g,
        &enc64(),
        tensor(&store("fse_encoder_64/case_encode_in.safetensors"), "image"),
    )
    .unwrap();
    let path = std::env::temp_dir().join(format!(
        "facestyle-codes-{}.safetensors",
        std::process::id()
    ));
    codes.save(&path, &g.identity).unwrap();
    let back = Codes::load(&path, &g.identity, &device()).unwrap();
    assert_eq!(back.k, 5);
    assert_close("wplus", back.wplus, codes.wplus, 0.0, 0.0);
    let err = Codes::load(&path, "0000000000000000", &device()).unwrap_err();
    assert!(
        err.to_string().contains("not to the loaded generator"),
        "{err}"
    );
}

#[test]
fn mismatched_encoder_is_refused() {
    let g = Generator::load(&store("unit/stylegan2_generator.safetensors"), &device()).unwrap();
    let err = inversion::check_pair(&g, &enc64()).unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
}

#[test]
fn cli_invert_input_tensor_matches_the_fixture() {
    let (g, e, raw) = (
        tmp("inv_g.safetensors"),
        tmp("inv_e.safetensors"),
        tmp("inv_raw.safetensors"),
    );
    cli([
        std::ffi::OsString::from("convert"),
        fixture("stylegan2_64/checkpoint.pt").into(),
        g.clone().into(),
    ]);
    let said = cli([
        std::ffi::OsString::from("convert"),
        fixture("fse_encoder_64/enc.pth").into(),
        e.clone().into(),
    ]);
    assert!(said.contains("Feature-Style encoder"), "{said}");
    let args: [std::ffi::OsString; 13] = [
        "invert".into(),
        "--weights".into(),
        g.into(),
        "--encoder".into(),
        e.into(),
        "--input-tensor".into(),
        fixture("fse_encoder_64/case_encode_in.safetensors").into(),
        "--noise".into(),
        fixture("stylegan2_64/case_wplus_in.safetensors").into(),
        "--raw".into(),
        raw.clone().into(),
        "--out".into(),
        tmp("inv_out").into(),
    ];
    cli(args);
    let got = weights::read_safetensors(&raw).unwrap();
    let expected = store("fse_encoder_64/case_invert_out.safetensors");
    assert_key::<3>(&got, &expected, "wplus");
    assert_key::<4>(&got, &expected, "image");
    let enc = store("fse_encoder_64/case_encode_out.safetensors");
    assert_close(
        "feature",
        tensor::<4>(&got, "feature"),
        tensor(&enc, "feature"),
        ATOL,
        RTOL,
    );
}
