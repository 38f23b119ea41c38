//! One open photo and everything a user did to it: which face, how it was framed, its codes,
//! its slider values and its personalization.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use burn::tensor::Tensor;

use crate::edit::Codes;
use crate::face::{Aligned, FaceDetector, Framing, align, frame};
use crate::imaging::{center_square, load_photo};
use crate::model::Generator;

/// A photo's handle inside one workspace (never reused after the photo is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhotoId(pub u64);

/// How the face was found in the photo.
#[derive(Debug, Clone)]
pub struct FaceChoice {
    /// Faces found (largest first); 0 when none was found or detection was not asked for.
    pub found: usize,
    /// The face in use.
    pub index: usize,
    /// The FFHQ alignment of that face (crop square in the photo), absent for a centre crop.
    pub aligned: Option<Aligned>,
}

/// The generator a photo was tuned into (shared by the photos tuned together), and the codes
/// that reproduce the photo with it: the pivot and the tuned generator's own activation at K,
/// so `G_tuned(pivot, F) = G_tuned(pivot)` and slider edits follow the tuned generator.
#[derive(Clone)]
pub struct Personalization {
    pub generator: Arc<Generator>,
    pub codes: Codes,
    /// The photos tuned together into `generator` (this one among them).
    pub tuned_with: Vec<PhotoId>,
    pub steps: usize,
    pub seconds: f64,
    /// The perceptual distance tuning used (its short name).
    pub perceptual: String,
    /// F − G^K(w) of `codes` on `generator`, computed at the first slider move.
    pub residual: OnceLock<Tensor<4>>,
}

pub struct OpenPhoto {
    pub id: PhotoId,
    /// Absolute path of the photo file.
    pub path: PathBuf,
    /// Digest of the file's bytes when it was opened (a changed photo is detected by it);
    /// empty for a face that has no file (drawn from a seed, or mixed from two photos), whose
    /// `path` is then only its name.
    pub digest: String,
    pub framing: Framing,
    pub face: FaceChoice,
    /// The framed photo at the generator's side, `[1,3,R,R]` in [-1,1]: what reconstructions
    /// are measured against and what personalization reproduces. Absent for codes opened
    /// without their photo.
    pub target: Option<Tensor<4>>,
    /// The encoder's codes for the base generator.
    pub codes: Codes,
    /// One value per direction of the active set.
    pub sliders: Vec<f32>,
    pub personalization: Option<Personalization>,
    /// F − G^K(w) of the encoder's codes on the base generator, computed at the first slider
    /// move (every later move is one synthesis).
    pub residual: OnceLock<Tensor<4>>,
}

impl OpenPhoto {
    /// The codes edits start from: the personalized ones when the photo is personalized.
    pub fn active_codes(&self) -> &Codes {
        self.personalization
            .as_ref()
            .map(|p| &p.codes)
            .unwrap_or(&self.codes)
    }

    /// Eq. 1's residual F − G^K(w) for the active codes on `generator` (the photo's own one),
    /// computed once.
    pub fn active_residual(
        &self,
        generator: &Generator,
        noise: &crate::model::NoiseMode,
    ) -> anyhow::Result<Tensor<4>> {
        if let Some(r) = self.cached_residual() {
            return Ok(r);
        }
        let r = crate::edit::feature_edit::feature_residual(generator, self.active_codes(), noise)?;
        Ok(self.residual_cell().get_or_init(|| r).clone())
    }

    /// The residual of the active codes when a slider move has computed it already.
    pub fn cached_residual(&self) -> Option<Tensor<4>> {
        self.residual_cell().get().cloned()
    }

    fn residual_cell(&self) -> &OnceLock<Tensor<4>> {
        match &self.personalization {
            Some(p) => &p.residual,
            None => &self.residual,
        }
    }

    /// The file name without its extension (the base of export names).
    pub fn stem(&self) -> String {
        if self.digest.is_empty() {
            // a generated face: its whole name ("seed 7 (psi 0.70)") made file-safe
            let name = file_safe(&self.name());
            return if name.is_empty() { "face".into() } else { name };
        }
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "photo".into())
    }

    /// The slider values as (direction, α) pairs, zeros left out.
    pub fn slider_pairs(&self) -> Vec<(usize, f32)> {
        self.sliders
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(i, v)| (i, *v))
            .collect()
    }

    /// The framed photo, or why there is none.
    pub fn target(&self) -> anyhow::Result<&Tensor<4>> {
        self.target
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the photo of {} is not at hand", self.name()))
    }

    /// A short name for messages: the file name.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string())
    }
}

/// A 64-bit FNV-1a digest of a file's bytes, as hex.
pub fn file_digest(path: &Path) -> std::io::Result<String> {
    let bytes = crate::weights::read_regular_file(path)?;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    Ok(format!("{h:016x}"))
}

/// A photo read from disk and framed at `side`: its absolute path, digest, crop and face.
pub struct FramedPhoto {
    pub path: PathBuf,
    pub digest: String,
    pub crop: image::RgbImage,
    pub face: FaceChoice,
}

/// Reads `path` and frames face number `face` as `framing` says (the detector finds faces for
/// `Framing::Auto`; without one, or without a face, the centre square is used).
pub fn read_and_frame(
    path: &Path,
    side: u32,
    framing: Framing,
    detector: Option<&FaceDetector>,
    face: usize,
) -> anyhow::Result<FramedPhoto> {
    let img = load_photo(path)?;
    let framed = frame(&img, side, framing, detector, face);
    Ok(FramedPhoto {
        path: absolute(path),
        digest: file_digest(path)?,
        crop: framed.crop,
        face: FaceChoice {
            found: framed.faces,
            index: framed.face,
            aligned: framed.aligned,
        },
    })
}

/// Reads `path` and frames it exactly as it was framed before (the stored crop square, or the
/// centre square), without detecting again.
pub fn reframe(path: &Path, side: u32, aligned: Option<&Aligned>) -> anyhow::Result<RgbCrop> {
    let img = load_photo(path)?;
    if let Some(a) = aligned
        && !a.quad.fits_photo(img.width(), img.height())
    {
        anyhow::bail!(
            "the stored crop square does not fit the {}×{} photo",
            img.width(),
            img.height()
        );
    }
    Ok(match aligned {
        Some(a) => {
            let again = align(&img, a.quad, side);
            RgbCrop {
                crop: again.image.clone(),
                aligned: Some(again),
            }
        }
        None => RgbCrop {
            crop: center_square(&img, side),
            aligned: None,
        },
    })
}

/// A crop made again from a stored alignment.
pub struct RgbCrop {
    pub crop: image::RgbImage,
    pub aligned: Option<Aligned>,
}

/// `path` made absolute (canonical when it exists), so it resolves from any folder.
pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}

/// `name` with every run of characters other than ASCII letters and digits made one `_`
/// (none at the ends).
pub fn file_safe(name: &str) -> String {
    let words: Vec<&str> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.join("_")
}
