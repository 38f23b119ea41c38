//! Face analysis: detection with landmarks (MTCNN), FFHQ alignment, paste-back, identity.

pub mod align;
pub mod detect;
pub mod identity;
pub mod paste;

pub use align::{Aligned, Quad, align};
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

/// The square crop of `photo` the model sees, and the alignment when a face was found.
pub fn frame(
    photo: &image::RgbImage,
    size: u32,
    framing: Framing,
    detector: Option<&FaceDetector>,
) -> (image::RgbImage, Option<Aligned>) {
    if let (Framing::Auto, Some(d)) = (framing, detector)
        && let Some(face) = d.detect(photo).first()
    {
        let aligned = align(photo, Quad::ffhq(&face.landmarks), size);
        return (aligned.image.clone(), Some(aligned));
    }
    (crate::imaging::center_square(photo, size), None)
}
