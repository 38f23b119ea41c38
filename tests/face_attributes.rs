//! face-api's age/gender and expression networks against face-api itself: the golden cases in
//! `tests/fixtures/attributes/goldens.json` come from the npm package run in Node on TF.js's
//! pure-JavaScript CPU backend (`make_goldens.cjs` there), on the 112² face crops beside them;
//! on the CPU backend and on the GPU code path (software Vulkan).

mod common;

use common::*;
use facestyle::face::AttributeNets;
use facestyle::model::face_attributes::EXPRESSIONS;
use facestyle::model_source::load_attribute_nets;
use serde_json::Value;

fn goldens() -> Value {
    let text = std::fs::read_to_string(fixture("attributes/goldens.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn check(nets: &AttributeNets, device: &burn::tensor::Device, tol: f32) -> f32 {
    let g = goldens();
    let labels: Vec<&str> = g["expression_labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(labels, EXPRESSIONS, "expression order as face-api's");
    let cases = g["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    let crops: Vec<_> = cases
        .iter()
        .map(|c| {
            image::open(fixture(&format!(
                "attributes/{}",
                c["crop"].as_str().unwrap()
            )))
            .unwrap()
            .to_rgb8()
        })
        .collect();
    let scores = nets.score_crops(&crops, device);
    let mut worst = 0f32;
    let mut happiest = (0f32, "");
    for (c, s) in cases.iter().zip(&scores) {
        let name = c["crop"].as_str().unwrap();
        let f = |v: &Value| v.as_f64().unwrap() as f32;
        let mut pairs = vec![
            ("age", s.age, f(&c["age"])),
            ("male", s.male, f(&c["gender"][0])),
        ];
        for (i, e) in EXPRESSIONS.iter().enumerate() {
            pairs.push((e, s.expression[i], f(&c["expression"][i])));
        }
        for (what, ours, theirs) in pairs {
            let err = (ours - theirs).abs();
            worst = worst.max(err);
            assert!(err <= tol, "{name} {what}: ours {ours}, face-api {theirs}");
        }
        if s.expression[1] > happiest.0 {
            happiest = (s.expression[1], name);
        }
        println!(
            "{name}: age {:.1}, male {:.3}, {:?}",
            s.age, s.male, s.expression
        );
    }
    // The goldens are not degenerate: ages differ, both genders and a smile occur.
    let ages: Vec<f32> = scores.iter().map(|s| s.age).collect();
    let spread = ages.iter().cloned().fold(f32::MIN, f32::max)
        - ages.iter().cloned().fold(f32::MAX, f32::min);
    assert!(spread > 10.0, "ages {ages:?}");
    assert!(scores.iter().any(|s| s.male > 0.9) && scores.iter().any(|s| s.male < 0.1));
    assert!(happiest.0 > 0.9, "{happiest:?}");
    worst
}

#[test]
fn attribute_networks_match_face_api_on_cpu() {
    let nets = load_attribute_nets(&device()).unwrap();
    let worst = check(&nets, &device(), 1e-4);
    println!("largest difference from face-api: {worst:e}");
}

#[test]
fn attribute_networks_match_face_api_on_wgpu() {
    // the GPU code path on a software Vulkan adapter (the GPU tolerance of the fixtures)
    let Some(name) = facestyle::device::software_adapter() else {
        println!("SKIPPED: no software Vulkan adapter (install mesa-vulkan-drivers)");
        return;
    };
    println!("on {name}");
    let dev =
        facestyle::device::ComputeDevice::select(facestyle::device::DeviceChoice::SoftwareGpu)
            .device;
    let nets = load_attribute_nets(&dev).unwrap();
    let worst = check(&nets, &dev, 1e-3);
    println!("largest difference from face-api: {worst:e}");
}

#[test]
fn a_bad_attribute_checkpoint_is_a_clear_error() {
    // The identity network's file is not an age/gender network: the error names a missing key.
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("weights/face_id/face_recognition.safetensors");
    let err = AttributeNets::load(&path, &path, &device())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("entry_flow/conv_in/filters"), "{err}");
}
