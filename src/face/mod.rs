//! Face analysis: detection with landmarks (MTCNN), FFHQ alignment, paste-back, identity.

pub mod align;
pub mod attributes;
pub mod detect;
pub mod identity;
pub mod paste;

pub use align::{Aligned, Quad, align};
pub use attributes::{Attribute, AttributeNets, AttributeScores};
pub use detect::{Face, FaceDetector};
pub use identity::IdentityNet;
pub use paste::paste_back;

/// How a photo becomes the model's square input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Framing {
    /// Detect the largest face and FFHQ-align it; centre crop (with a warning) if none is found.
    Auto,
    /// Use the photo as it is (centre square): for photos that are already aligned crops.
    CenterCrop,
}

/// The square crop the model sees for one photo.
pub struct Framed {
    pub crop: image::RgbImage,
    /// The alignment, when a face was found.
    pub aligned: Option<Aligned>,
    /// Faces found in the photo (largest first); `face` indexes them.
    pub faces: usize,
    pub face: usize,
}

/// Frames `photo`: face number `face` (largest first, wrapping) FFHQ-aligned, else the centre square.
pub fn frame(
    photo: &image::RgbImage,
    size: u32,
    framing: Framing,
    detector: Option<&FaceDetector>,
    face: usize,
) -> Framed {
    if let (Framing::Auto, Some(d)) = (framing, detector) {
        let faces = d.detect(photo);
        if !faces.is_empty() {
            let face = face % faces.len();
            let aligned = align(photo, Quad::ffhq(&faces[face].landmarks), size);
            return Framed {
                crop: aligned.image.clone(),
                aligned: Some(aligned),
                faces: faces.len(),
                face,
            };
        }
    }
    Framed {
        crop: crate::imaging::center_square(photo, size),
        aligned: None,
        faces: 0,
        face: 0,
    }
}
