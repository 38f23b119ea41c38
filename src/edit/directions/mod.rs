//! Semantic directions for the sliders: our set format, published imports (InterFaceGAN,
//! GANSpace), and directions computed from any loaded generator (SeFa, GANSpace).

pub mod eigen;
pub mod ganspace;
pub mod import;
pub mod pick;
pub mod sefa;
pub mod set;

pub use set::{Direction, DirectionError, DirectionInfo, DirectionSet, Owner};
