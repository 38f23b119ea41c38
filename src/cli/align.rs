use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use crate::device::{ComputeDevice, DeviceChoice};
use crate::face::{Quad, align};
use crate::imaging::{center_square, load_photo};
use crate::model_source::load_face_detector;

/// What to do with a photo in which no face is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NoFace {
    /// Report it as a failure.
    Fail,
    /// Use the centre square of the photo as it is.
    CenterCrop,
}

#[derive(Args, Debug)]
pub struct AlignArgs {
    pub photos: Vec<PathBuf>,
    /// Output directory: `<name>_aligned.png` and `<name>.align.json` (landmarks, box, crop square).
    #[arg(long)]
    pub out: PathBuf,
    /// Side of the aligned crops.
    #[arg(long, default_value_t = 1024)]
    pub size: u32,
    #[arg(long, value_enum, default_value_t = NoFace::Fail)]
    pub no_face: NoFace,
}

pub fn run(a: AlignArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    let detector = load_face_detector(&dev.device)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut failures = Vec::new();
    for p in &a.photos {
        let photo = match load_photo(p) {
            Ok(img) => img,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let faces = detector.detect(&photo);
        let (image, json) = match (faces.first(), a.no_face) {
            (Some(face), _) => {
                let aligned = align(&photo, Quad::ffhq(&face.landmarks), a.size);
                let json = serde_json::json!({
                    "photo": p, "faces_found": faces.len(), "face": face,
                    "quad": aligned.quad, "size": a.size, "others": &faces[1..],
                });
                (aligned.image, json)
            }
            (None, NoFace::CenterCrop) => {
                eprintln!(
                    "{}: no face found, using the centre square as it is",
                    p.display()
                );
                (
                    center_square(&photo, a.size),
                    serde_json::json!({"photo": p, "faces_found": 0, "size": a.size}),
                )
            }
            (None, NoFace::Fail) => {
                failures.push(format!(
                    "{}: no face found (use --no-face center-crop to use the photo as it is)",
                    p.display()
                ));
                continue;
            }
        };
        crate::safe_write::save_image(&image, &a.out.join(format!("{stem}_aligned.png")))?;
        crate::safe_write::write_atomically(
            &a.out.join(format!("{stem}.align.json")),
            serde_json::to_string_pretty(&json)?.as_bytes(),
        )?;
        println!(
            "{}: {} face(s) → {}",
            p.display(),
            faces.len(),
            a.out.join(format!("{stem}_aligned.png")).display()
        );
    }
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("failed: {f}");
        }
        bail!("{} of {} photos failed", failures.len(), a.photos.len());
    }
    Ok(())
}
