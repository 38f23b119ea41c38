//! Identity similarity: the face-api recognition network's 128-d embedding of the face region
//! of an FFHQ-aligned crop, compared by cosine similarity (the papers' "ID" column).

use std::path::Path;

use burn::tensor::Device;
use image::RgbImage;
use image::imageops::FilterType;

use crate::imaging::rgb_images_to_tensor_255;
use crate::model::face_id::{FACE_BOX, FACE_ID_SIDE, FaceIdNet};
use crate::model::loader::tensor_to_vec;
use crate::weights::{self, WeightsError};

pub struct IdentityNet {
    net: FaceIdNet,
    device: Device,
}

impl IdentityNet {
    pub fn load(path: &Path, device: &Device) -> Result<Self, WeightsError> {
        Ok(Self {
            net: FaceIdNet::load(&weights::read_safetensors(path)?, device)?,
            device: device.clone(),
        })
    }

    /// Unit-length embeddings of FFHQ-aligned crops.
    pub fn embed(&self, aligned: &[RgbImage]) -> Vec<Vec<f32>> {
        if aligned.is_empty() {
            return Vec::new();
        }
        let s = FACE_ID_SIDE as u32;
        let faces: Vec<RgbImage> = aligned
            .iter()
            .map(|img| {
                let (w, h) = (img.width() as f32, img.height() as f32);
                let [x0, y0, x1, y1] = FACE_BOX;
                let face = image::imageops::crop_imm(
                    img,
                    (x0 * w) as u32,
                    (y0 * h) as u32,
                    ((x1 - x0) * w) as u32,
                    ((y1 - y0) * h) as u32,
                )
                .to_image();
                image::imageops::resize(&face, s, s, FilterType::Triangle)
            })
            .collect();
        let emb = tensor_to_vec(
            self.net
                .embed(rgb_images_to_tensor_255(&faces, &self.device)),
        );
        emb.chunks_exact(128)
            .map(|e| {
                let n = e.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                e.iter().map(|v| v / n).collect()
            })
            .collect()
    }

    /// Cosine similarity of the identities of two aligned crops (1 = same embedding).
    pub fn similarity(&self, a: &RgbImage, b: &RgbImage) -> f32 {
        let e = self.embed(&[a.clone(), b.clone()]);
        e[0].iter().zip(&e[1]).map(|(x, y)| x * y).sum()
    }
}
