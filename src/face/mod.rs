//! Face analysis: detection with landmarks (MTCNN).

pub mod detect;

pub use detect::{Face, FaceDetector};
