//! Identity similarity: the face-api recognition network's 128-d embedding of the face region
//! of an FFHQ-aligned crop, compared by cosine similarity (the papers' "ID" column).

use std::path::Path;

use burn::tensor::Device;
use image::RgbImage;
use image::imageops::FilterType;

use crate::model::face_id::{FACE_BOX, FACE_ID_SIDE, FaceIdNet};
use crate::model::loader::{tensor_from_vec, tensor_to_vec};
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
        let s = FACE_ID_SIDE;
        let mut values = vec![0f32; aligned.len() * 3 * s * s];
        for (i, img) in aligned.iter().enumerate() {
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
            let face = image::imageops::resize(&face, s as u32, s as u32, FilterType::Triangle);
            for (x, y, p) in face.enumerate_pixels() {
                for c in 0..3 {
                    values[((i * 3 + c) * s + y as usize) * s + x as usize] = p.0[c] as f32;
                }
            }
        }
        let emb = tensor_to_vec(self.net.embed(tensor_from_vec(
            values,
            [aligned.len(), 3, s, s],
            &self.device,
        )));
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
