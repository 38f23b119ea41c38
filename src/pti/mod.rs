//! Pivotal Tuning Inversion ("Personalize"): tune the generator around a pivot code so it
//! reproduces one photo, keeping edits meaningful.

pub mod adam;
pub mod perceptual;
pub mod projector;
pub mod tuning;

pub use perceptual::Perceptual;
pub use projector::{ProjectionConfig, project};
pub use tuning::{
    CancelToken, Locality, TuningConfig, TuningError, TuningProgress, pivotal_tuning,
};
