//! Semantic directions for the sliders: our set format, published imports (InterFaceGAN,
//! GANSpace), directions computed from any loaded generator (SeFa, GANSpace) and attribute
//! boundaries trained on it (InterFaceGAN with face-api's attribute networks).

pub mod eigen;
pub mod ganspace;
pub mod import;
pub mod interfacegan;
pub mod pick;
pub mod sefa;
pub mod set;

pub use set::{Direction, DirectionError, DirectionInfo, DirectionSet, Owner};
