//! The bundled default model in `weights/` reproduces the trainer's outputs: golden cases
//! written by `python -m training.parity` from the same exported files.

mod common;

use common::*;
use facestyle::edit::inversion;
use facestyle::model::NoiseMode;
use facestyle::model_source::{self, ModelOrigin};

fn given_noise(s: &facestyle::weights::TensorStore, layers: usize) -> NoiseMode {
    NoiseMode::Given(
        (0..layers)
            .map(|j| tensor::<4>(s, &format!("noise_{j}")))
            .collect(),
    )
}

#[test]
fn bundled_generator_matches_the_trainer() {
    let (g, origin) = model_source::load_generator(None, &device()).unwrap();
    assert!(
        matches!(origin, ModelOrigin::Bundled { .. }),
        "weights/generator.safetensors is not being used: {origin}"
    );
    let input = store("bundled/case_z_in.safetensors");
    let expected = store("bundled/case_z_out.safetensors");
    let w = g.map(tensor(&input, "z"));
    assert_close("w", w.clone(), tensor(&expected, "w"), ATOL, RTOL);
    let noise = given_noise(&input, g.config.num_layers());
    let image = g
        .synthesize(g.broadcast(w), &noise, None, &[])
        .unwrap()
        .image;
    assert_close("image", image, tensor(&expected, "image"), ATOL, RTOL);
}

#[test]
fn bundled_encoder_matches_the_trainer() {
    let (g, _) = model_source::load_generator(None, &device()).unwrap();
    let (e, _) = model_source::load_encoder(None, &device()).unwrap();
    inversion::check_pair(&g, &e).unwrap();
    let input = store("bundled/case_encode_in.safetensors");
    let expected = store("bundled/case_encode_out.safetensors");
    let codes = inversion::encode(&g, &e, tensor(&input, "image")).unwrap();
    assert_close(
        "wplus",
        codes.wplus.clone(),
        tensor(&expected, "wplus"),
        ATOL,
        RTOL,
    );
    assert_close(
        "feature",
        codes.feature.clone(),
        tensor(&expected, "feature"),
        ATOL,
        RTOL,
    );
    let image = inversion::reconstruct(&g, &codes, &NoiseMode::Stored).unwrap();
    assert_close("image", image, tensor(&expected, "image"), ATOL, RTOL);
}

/// A file bundled in `weights/`, read.
fn shipped(relative: &str) -> facestyle::weights::TensorStore {
    let path = model_source::shipped_file(relative)
        .unwrap_or_else(|| panic!("weights/{relative} is bundled"));
    facestyle::weights::read_safetensors(&path).unwrap()
}

#[test]
fn bundled_perceptual_network_matches_the_trainer() {
    let trunk = facestyle::model::discriminator_trunk::DiscriminatorTrunk::load(
        &shipped(model_source::BUNDLED_PERCEPTUAL),
        &device(),
    )
    .unwrap();
    let input = store("bundled/case_perceptual_in.safetensors");
    let expected = store("bundled/case_perceptual_out.safetensors");
    let d = trunk.distance(tensor(&input, "x0"), tensor(&input, "x1"));
    assert_close("distance", d, tensor(&expected, "distance"), ATOL, RTOL);
}

#[test]
fn bundled_identity_network_matches_the_trainer() {
    let net =
        facestyle::model::face_id::FaceIdNet::load(&shipped(model_source::FACE_ID_FILE), &device())
            .unwrap();
    let input = store("bundled/case_face_id_in.safetensors");
    let expected = store("bundled/case_face_id_out.safetensors");
    let embedding = net.embed(tensor(&input, "faces"));
    assert_close(
        "embedding",
        embedding,
        tensor(&expected, "embedding"),
        ATOL,
        RTOL,
    );
}
