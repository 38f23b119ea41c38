//! Directions: published imports, SeFa and GANSpace computed in Rust, edits and refusals.

mod common;

use common::*;
use facestyle::edit::directions::{DirectionSet, Owner, ganspace, import, sefa};
use facestyle::edit::{feature_edit, inversion, mixing};
use facestyle::model::encoder::FeatureStyleEncoder;
use facestyle::model::{Generator, NoiseMode};

fn sg64() -> Generator {
    Generator::load(&store("stylegan2_64/weights.safetensors"), &device()).unwrap()
}

#[test]
fn published_interfacegan_and_ganspace_files_import_and_refuse_other_generators() {
    let smile = import::import_interfacegan(&fixture("directions/Smiling_boundary.npy"), None, 512)
        .unwrap();
    assert_eq!(smile.info.name, "smiling");
    assert_eq!(smile.vector.len(), 18 * 512);
    let age = import::import_interfacegan(&fixture("directions/age.pt"), Some("age"), 512).unwrap();
    assert_eq!(age.vector.len(), 512);
    let norm: f32 = age.vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!(norm > 0.1, "a real direction, not zeros");

    let mut ffhq = DirectionSet::new(Owner::Shape, 512, 18);
    ffhq.push(smile).unwrap();
    ffhq.push(age).unwrap();
    assert_eq!(
        ffhq.directions[1].info.layers,
        0..18,
        "W directions move every layer"
    );
    let err = ffhq.check(&sg64()).unwrap_err().to_string();
    assert!(
        err.contains("style dim 512") && err.contains("has 64"),
        "{err}"
    );

    // A 512-value file cannot be read as a style-dim-64 boundary of 18 layers either way.
    let mut small = DirectionSet::new(Owner::Shape, 64, 10);
    let d =
        import::import_interfacegan(&fixture("directions/Smiling_boundary.npy"), None, 64).unwrap();
    assert!(small.push(d).is_err(), "9216 values are not 10×64");

    let pcs = import::import_ganspace(&fixture("directions/ffhq_pca.pt"), 20).unwrap();
    assert_eq!(pcs.len(), 20);
    assert!(pcs.iter().all(|d| d.vector.len() == 512));
    let n = |d: &facestyle::edit::directions::Direction| {
        d.vector.iter().map(|v| v * v).sum::<f32>().sqrt()
    };
    assert!(
        n(&pcs[0]) >= n(&pcs[19]),
        "scaled by std, first component largest"
    );
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn sefa_is_orthonormal_and_matches_an_independent_decomposition() {
    let g = sg64();
    let (dirs, values) = sefa::sefa(&g, 0..10, 8);
    let vecs: Vec<Vec<f64>> = dirs
        .iter()
        .map(|d| d.vector.iter().map(|&v| v as f64).collect())
        .collect();
    for i in 0..vecs.len() {
        for j in 0..vecs.len() {
            let expected = if i == j { 1.0 } else { 0.0 };
            assert!(
                (dot(&vecs[i], &vecs[j]) - expected).abs() < 1e-5,
                "({i},{j})"
            );
        }
    }
    assert!(values.windows(2).all(|w| w[0] >= w[1]));
    // Independently: AᵀA from the raw stored modulation weights, then power iteration.
    let st = store("stylegan2_64/weights.safetensors");
    let s = 64;
    let mut gram = vec![0f64; s * s];
    for (key, t) in &st.tensors {
        if key.ends_with("conv.modulation.weight") {
            let w = t.to_f32().unwrap();
            for row in w.chunks_exact(s) {
                for a in 0..s {
                    for b in 0..s {
                        gram[a * s + b] += row[a] as f64 * row[b] as f64;
                    }
                }
            }
        }
    }
    let mut v = vec![1.0f64; s];
    let mut lambda = 0.0;
    for _ in 0..2000 {
        let next: Vec<f64> = (0..s).map(|a| dot(&gram[a * s..(a + 1) * s], &v)).collect();
        lambda = dot(&next, &next).sqrt();
        v = next.iter().map(|x| x / lambda).collect();
    }
    assert!(
        (lambda - values[0]).abs() / lambda < 1e-6,
        "{lambda} vs {}",
        values[0]
    );
    assert!(
        dot(&v, &vecs[0]).abs() > 1.0 - 1e-6,
        "top eigenvector matches up to sign"
    );
}

#[test]
fn ganspace_components_are_ordered_by_variance() {
    let g = sg64();
    let (dirs, vars) = ganspace::ganspace(&g, 600, 1, 6, 0..10);
    assert_eq!(dirs.len(), 6);
    assert!(vars.windows(2).all(|w| w[0] >= w[1]), "{vars:?}");
    for (d, v) in dirs.iter().zip(&vars) {
        let norm: f64 = d
            .vector
            .iter()
            .map(|&x| (x as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!(
            (norm - v.sqrt()).abs() < 1e-3 * v.sqrt().max(1.0),
            "scaled by its std"
        );
    }
}

#[test]
fn edit_forth_and_back_returns_to_the_start_and_sets_roundtrip() {
    let mut g = sg64();
    g.latent_avg = Some(tensor(
        &store("fse_encoder_64/case_invert_in.safetensors"),
        "latent_avg",
    ));
    let e =
        FeatureStyleEncoder::load(&store("fse_encoder_64/weights.safetensors"), &device()).unwrap();
    let codes = inversion::encode(
        &g,
        &e,
        tensor(&store("fse_encoder_64/case_encode_in.safetensors"), "image"),
    )
    .unwrap();
    let (dirs, _) = sefa::sefa(&g, 0..10, 3);
    let mut set = DirectionSet::new(Owner::Generator(g.identity.clone()), 64, 10);
    for d in dirs {
        set.push(d).unwrap();
    }
    let path =
        std::env::temp_dir().join(format!("facestyle-dirs-{}.safetensors", std::process::id()));
    set.save(&path).unwrap();
    let set = DirectionSet::load(&path).unwrap();
    assert_eq!(set.directions.len(), 3);

    let noise = NoiseMode::Stored;
    let plus = set
        .apply(&g, codes.wplus.clone(), &[(0, 2.0), (2, -1.0)])
        .unwrap();
    let back = set.apply(&g, plus.clone(), &[(0, -2.0), (2, 1.0)]).unwrap();
    assert_close("w back", back.clone(), codes.wplus.clone(), 1e-5, 0.0);
    let start = inversion::reconstruct(&g, &codes, &noise).unwrap();
    let returned = feature_edit::edited_image(&g, &codes, back, &noise).unwrap();
    assert_close("image back", returned, start.clone(), 1e-4, 1e-4);
    let moved = feature_edit::edited_image(&g, &codes, plus.clone(), &noise).unwrap();
    let again = feature_edit::edited_image(&g, &codes, plus, &noise).unwrap();
    assert_close("deterministic", again, moved.clone(), 0.0, 0.0);
    let diff: f32 = (moved - start).abs().max().into_scalar();
    assert!(diff > 1e-2, "the edit changes the image");

    // The same set on another generator is refused.
    let other = Generator::load(&store("unit/stylegan2_generator.safetensors"), &device()).unwrap();
    assert!(set.check(&other).is_err());

    // Style mixing over the whole range equals the Eq. 1 edit to B's latent.
    let a = codes.select(0);
    let b = codes.select(1);
    let mixed = mixing::style_mix(&g, &a, &b, 0..10, &noise).unwrap();
    let direct = feature_edit::edited_image(&g, &a, b.wplus.clone(), &noise).unwrap();
    assert_close("style mix", mixed, direct, 1e-5, 1e-5);
    assert!(mixing::style_mix(&g, &a, &b, 4..11, &noise).is_err());
}
