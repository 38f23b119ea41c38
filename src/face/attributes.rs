//! Attribute scores of faces — age, gender and expression by face-api's networks on the face
//! box of FFHQ-aligned crops — and the named attributes InterFaceGAN boundaries are fit to.

use std::path::Path;

use burn::tensor::{Device, Tensor};
use image::RgbImage;

use crate::imaging::rgb_images_to_tensor_255;
use crate::model::face_attributes::{ATTRIBUTE_SIDE, AgeGenderNet, EXPRESSIONS, ExpressionNet};
use crate::model::face_id::face_box_crop;
use crate::model::loader::tensor_to_vec;
use crate::weights::{self, WeightsError};

/// What face-api's networks say about one face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttributeScores {
    /// Years.
    pub age: f32,
    /// Probability that the face is male (face-api's gender head; 1 − it is female).
    pub male: f32,
    /// Probabilities of [`EXPRESSIONS`].
    pub expression: [f32; 7],
}

/// An attribute a slider can be trained for (+ = more of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Attribute {
    /// The "happy" expression probability.
    #[value(alias = "happy")]
    Smile,
    /// Estimated age in years.
    Age,
    /// Probability of a male face (+ = more male).
    Gender,
    Neutral,
    Sad,
    Angry,
    Fearful,
    Disgusted,
    Surprised,
}

impl Attribute {
    pub const ALL: [Attribute; 9] = [
        Attribute::Smile,
        Attribute::Age,
        Attribute::Gender,
        Attribute::Neutral,
        Attribute::Sad,
        Attribute::Angry,
        Attribute::Fearful,
        Attribute::Disgusted,
        Attribute::Surprised,
    ];

    /// Slider name.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::Smile => "Smile",
            Attribute::Age => "Age",
            Attribute::Gender => "Gender",
            Attribute::Neutral => "Neutral",
            Attribute::Sad => "Sad",
            Attribute::Angry => "Angry",
            Attribute::Fearful => "Fearful",
            Attribute::Disgusted => "Disgusted",
            Attribute::Surprised => "Surprised",
        }
    }

    /// The score this attribute reads.
    pub fn value(self, s: &AttributeScores) -> f32 {
        let expression = |label: &str| {
            let i = EXPRESSIONS
                .iter()
                .position(|e| *e == label)
                .expect("a face-api expression");
            s.expression[i]
        };
        match self {
            Attribute::Smile => expression("happy"),
            Attribute::Age => s.age,
            Attribute::Gender => s.male,
            Attribute::Neutral => expression("neutral"),
            Attribute::Sad => expression("sad"),
            Attribute::Angry => expression("angry"),
            Attribute::Fearful => expression("fearful"),
            Attribute::Disgusted => expression("disgusted"),
            Attribute::Surprised => expression("surprised"),
        }
    }
}

/// The age/gender and expression networks together.
#[derive(Clone)]
pub struct AttributeNets {
    age_gender: AgeGenderNet,
    expression: ExpressionNet,
}

impl AttributeNets {
    /// From the two converted safetensors files.
    pub fn load(
        age_gender: &Path,
        expression: &Path,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        Ok(Self {
            age_gender: AgeGenderNet::load(&weights::read_safetensors(age_gender)?, device)?,
            expression: ExpressionNet::load(&weights::read_safetensors(expression)?, device)?,
        })
    }

    /// Scores of `[B, 3, 112, 112]` RGB faces with values in [0, 255].
    pub fn score_faces(&self, faces: Tensor<4>) -> Vec<AttributeScores> {
        let b = faces.dims()[0];
        if b == 0 {
            return Vec::new();
        }
        let ag = self.age_gender.forward(faces.clone());
        let age = tensor_to_vec(ag.age);
        let gender = tensor_to_vec(ag.gender);
        let expression = tensor_to_vec(self.expression.forward(faces));
        (0..b)
            .map(|i| AttributeScores {
                age: age[i],
                male: gender[2 * i],
                expression: expression[7 * i..7 * i + 7]
                    .try_into()
                    .expect("seven expressions"),
            })
            .collect()
    }

    /// Scores of FFHQ-aligned `[B, 3, H, W]` images in [-1, 1] (their face box, bilinear).
    pub fn score_aligned(&self, images: Tensor<4>) -> Vec<AttributeScores> {
        self.score_faces(face_box_crop(images, ATTRIBUTE_SIDE))
    }

    /// Scores of face crops that are already 112² (as face-api is given them).
    pub fn score_crops(&self, crops: &[RgbImage], device: &Device) -> Vec<AttributeScores> {
        let s = ATTRIBUTE_SIDE as u32;
        for img in crops {
            assert_eq!(img.dimensions(), (s, s), "crops are 112×112");
        }
        if crops.is_empty() {
            return Vec::new();
        }
        self.score_faces(rgb_images_to_tensor_255(crops, device))
    }
}
