//! Face detection on real photos (landmark positions checked by looking at marked copies; the
//! assertions encode what an FFHQ-aligned face must satisfy).

mod common;

use common::*;
use facestyle::face::FaceDetector;

fn detector() -> FaceDetector {
    FaceDetector::load(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("weights/mtcnn"),
        &device(),
    )
    .unwrap()
}

fn mark(img: &image::RgbImage, face: &facestyle::face::Face, name: &str) {
    let mut out = img.clone();
    for [x, y] in face.landmarks {
        for dy in -3i32..=3 {
            for dx in -3i32..=3 {
                let (px, py) = (x as i32 + dx, y as i32 + dy);
                if px >= 0 && py >= 0 && (px as u32) < out.width() && (py as u32) < out.height() {
                    out.put_pixel(px as u32, py as u32, image::Rgb([0, 255, 0]));
                }
            }
        }
    }
    out.save(tmp(name)).unwrap();
}

#[test]
fn landmarks_on_an_ffhq_aligned_photo() {
    let img = facestyle::imaging::load_photo(&fixture("photos/00020.jpg")).unwrap();
    let faces = detector().detect(&img);
    assert!(!faces.is_empty(), "a face is found");
    let f = &faces[0];
    mark(&img, f, "00020_marked.png");
    println!("{f:?}");
    let [le, re, nose, ml, mr] = f.landmarks;
    // FFHQ alignment puts the eyes level, symmetric about the centre, above nose and mouth.
    assert!((le[1] - re[1]).abs() < 30.0, "eyes level");
    assert!(
        le[0] < 512.0 && re[0] > 512.0,
        "eyes either side of the centre"
    );
    assert!(nose[1] > le[1] && ml[1] > nose[1] && mr[1] > nose[1]);
    assert!(ml[0] < mr[0]);
}

#[test]
fn finds_the_face_in_an_unaligned_photo() {
    let img = facestyle::imaging::load_photo(&fixture("photos/unaligned_joker.jpg")).unwrap();
    let faces = detector().detect(&img);
    assert!(!faces.is_empty());
    mark(&img, &faces[0], "joker_marked.png");
    println!("{} × {}: {:?}", img.width(), img.height(), faces[0]);
    let [le, re, _, ml, mr] = faces[0].landmarks;
    assert!(le[0] < re[0] && ml[0] < mr[0] && ml[1] > le[1]);
}

#[test]
fn ffhq_alignment_of_an_aligned_photo_is_nearly_the_identity_and_paste_back_restores_it() {
    let img = facestyle::imaging::load_photo(&fixture("photos/00020.jpg")).unwrap();
    let face = &detector().detect(&img)[0];
    let quad = facestyle::face::Quad::ffhq(&face.landmarks);
    let side = quad.side();
    assert!((side - 1024.0).abs() < 0.15 * 1024.0, "side {side}");
    let centre = quad.to_photo(0.5, 0.5, 1.0);
    assert!(
        (centre[0] - 512.0).abs() < 60.0 && (centre[1] - 512.0).abs() < 80.0,
        "{centre:?}"
    );
    let aligned = facestyle::face::align(&img, quad, 256);
    assert_eq!(aligned.image.dimensions(), (256, 256));
    aligned.image.save(tmp("00020_aligned.png")).unwrap();
    // Pasting the unedited crop back changes the photo only by resampling.
    let back = facestyle::face::paste_back(&img, &aligned.image, &aligned.quad);
    let diff: f64 = back
        .as_raw()
        .iter()
        .zip(img.as_raw())
        .map(|(&a, &b)| (a as f64 - b as f64).abs())
        .sum::<f64>()
        / img.as_raw().len() as f64;
    assert!(diff < 6.0, "mean abs difference {diff}");
    let [u, v] = quad.to_crop(quad.to_photo(100.0, 40.0, 256.0), 256.0);
    assert!((u - 100.0).abs() < 1e-2 && (v - 40.0).abs() < 1e-2);
}

#[test]
fn unaligned_photo_aligns_with_padding() {
    let img = facestyle::imaging::load_photo(&fixture("photos/unaligned_joker.jpg")).unwrap();
    let face = &detector().detect(&img)[0];
    let aligned = facestyle::face::align(&img, facestyle::face::Quad::ffhq(&face.landmarks), 256);
    aligned.image.save(tmp("joker_aligned.png")).unwrap();
    assert_eq!(aligned.image.dimensions(), (256, 256));
}

#[test]
fn identity_same_person_is_closer_than_different_people() {
    let id = facestyle::model_source::load_identity_net(&device()).unwrap();
    let det = detector();
    let aligned = |name: &str| {
        let img = facestyle::imaging::load_photo(&fixture(&format!("photos/{name}"))).unwrap();
        let face = &det.detect(&img)[0];
        facestyle::face::align(&img, facestyle::face::Quad::ffhq(&face.landmarks), 256).image
    };
    let a = aligned("00020.jpg");
    let b = aligned("unaligned_joker.jpg");
    // The same person, seen differently: mirrored and re-sampled.
    let a2 = image::imageops::resize(
        &image::imageops::flip_horizontal(&a),
        200,
        200,
        image::imageops::FilterType::CatmullRom,
    );
    let a2 = image::imageops::resize(&a2, 256, 256, image::imageops::FilterType::Triangle);
    let b2 = image::imageops::flip_horizontal(&b);
    let same = [id.similarity(&a, &a2), id.similarity(&b, &b2)];
    let different = [id.similarity(&a, &b), id.similarity(&a2, &b2)];
    println!("same {same:?} different {different:?}");
    assert!(
        same.iter().cloned().fold(f32::MAX, f32::min)
            > different.iter().cloned().fold(f32::MIN, f32::max)
    );
    assert!((id.similarity(&a, &a) - 1.0).abs() < 1e-4);
}
