//! face-api's attribute networks (MIT): age and gender, and facial expression, both reading a
//! 112² face crop. They label generated faces for InterFaceGAN boundaries.

pub mod age_gender;
pub mod expression;
pub mod tf_layers;

use burn::tensor::Tensor;

pub use age_gender::{AgeGender, AgeGenderNet};
pub use expression::{EXPRESSIONS, ExpressionNet};

use super::face_id::FACE_API_MEAN_RGB;
use super::loader::tensor_from_vec;

/// Input side of both networks.
pub const ATTRIBUTE_SIDE: usize = 112;

/// face-api's input normalization: the dataset mean subtracted, divided by 255.
fn normalize(faces: Tensor<4>) -> Tensor<4> {
    let mean = tensor_from_vec(FACE_API_MEAN_RGB.to_vec(), [1, 3, 1, 1], &faces.device());
    (faces - mean).div_scalar(255.0)
}
