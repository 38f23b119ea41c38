//! Face analysis: detection with landmarks (MTCNN), FFHQ alignment, paste-back.

pub mod align;
pub mod detect;
pub mod paste;

pub use align::{Aligned, Quad, align};
pub use detect::{Face, FaceDetector};
pub use paste::paste_back;
