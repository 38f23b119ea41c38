//! Model maths in burn: no I/O, every call batched, any backend (the device decides).

mod cpu_autodiff;
mod cpu_autodiff_demod;
mod cpu_autodiff_epilogue;
pub mod cpu_conv;
mod cpu_f16_rows;
mod cpu_few_columns;
pub mod cpu_fir;
pub mod cpu_modulated_conv;
pub mod cpu_pool;
pub mod cpu_tensor;
mod cpu_weight_cache;
mod cpu_winograd;
pub mod discriminator_trunk;
pub mod encoder;
pub mod equal_linear;
pub mod face_attributes;
pub mod face_id;
pub mod generator;
pub mod generator_config;
pub mod loader;
pub mod lpips;
pub mod mapping;
pub mod modulated_conv;
pub mod mtcnn;
pub mod noise;
pub mod random_init;
pub mod resample;
pub mod styled_conv;
pub mod to_rgb;
pub mod unit_feature_distance;
pub mod upfirdn;

pub use generator::{FeatureInjection, Generator, Synthesis};
pub use generator_config::GeneratorConfig;
pub use noise::NoiseMode;

/// A model call with inputs that do not fit the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("invalid layer: {0}")]
    Layer(String),
}
