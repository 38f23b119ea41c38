//! Editing on top of the models: FSE inversion, codes, Eq. 1 feature correction, mixing.

pub mod codes;
pub mod directions;
pub mod feature_edit;
pub mod inversion;
pub mod mixing;

pub use codes::Codes;
