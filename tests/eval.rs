//! The evaluation harness on the bundled model and the sample photos: each method gives a row
//! per image, tuning improves on its own pivot, a file that is not a photo is skipped with its
//! reason, and the edits are measured for every direction at both signs.

mod common;

use facestyle::device::ComputeDevice;
use facestyle::eval::{EvalConfig, Measures, Method, evaluate};
use facestyle::face::Framing;
use facestyle::model_source::{load_attribute_nets, load_identity_net};
use facestyle::workspace::Workspace;

#[test]
fn every_method_scores_every_photo_and_the_edits_are_measured() {
    let dir = std::env::temp_dir().join(format!("facestyle-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_a_photo = dir.join("notes.jpg");
    std::fs::write(&not_a_photo, b"not a JPEG").unwrap();
    let mut ws = Workspace::new(ComputeDevice::cpu());
    ws.load_generator(None).unwrap();
    ws.load_detector().unwrap();
    let directions = ws.directions().unwrap().set.directions.len();
    let id_net = load_identity_net(ws.burn_device()).unwrap();
    let config = EvalConfig {
        images: vec![
            common::fixture("photos").join("00020.jpg"),
            not_a_photo,
            common::fixture("photos").join("unaligned_joker.jpg"),
        ],
        methods: vec![Method::Fse, Method::Project, Method::Pti],
        framing: Framing::Auto,
        projection_steps: 4,
        tuning_steps: 6,
        amount: 2.0,
        edit_faces: 2,
    };
    let mut lines = Vec::new();
    let attributes = load_attribute_nets(ws.burn_device()).unwrap();
    let measures = Measures {
        id_net: &id_net,
        lpips: None,
        attributes: Some(&attributes),
    };
    let report = evaluate(&mut ws, &measures, &config, |l| lines.push(l.to_string())).unwrap();
    assert_eq!(report.inversions.len(), 2 * 3, "{lines:?}");
    assert_eq!(report.skipped.len(), 1);
    assert!(
        report.skipped[0].starts_with("notes.jpg: "),
        "{:?}",
        report.skipped
    );
    for r in &report.inversions {
        assert!(r.ssim > 0.0 && r.ssim <= 1.0, "{r:?}");
        assert!(r.psnr.is_finite() && r.psnr > 5.0, "{r:?}");
        assert!((-1.0..=1.0).contains(&r.id), "{r:?}");
        assert!(
            r.lpips.is_none(),
            "no LPIPS weights: n/a, not another network"
        );
        assert!(r.seconds > 0.0);
    }
    // PTI tunes the generator to its pivot: closer than the pivot alone, on every photo
    for image in ["00020.jpg", "unaligned_joker.jpg"] {
        let get = |m| {
            report
                .inversions
                .iter()
                .find(|r| r.image == image && r.method == m)
                .unwrap()
        };
        let (project, pti) = (get(Method::Project), get(Method::Pti));
        assert!(pti.mse < project.mse, "{pti:?} vs {project:?}");
        assert!(
            pti.seconds > project.seconds,
            "PTI's time includes its projection"
        );
    }
    // every direction at -2 and +2; an edit moves the face, by about the true edit's size
    assert_eq!(report.edits.len(), 2 * directions);
    for e in &report.edits {
        assert!(e.id_drift > 0.0 && e.id_drift < 1.0, "{e:?}");
        assert!(e.strength > 0.1 && e.strength < 3.0, "{e:?}");
        assert!(e.edit_psnr.is_finite());
    }
    assert!(report.edits[0].amount < 0.0 && report.edits[1].amount > 0.0);
    // the bundled attribute sliders (Smile, Age, Gender) move their attribute on generated
    // faces (on inverted photos the bundled encoder mutes edits: measured, not asserted)
    let names: Vec<&str> = report
        .attributes
        .iter()
        .map(|a| a.direction.as_str())
        .collect();
    assert_eq!(names, ["Smile", "Age", "Gender"]);
    for a in &report.attributes {
        assert_eq!((a.photos, a.generated), (2, 2), "{a:?}");
        assert!(a.rho_generated > 0.5 && a.change_generated > 0.0, "{a:?}");
        assert!(
            a.rho_photos.is_finite() && a.change_photos.is_finite(),
            "{a:?}"
        );
        println!("{a:?}");
    }
    let md = report.markdown("# test");
    assert!(md.contains("| pti |") && md.contains("notes.jpg"));
    assert!(md.contains("## Attribute sliders") && md.contains("| Age |"));
    // nothing stays open
    assert!(ws.photos().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
